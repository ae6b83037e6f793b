"""Every SQL statement of the gateway: its read models, its client applications, its integer ids."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.db import fetch_page
from chorus_common.events import (
    EngagementStatusChanged,
    InvoiceStatusChanged,
    TechnicalAccountSnapshot,
    WorksInvoiceStatusChanged,
)
from chorus_common.replica import upsert_if_newer
from piste_gateway.db import (
    clients,
    engagements,
    flows,
    invoice_history,
    invoices,
    numbers,
    replica,
    technical_accounts,
    works_invoices,
)


async def apply_technical_account(conn: AsyncConnection, snapshot: TechnicalAccountSnapshot) -> bool:
    values = snapshot.model_dump(include=set(technical_accounts.c.keys()))
    return await upsert_if_newer(conn, technical_accounts, ["login"], values)


async def technical_account(conn: AsyncConnection, login: str) -> RowMapping | None:
    rows = await conn.execute(sa.select(technical_accounts).where(technical_accounts.c.login == login))
    return rows.mappings().first()


async def insert_client(conn: AsyncConnection, values: dict[str, Any]) -> RowMapping:
    inserted = await conn.execute(clients.insert().values(**values).returning(clients))
    return inserted.mappings().one()


async def client(conn: AsyncConnection, client_id: str) -> RowMapping | None:
    rows = await conn.execute(sa.select(clients).where(clients.c.client_id == client_id))
    return rows.mappings().first()


async def list_clients(conn: AsyncConnection) -> list[RowMapping]:
    rows = await conn.execute(sa.select(clients).order_by(clients.c.created_at, clients.c.client_id))
    return list(rows.mappings())


async def deactivate_client(conn: AsyncConnection, client_id: str) -> RowMapping | None:
    updated = await conn.execute(
        clients.update().where(clients.c.client_id == client_id).values(active=False).returning(clients)
    )
    return updated.mappings().first()


async def numbers_of(conn: AsyncConnection, kind: str, keys: Iterable[str]) -> dict[str, int]:
    """The integer of each key of `kind`, given to it now if it has none yet (and kept ever after)."""
    wanted = sorted(set(keys))
    found = await _numbers(conn, kind, wanted)
    missing = [key for key in wanted if key not in found]
    if missing:
        # Only the new keys: an insert that conflicts still spends a number of the sequence.
        await conn.execute(
            insert(numbers).values([{"kind": kind, "key": key} for key in missing]).on_conflict_do_nothing()
        )
        found.update(await _numbers(conn, kind, missing))
    return found


async def _numbers(conn: AsyncConnection, kind: str, keys: list[str]) -> dict[str, int]:
    if not keys:
        return {}
    rows = await conn.execute(
        sa.select(numbers.c.key, numbers.c.number).where(numbers.c.kind == kind, numbers.c.key.in_(keys))
    )
    return {row.key: row.number for row in rows}


async def key_of(conn: AsyncConnection, kind: str, number: int) -> str | None:
    return await conn.scalar(
        sa.select(numbers.c.key).where(numbers.c.kind == kind, numbers.c.number == number)
    )


# The directory's structures and services, as its snapshots describe them.

STRUCTURES = replica.structures
SERVICES = replica.services


async def structure_by_cpp_id(conn: AsyncConnection, cpp_id: int) -> RowMapping | None:
    rows = await conn.execute(sa.select(STRUCTURES).where(STRUCTURES.c.cpp_id == cpp_id))
    return rows.mappings().first()


async def structure(conn: AsyncConnection, structure_id: str) -> RowMapping | None:
    rows = await conn.execute(sa.select(STRUCTURES).where(STRUCTURES.c.structure_id == structure_id))
    return rows.mappings().first()


async def search_structures(
    conn: AsyncConnection,
    *,
    identifier: str | None,
    identifier_type: str | None,
    name: str | None,
    kind: str | None,
    active: bool | None,
    visible_private: str,
    offset: int,
    limit: int,
) -> tuple[list[RowMapping], int]:
    """Structures matching the criteria: every public one, and of private ones only `visible_private`
    (the caller's own), as Chorus Pro shows them."""
    where = [sa.or_(STRUCTURES.c.kind == "PUBLIQUE", STRUCTURES.c.structure_id == visible_private)]
    if identifier:
        where.append(STRUCTURES.c.structure_id == identifier)
    if identifier_type:
        where.append(STRUCTURES.c.identifier_type == identifier_type)
    if name:
        where.append(STRUCTURES.c.name.ilike(f"%{_escaped(name)}%", escape="\\"))
    if kind:
        where.append(STRUCTURES.c.kind == kind)
    if active is not None:
        where.append(STRUCTURES.c.active == active)
    total = await conn.scalar(sa.select(sa.func.count()).select_from(STRUCTURES).where(*where))
    rows = await conn.execute(
        sa.select(STRUCTURES).where(*where).order_by(STRUCTURES.c.cpp_id).offset(offset).limit(limit)
    )
    return list(rows.mappings()), int(total or 0)


async def services_of(
    conn: AsyncConnection, structure_id: str, offset: int, limit: int
) -> tuple[list[RowMapping], int]:
    where = SERVICES.c.structure_id == structure_id
    total = await conn.scalar(sa.select(sa.func.count()).select_from(SERVICES).where(where))
    rows = await conn.execute(
        sa.select(SERVICES).where(where).order_by(SERVICES.c.code).offset(offset).limit(limit)
    )
    return list(rows.mappings()), int(total or 0)


async def service(conn: AsyncConnection, structure_id: str, code: str) -> RowMapping | None:
    rows = await conn.execute(
        sa.select(SERVICES).where(SERVICES.c.structure_id == structure_id, SERVICES.c.code == code)
    )
    return rows.mappings().first()


async def recipients(conn: AsyncConnection) -> list[RowMapping]:
    """Every public structure with each of its services (one row per service, one with no service for
    a structure that has none), as telecharger/annuaire/destinataire lists them."""
    joined = STRUCTURES.outerjoin(SERVICES, SERVICES.c.structure_id == STRUCTURES.c.structure_id)
    rows = await conn.execute(
        sa.select(
            STRUCTURES,
            SERVICES.c.code.label("service_code"),
            SERVICES.c.name.label("service_name"),
            SERVICES.c.active.label("service_active"),
            SERVICES.c.engagement_required.label("service_engagement_required"),
        )
        .select_from(joined)
        .where(STRUCTURES.c.kind == "PUBLIQUE")
        .order_by(STRUCTURES.c.cpp_id, SERVICES.c.code)
    )
    return list(rows.mappings())


def _latest_first(table: sa.Table) -> list[sa.ColumnElement[Any]]:
    """The searches' order: the latest transition first, then the latest numbered."""
    return [table.c.status_at.desc(), table.c.cpp_id.desc()]


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Flows.


async def insert_flow(conn: AsyncConnection, values: dict[str, Any]) -> RowMapping:
    inserted = await conn.execute(flows.insert().values(**values).returning(flows))
    return inserted.mappings().one()


async def flow(conn: AsyncConnection, number: int) -> RowMapping | None:
    rows = await conn.execute(sa.select(flows).where(flows.c.number == number))
    return rows.mappings().first()


async def next_waiting_flow(conn: AsyncConnection, waiting: list[str]) -> RowMapping | None:
    """The oldest flow waiting to be read, locked; one another transaction holds is passed over."""
    rows = await conn.execute(
        sa.select(flows)
        .where(flows.c.status.in_(waiting))
        .order_by(flows.c.number)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return rows.mappings().first()


async def update_flow(conn: AsyncConnection, flow_id: Any, **values: Any) -> None:
    await conn.execute(flows.update().where(flows.c.id == flow_id).values(**values))


async def same_invoice_flow(
    conn: AsyncConnection, flow_id: Any, supplier_id: str, invoice_number: str, ended: list[str]
) -> bool:
    """Whether another flow carried the supplier's invoice of that number, and was not rejected."""
    found = await conn.scalar(
        sa.select(flows.c.id)
        .where(
            flows.c.supplier_id == supplier_id,
            flows.c.invoice_number == invoice_number,
            flows.c.id != flow_id,
            flows.c.status.not_in(ended),
        )
        .limit(1)
    )
    return found is not None


async def end_flow(
    conn: AsyncConnection,
    number: int,
    supplier_id: str,
    from_status: str,
    to_status: str,
    at: datetime,
    **values: Any,
) -> bool:
    """Move the supplier's flow from `from_status` to `to_status` (once: a repeated answer finds it moved)."""
    updated = await conn.execute(
        flows.update()
        .where(flows.c.number == number, flows.c.supplier_id == supplier_id, flows.c.status == from_status)
        .values(status=to_status, status_at=at, **values)
    )
    return bool(updated.rowcount)


# Received invoices, as their status events describe them.


async def _apply_transition(
    conn: AsyncConnection,
    table: sa.Table,
    key: str,
    values: dict[str, Any],
    first_seen: str,
    data: InvoiceStatusChanged | WorksInvoiceStatusChanged | EngagementStatusChanged,
) -> None:
    """A read model's row at this transition (`data`, a status event), unless a later one is known;
    `first_seen` is the instant of the first transition (its deposit, its creation), whichever order
    the events arrive in."""
    await upsert_if_newer(conn, table, [key], values)
    if data.from_status is None:
        await conn.execute(
            table.update()
            .where(table.c[key] == values[key], table.c[first_seen].is_(None))
            .values({first_seen: data.changed_at})
        )


INVOICE = "facture"  # the kind of integer id an invoice gets (identifiantFactureCPP)


async def apply_invoice_status(conn: AsyncConnection, data: InvoiceStatusChanged) -> None:
    """The invoice at this transition, unless a later one is known; the transition in its history."""
    invoice_id = data.invoice_id
    cpp_id = (await numbers_of(conn, INVOICE, [invoice_id]))[invoice_id]
    values = {
        "invoice_id": invoice_id,
        "cpp_id": cpp_id,
        "version": data.sequence,
        "number": data.number,
        "billing_frame": data.billing_frame,
        "status": data.to_status,
        "status_at": data.changed_at,
        "motif": data.motif,
        "external_id": data.external_id,
        "supplier_id": data.supplier_structure_id,
        "recipient_id": data.recipient_structure_id,
        "service_code": data.recipient_service_code,
        "delegate_id": data.delegate_structure_id,
        "amount_ht": data.amount_ht,
        "vat_amount": data.vat_amount,
        "amount_ttc": data.amount_ttc,
        "currency": data.currency,
        "issue_date": data.issue_date,
        "engagement_number": data.engagement_number,
    }
    await _apply_transition(conn, invoices, "invoice_id", values, "deposited_at", data)
    await conn.execute(
        insert(invoice_history)
        .values(
            invoice_id=invoice_id,
            sequence=data.sequence,
            from_status=data.from_status,
            to_status=data.to_status,
            step=data.step,
            capacity=data.capacity,
            actor_structure_id=data.actor_structure_id,
            motif=data.motif,
            at=data.changed_at,
        )
        .on_conflict_do_nothing()
    )


@dataclass(frozen=True)
class InvoiceCriteria:
    """What factures/v1's searches filter on; `party` is the column the caller's structure must fill."""

    party: str  # supplier_id, recipient_id or delegate_id
    structure_id: str
    number: str | None = None
    external_id: str | None = None
    statuses: tuple[str, ...] = ()
    frame: str | None = None
    counterparts: tuple[str, ...] = ()  # the other party's structure ids
    deposited_from: datetime | None = None
    deposited_before: datetime | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    engagement_number: str | None = None


async def search_invoices(
    conn: AsyncConnection, criteria: InvoiceCriteria, offset: int, limit: int
) -> tuple[list[RowMapping], int]:
    where = [invoices.c[criteria.party] == criteria.structure_id]
    if criteria.number:
        where.append(invoices.c.number == criteria.number)
    if criteria.external_id:
        where.append(invoices.c.external_id == criteria.external_id)
    if criteria.statuses:
        where.append(invoices.c.status.in_(criteria.statuses))
    if criteria.frame:
        where.append(invoices.c.billing_frame == criteria.frame)
    if criteria.counterparts:
        other = "supplier_id" if criteria.party != "supplier_id" else "recipient_id"
        where.append(invoices.c[other].in_(criteria.counterparts))
    if criteria.deposited_from:
        where.append(invoices.c.deposited_at >= criteria.deposited_from)
    if criteria.deposited_before:
        where.append(invoices.c.deposited_at < criteria.deposited_before)
    if criteria.issued_from:
        where.append(invoices.c.issue_date >= criteria.issued_from)
    if criteria.issued_to:
        where.append(invoices.c.issue_date <= criteria.issued_to)
    if criteria.engagement_number:
        where.append(invoices.c.engagement_number == criteria.engagement_number)
    return await fetch_page(conn, invoices, where, _latest_first(invoices), offset, limit)


async def invoice_by_cpp_id(conn: AsyncConnection, cpp_id: int) -> RowMapping | None:
    rows = await conn.execute(sa.select(invoices).where(invoices.c.cpp_id == cpp_id))
    return rows.mappings().first()


async def invoice_history_of(conn: AsyncConnection, invoice_id: Any) -> list[RowMapping]:
    rows = await conn.execute(
        sa.select(invoice_history)
        .where(invoice_history.c.invoice_id == invoice_id)
        .order_by(invoice_history.c.sequence)
    )
    return list(rows.mappings())


async def _by(conn: AsyncConnection, column: sa.Column[Any], keys: Iterable[Any]) -> dict[Any, RowMapping]:
    """The rows of `column`'s table whose `column` is one of `keys` (in one query), by that key."""
    wanted = sorted({key for key in keys if key})
    if not wanted:
        return {}
    rows = await conn.execute(sa.select(column.table).where(column.in_(wanted)))
    return {row[column.name]: row for row in rows.mappings()}


async def invoices_by_cpp_id(conn: AsyncConnection, cpp_ids: Iterable[int]) -> dict[int, RowMapping]:
    return await _by(conn, invoices.c.cpp_id, cpp_ids)


async def structures_by_id(
    conn: AsyncConnection, structure_ids: Iterable[str | None]
) -> dict[str, RowMapping]:
    return await _by(conn, STRUCTURES.c.structure_id, structure_ids)


async def structures_by_cpp_id(conn: AsyncConnection, cpp_ids: Iterable[int]) -> dict[int, RowMapping]:
    return await _by(conn, STRUCTURES.c.cpp_id, cpp_ids)


async def flows_by_number(conn: AsyncConnection, numbers: Iterable[int]) -> dict[int, RowMapping]:
    return await _by(conn, flows.c.number, numbers)


# Works invoices, as their status events describe them.


async def apply_works_invoice_status(conn: AsyncConnection, data: WorksInvoiceStatusChanged) -> None:
    """The works invoice at this transition, unless a later one is known."""
    cpp_id = (await numbers_of(conn, INVOICE, [data.invoice_id]))[data.invoice_id]
    values = {
        "works_invoice_id": data.invoice_id,
        "cpp_id": cpp_id,
        "version": data.sequence,
        "number": data.number,
        "billing_frame": data.billing_frame,
        "status": data.to_status,
        "status_at": data.changed_at,
        "motif": data.motif,
        "supplier_id": data.supplier_structure_id,
        "moe_id": data.moe_structure_id,
        "moa_id": data.moa_structure_id,
        "amount_ht": data.amount_ht,
        "vat_amount": data.vat_amount,
        "amount_ttc": data.amount_ttc,
        "currency": data.currency,
    }
    await _apply_transition(conn, works_invoices, "works_invoice_id", values, "deposited_at", data)


async def search_works_invoices(
    conn: AsyncConnection,
    party: str,
    structure_id: str,
    number: str | None,
    statuses: tuple[str, ...],
    frame: str | None,
    offset: int,
    limit: int,
) -> tuple[list[RowMapping], int]:
    where = [works_invoices.c[party] == structure_id]
    if number:
        where.append(works_invoices.c.number == number)
    if statuses:
        where.append(works_invoices.c.status.in_(statuses))
    if frame:
        where.append(works_invoices.c.billing_frame == frame)
    return await fetch_page(conn, works_invoices, where, _latest_first(works_invoices), offset, limit)


async def works_invoices_by_cpp_id(conn: AsyncConnection, cpp_ids: Iterable[int]) -> dict[int, RowMapping]:
    return await _by(conn, works_invoices.c.cpp_id, cpp_ids)


# Legal commitments, as their status events describe them.

ENGAGEMENT = "engagement"  # the kind of integer id an engagement gets


async def apply_engagement_status(conn: AsyncConnection, data: EngagementStatusChanged) -> None:
    """The engagement at this transition, unless a later one is known."""
    cpp_id = (await numbers_of(conn, ENGAGEMENT, [data.engagement_id]))[data.engagement_id]
    values = {
        "engagement_id": data.engagement_id,
        "cpp_id": cpp_id,
        "version": data.sequence,
        "number": data.number,
        "type": data.type,
        "status": data.to_status,
        "status_at": data.changed_at,
        "issuer_id": data.issuer_structure_id,
        "supplier_id": data.supplier_structure_id,
        "amount_ht": data.amount_ht,
        "vat_amount": data.vat_amount,
        "amount_ttc": data.amount_ttc,
        "currency": data.currency,
    }
    await _apply_transition(conn, engagements, "engagement_id", values, "created_at", data)


@dataclass(frozen=True)
class EngagementCriteria:
    """What engagementsJuridiques/v1's search filters on, for the caller's structure: the engagements it
    issued, and those it supplies once they left their draft."""

    structure_id: str
    hidden_from_supplier: tuple[str, ...]  # statuses a supplier does not see
    number: str | None = None
    issuer_id: str | None = None
    supplier_id: str | None = None
    status: str | None = None


async def search_engagements(
    conn: AsyncConnection, criteria: EngagementCriteria, offset: int, limit: int
) -> tuple[list[RowMapping], int]:
    mine = sa.or_(
        engagements.c.issuer_id == criteria.structure_id,
        sa.and_(
            engagements.c.supplier_id == criteria.structure_id,
            engagements.c.status.not_in(criteria.hidden_from_supplier),
        ),
    )
    where = [mine]
    if criteria.number:
        where.append(engagements.c.number == criteria.number)
    if criteria.issuer_id:
        where.append(engagements.c.issuer_id == criteria.issuer_id)
    if criteria.supplier_id:
        where.append(engagements.c.supplier_id == criteria.supplier_id)
    if criteria.status:
        where.append(engagements.c.status == criteria.status)
    return await fetch_page(conn, engagements, where, _latest_first(engagements), offset, limit)
