"""Every SQL statement of the directory: structures, services, users and their attachments, and the
delegations received-invoices publishes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.db import fetch_page
from chorus_common.events import DelegationSnapshot
from directory.db import attachments, delegations, services, structures, technical_accounts, users
from directory.domain import Role

NO_SERVICE = ""  # how `attachments.service_code` stores "the structure itself"


# Structures


async def insert_structure(conn: AsyncConnection, values: dict[str, Any]) -> RowMapping | None:
    """Insert a new structure (version 1); None when its identifier is already registered."""
    inserted = await conn.execute(
        insert(structures)
        .values(**values, version=1)
        .on_conflict_do_nothing(index_elements=[structures.c.structure_id])
        .returning(structures)
    )
    return inserted.mappings().first()


async def get_structure(conn: AsyncConnection, structure_id: str, lock: bool = False) -> RowMapping | None:
    query = sa.select(structures).where(structures.c.structure_id == structure_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).mappings().first()


async def existing_structures(conn: AsyncConnection, structure_ids: list[str]) -> dict[str, RowMapping]:
    """The registered structures among `structure_ids`, locked, by identifier."""
    rows = await conn.execute(
        sa.select(structures).where(structures.c.structure_id.in_(structure_ids)).with_for_update()
    )
    return {row["structure_id"]: row for row in rows.mappings()}


async def update_structure(conn: AsyncConnection, structure_id: str, values: dict[str, Any]) -> RowMapping:
    """Apply `values` and move the structure to its next version."""
    updated = await conn.execute(
        structures.update()
        .where(structures.c.structure_id == structure_id)
        .values(**values, version=structures.c.version + 1)
        .returning(structures)
    )
    return updated.mappings().one()


async def list_structures(
    conn: AsyncConnection,
    identifier: str | None,
    name: str | None,
    kind: str | None,
    offset: int,
    limit: int,
) -> tuple[list[RowMapping], int]:
    where: list[sa.ColumnElement[bool]] = []
    if identifier is not None:
        where.append(structures.c.structure_id == identifier)
    if name is not None:
        escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(structures.c.name.ilike(f"%{escaped}%", escape="\\"))
    if kind is not None:
        where.append(structures.c.kind == kind)
    order = [structures.c.name, structures.c.structure_id]
    return await fetch_page(conn, structures, where, order, offset, limit)


# Services


async def insert_service(conn: AsyncConnection, values: dict[str, Any]) -> RowMapping | None:
    inserted = await conn.execute(
        insert(services).values(**values, version=1).on_conflict_do_nothing().returning(services)
    )
    return inserted.mappings().first()


async def get_service(
    conn: AsyncConnection, structure_id: str, code: str, lock: bool = False
) -> RowMapping | None:
    query = sa.select(services).where(services.c.structure_id == structure_id, services.c.code == code)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).mappings().first()


async def update_service(
    conn: AsyncConnection, structure_id: str, code: str, values: dict[str, Any]
) -> RowMapping:
    updated = await conn.execute(
        services.update()
        .where(services.c.structure_id == structure_id, services.c.code == code)
        .values(**values, version=services.c.version + 1)
        .returning(services)
    )
    return updated.mappings().one()


async def list_services(conn: AsyncConnection, structure_id: str) -> list[RowMapping]:
    rows = await conn.execute(
        sa.select(services).where(services.c.structure_id == structure_id).order_by(services.c.code)
    )
    return list(rows.mappings())


# Users and attachments


async def get_user(conn: AsyncConnection, sub: str, lock: bool = False) -> RowMapping | None:
    query = sa.select(users).where(users.c.sub == sub)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).mappings().first()


async def save_user(conn: AsyncConnection, sub: str, email: str, name: str, at: datetime) -> RowMapping:
    """Create the user at version 1, or move it to its next version with this e-mail and name."""
    saved = await conn.execute(
        insert(users)
        .values(sub=sub, email=email, name=name, version=1, updated_at=at)
        .on_conflict_do_update(
            index_elements=[users.c.sub],
            set_={"email": email, "name": name, "version": users.c.version + 1, "updated_at": at},
        )
        .returning(users)
    )
    return saved.mappings().one()


def _attachment(row: RowMapping) -> dict[str, Any]:
    return {**row, "service_code": row["service_code"] or None}


async def user_attachments(conn: AsyncConnection, sub: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(attachments)
        .where(attachments.c.sub == sub)
        .order_by(attachments.c.structure_id, attachments.c.service_code)
    )
    return [_attachment(row) for row in rows.mappings()]


async def structure_users(conn: AsyncConnection, structure_id: str) -> list[dict[str, Any]]:
    """Each attachment to the structure or its services, with the user's e-mail and name."""
    rows = await conn.execute(
        sa.select(attachments, users.c.email, users.c.name)
        .join(users, users.c.sub == attachments.c.sub)
        .where(attachments.c.structure_id == structure_id)
        .order_by(attachments.c.service_code, attachments.c.sub)
    )
    return [_attachment(row) for row in rows.mappings()]


async def principal_manager(conn: AsyncConnection, structure_id: str) -> str | None:
    return (
        await conn.execute(
            sa.select(attachments.c.sub).where(
                attachments.c.structure_id == structure_id,
                attachments.c.role == Role.GESTIONNAIRE_PRINCIPAL,
            )
        )
    ).scalar()


