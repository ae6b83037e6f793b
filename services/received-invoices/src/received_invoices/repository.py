"""Queries of received-invoices: the directory, delegations, invoices and their history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from received_invoices.db import delegations, invoice_history, invoices, structure_services, structures
from received_invoices.domain import Coverage, InvoiceStatus, Scope

ACTIVE = "ACTIVE"
REVOKED = "REVOKED"


async def get_structure(conn: AsyncConnection, structure_id: str, lock: bool = False) -> RowMapping | None:
    query = sa.select(structures).where(structures.c.id == structure_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).mappings().first()


async def get_service(conn: AsyncConnection, structure_id: str, code: str) -> RowMapping | None:
    query = sa.select(structure_services).where(
        structure_services.c.structure_id == structure_id, structure_services.c.code == code
    )
    return (await conn.execute(query)).mappings().first()


async def active_service_codes(conn: AsyncConnection, structure_id: str) -> set[str]:
    rows = await conn.execute(
        sa.select(structure_services.c.code).where(
            structure_services.c.structure_id == structure_id, structure_services.c.active.is_(True)
        )
    )
    return set(rows.scalars())


def coverage_of(row: RowMapping) -> Coverage:
    return Coverage(Scope(row["scope"]), frozenset(row["service_codes"]), row["start_date"], row["end_date"])


async def active_coverages(conn: AsyncConnection, delegator_id: str) -> list[tuple[str, Coverage]]:
    rows = await conn.execute(
        sa.select(delegations).where(
            delegations.c.delegator_structure_id == delegator_id, delegations.c.status == ACTIVE
        )
    )
    return [(str(row["id"]), coverage_of(row)) for row in rows.mappings()]


async def covering_delegation(
    conn: AsyncConnection, recipient_id: str, service_code: str | None, day: date
) -> RowMapping | None:
    """The active delegation covering a recipient structure/service on a day (at most one exists)."""
    scope_matches = delegations.c.scope == Scope.STRUCTURE
    if service_code is not None:
        scope_matches = sa.or_(
            scope_matches, sa.literal(service_code) == sa.any_(delegations.c.service_codes)
        )
    query = (
        sa.select(delegations)
        .where(
            delegations.c.delegator_structure_id == recipient_id,
            delegations.c.status == ACTIVE,
            delegations.c.start_date <= day,
            sa.or_(delegations.c.end_date.is_(None), delegations.c.end_date >= day),
            scope_matches,
        )
        .limit(1)
    )
    return (await conn.execute(query)).mappings().first()


async def insert_invoice_once(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """Insert unless the supplier already sent this external id; True if inserted."""
    result = await conn.execute(
        insert(invoices)
        .values(**values)
        .on_conflict_do_nothing(constraint="uq_received_invoice_external_id")
        .returning(invoices.c.id)
    )
    return result.first() is not None


async def find_invoice(conn: AsyncConnection, supplier_id: str, external_id: str) -> RowMapping | None:
    query = sa.select(invoices).where(
        invoices.c.supplier_structure_id == supplier_id, invoices.c.external_id == external_id
    )
    return (await conn.execute(query)).mappings().first()


async def get_invoice(conn: AsyncConnection, invoice_id: uuid.UUID, lock: bool = False) -> RowMapping | None:
    query = sa.select(invoices).where(invoices.c.id == invoice_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).mappings().first()


@dataclass(frozen=True)
class HistoryEntry:
    action: str
    from_status: str | None
    to_status: str
    actor: str
    actor_structure_id: str
    capacity: str
    reason: str | None
    at: datetime


async def add_history(conn: AsyncConnection, invoice_id: uuid.UUID, entry: HistoryEntry) -> None:
    await conn.execute(invoice_history.insert().values(invoice_id=invoice_id, **entry.__dict__))


async def get_history(conn: AsyncConnection, invoice_id: uuid.UUID) -> list[RowMapping]:
    rows = await conn.execute(
        sa.select(invoice_history)
        .where(invoice_history.c.invoice_id == invoice_id)
        .order_by(invoice_history.c.id)
    )
    return list(rows.mappings())


def work_list(name: str, structures_ids: frozenset[str]) -> sa.ColumnElement[bool]:
    mine = list(structures_ids)
    if name == "to-validate":
        return sa.and_(
            invoices.c.delegate_structure_id.in_(mine), invoices.c.status == InvoiceStatus.A_VALIDER_1
        )
    if name == "received":
        return sa.and_(invoices.c.recipient_structure_id.in_(mine), invoices.c.with_recipient.is_(True))
    return invoices.c.supplier_structure_id.in_(mine)


async def page_of(
    conn: AsyncConnection,
    table: sa.Table,
    conditions: list[sa.ColumnElement[bool]],
    order: sa.ColumnElement[Any],
    offset: int,
    limit: int,
) -> tuple[list[RowMapping], int]:
    total = await conn.scalar(sa.select(sa.func.count()).select_from(table).where(*conditions))
    rows = await conn.execute(sa.select(table).where(*conditions).order_by(order).offset(offset).limit(limit))
    return list(rows.mappings()), int(total or 0)