async def save_attachment(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """Attach the user, or change the role and setting of the attachment it has there."""
    row = {**values, "service_code": values["service_code"] or NO_SERVICE}
    await conn.execute(
        insert(attachments)
        .values(**row)
        .on_conflict_do_update(
            constraint="uq_attachment",
            set_={"role": row["role"], "notifications": row["notifications"]},
        )
    )


async def delete_attachments(
    conn: AsyncConnection, sub: str, structure_id: str, service_code: str | None
) -> int:
    """Detach the user from one service, or (service_code None) from the structure and its services."""
    where = [attachments.c.sub == sub, attachments.c.structure_id == structure_id]
    if service_code is not None:
        where.append(attachments.c.service_code == service_code)
    return (await conn.execute(attachments.delete().where(*where))).rowcount


# Technical accounts


async def insert_technical_account(conn: AsyncConnection, values: dict[str, Any]) -> RowMapping:
    inserted = await conn.execute(technical_accounts.insert().values(**values).returning(technical_accounts))
    return inserted.mappings().one()


async def list_technical_accounts(conn: AsyncConnection, structure_id: str) -> list[RowMapping]:
    rows = await conn.execute(
        sa.select(technical_accounts)
        .where(technical_accounts.c.structure_id == structure_id)
        .order_by(technical_accounts.c.created_at, technical_accounts.c.login)
    )
    return list(rows.mappings())


async def deactivate_technical_account(
    conn: AsyncConnection, structure_id: str, login: str, at: datetime
) -> tuple[RowMapping | None, bool]:
    """Deactivate it, and whether that changed it (a second time keeps the first date and version);
    None if the structure has no such login."""
    of_structure = (technical_accounts.c.structure_id == structure_id, technical_accounts.c.login == login)
    updated = await conn.execute(
        technical_accounts.update()
        .where(*of_structure, technical_accounts.c.active)
        .values(active=False, deactivated_at=at, version=technical_accounts.c.version + 1, updated_at=at)
        .returning(technical_accounts)
    )
    row = updated.mappings().first()
    if row is not None:
        return row, True
    kept = await conn.execute(sa.select(technical_accounts).where(*of_structure))
    return kept.mappings().first(), False


# The whole directory, for the replay command


async def _stream(conn: AsyncConnection, table: sa.Table, chunk: int) -> AsyncIterator[RowMapping]:
    order = list(table.primary_key.columns)
    result = await conn.stream(sa.select(table).order_by(*order).execution_options(yield_per=chunk))
    async for row in result.mappings():
        yield row


def stream_structures(conn: AsyncConnection, chunk: int = 500) -> AsyncIterator[RowMapping]:
    """Every structure in key order, read `chunk` rows at a time."""
    return _stream(conn, structures, chunk)


def stream_services(conn: AsyncConnection, chunk: int = 500) -> AsyncIterator[RowMapping]:
    return _stream(conn, services, chunk)


def stream_technical_accounts(conn: AsyncConnection, chunk: int = 500) -> AsyncIterator[RowMapping]:
    return _stream(conn, technical_accounts, chunk)


async def stream_users(conn: AsyncConnection, chunk: int = 500) -> AsyncIterator[dict[str, Any]]:
    """Every user with its attachments (as `user_attachments` gives them), in one query."""
    attached = (
        sa.select(
            attachments.c.sub,
            sa.func.jsonb_agg(
                sa.func.jsonb_build_object(
                    "structure_id",
                    attachments.c.structure_id,
                    "service_code",
                    sa.func.nullif(attachments.c.service_code, NO_SERVICE),
                    "role",
                    attachments.c.role,
                    "notifications",
                    attachments.c.notifications,
                )
            ).label("attachments"),
        )
        .group_by(attachments.c.sub)
        .subquery()
    )
    query = (
        sa.select(
            users, sa.func.coalesce(attached.c.attachments, sa.text("'[]'::jsonb")).label("attachments")
        )
        .outerjoin(attached, attached.c.sub == users.c.sub)
        .order_by(users.c.sub)
        .execution_options(yield_per=chunk)
    )
    result = await conn.stream(query)
    async for row in result.mappings():
        yield dict(row)


# Delegations of received invoices (received-invoices' snapshots)


async def apply_delegation(conn: AsyncConnection, snapshot: DelegationSnapshot) -> None:
    """Keep the delegation as its snapshot says, unless a newer one is already kept."""
    values = snapshot.model_dump(include=set(delegations.c.keys()))
    statement = insert(delegations).values(**values)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[delegations.c.delegation_id],
            set_={name: statement.excluded[name] for name in values if name != "delegation_id"},
            where=delegations.c.version < statement.excluded.version,
        )
    )


async def delegated_validators(conn: AsyncConnection, structure_ids: list[str], day: date) -> set[str]:
    """Those of `structure_ids` that an active delegation designates as delegated validator on `day`."""
    if not structure_ids:
        return set()
    rows = await conn.execute(
        sa.select(delegations.c.delegate_structure_id)
        .distinct()
        .where(
            delegations.c.delegate_structure_id.in_(structure_ids),
            delegations.c.status == "ACTIVE",
            delegations.c.start_date <= day,
            sa.or_(delegations.c.end_date.is_(None), delegations.c.end_date >= day),
        )
    )
    return set(rows.scalars())
