"""Every SQL statement of received-invoices: its read model of the directory, delegations, invoices
and their history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.db import DirectReads, fetch_page
from chorus_common.history import HistoryEntry
from received_invoices.db import delegations, engagements, invoice_history, invoices, replica
from received_invoices.domain import WAITING_AT_DELEGATE, Coverage, DelegationStatus, InvoiceStatus, Scope

# --- The directory, as this service's read model has it --------------------------------------

directory_structures, directory_services = replica.structures, replica.services


async def directory_structure(
    conn: AsyncConnection, structure_id: str, lock: bool = False
) -> RowMapping | None:
    """An active structure of the directory; locked, it serialises what is decided about it."""
    query = sa.select(directory_structures).where(
        directory_structures.c.structure_id == structure_id, directory_structures.c.active
    )
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).mappings().first()


def _service_open(day: Any) -> sa.ColumnElement[bool]:
    """A service of the directory that is active and valid on `day`."""
    return sa.and_(
        directory_services.c.active,
        sa.or_(directory_services.c.valid_from.is_(None), directory_services.c.valid_from <= day),
        sa.or_(directory_services.c.valid_to.is_(None), directory_services.c.valid_to >= day),
    )


async def active_service_codes(conn: AsyncConnection, structure_id: str, day: date) -> set[str]:
    rows = await conn.execute(
        sa.select(directory_services.c.code).where(
            directory_services.c.structure_id == structure_id, _service_open(day)
        )
    )
    return set(rows.scalars())


# --- Delegations -----------------------------------------------------------------------------


async def insert_delegation(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(delegations.insert().values(**values))


async def get_delegation(
    conn: AsyncConnection, delegation_id: uuid.UUID, lock: bool = False
) -> RowMapping | None:
    query = sa.select(delegations).where(delegations.c.id == delegation_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).mappings().first()


async def all_delegations(conn: AsyncConnection) -> list[RowMapping]:
    rows = await conn.execute(sa.select(delegations).order_by(delegations.c.created_at, delegations.c.id))
    return list(rows.mappings())


async def update_delegation(
    conn: AsyncConnection, delegation_id: uuid.UUID, bump: bool = True, **changes: Any
) -> RowMapping:
    """Change the delegation, one version up when its snapshot changes (`bump`); the delegation now."""
    if bump:
        changes["version"] = delegations.c.version + 1
    statement = (
        delegations.update().where(delegations.c.id == delegation_id).values(**changes).returning(delegations)
    )
    return (await conn.execute(statement)).mappings().one()


async def delegations_past_their_end(conn: AsyncConnection, day: date) -> list[RowMapping]:
    """Active delegations whose end date is before `day` and that nobody ended yet, locked (those another
    sweep is ending are skipped: it ends them)."""
    rows = await conn.execute(
        sa.select(delegations)
        .where(
            delegations.c.status == DelegationStatus.ACTIVE,
            delegations.c.end_date < day,
            delegations.c.ended_at.is_(None),
        )
        .order_by(delegations.c.id)
        .with_for_update(skip_locked=True)
    )
    return list(rows.mappings())


async def list_delegations(
    conn: AsyncConnection,
    structures_ids: frozenset[str],
    given: bool,
    status: DelegationStatus | None,
    offset: int,
    limit: int,
) -> tuple[list[RowMapping], int]:
    """The delegations given (or received) by `structures_ids`, newest first."""
    party = delegations.c.delegator_structure_id if given else delegations.c.delegate_structure_id
    conditions: list[sa.ColumnElement[bool]] = [party.in_(list(structures_ids))]
    if status is not None:
        conditions.append(delegations.c.status == status)
    return await fetch_page(conn, delegations, conditions, [delegations.c.created_at.desc()], offset, limit)


def coverage_of(row: RowMapping) -> Coverage:
    return Coverage(Scope(row["scope"]), frozenset(row["service_codes"]), row["start_date"], row["end_date"])


async def active_coverages(
    conn: AsyncConnection, delegator_id: str, excluding: uuid.UUID | None = None
) -> list[tuple[str, Coverage]]:
    rows = await conn.execute(
        sa.select(delegations).where(
            delegations.c.delegator_structure_id == delegator_id,
            delegations.c.status == DelegationStatus.ACTIVE,
            delegations.c.ended_at.is_(None),
            delegations.c.id != excluding if excluding is not None else sa.true(),
        )
    )
    return [(str(row["id"]), coverage_of(row)) for row in rows.mappings()]


def _addressee_query() -> sa.Select[Any]:
    """Everything routing needs in one query, from the read model of the directory: the recipient,
    its service, the delegation covering it on the day (at most one exists), the delegate, and the
    supplier. Built once: constructing a statement of this size costs more than running it."""
    recipient = directory_structures
    service_code = sa.bindparam("service_code", type_=sa.String)
    day = sa.bindparam("day", type_=sa.Date)
    delegate = directory_structures.alias("delegate")
    supplier = directory_structures.alias("supplier")
    covering = (
        sa.select(delegations.c.id, delegations.c.right, delegations.c.delegate_structure_id)
        .where(
            sa.bindparam("routed", type_=sa.Boolean),
            delegations.c.delegator_structure_id == recipient.c.structure_id,
            delegations.c.status == DelegationStatus.ACTIVE,
            delegations.c.start_date <= day,
            sa.or_(delegations.c.end_date.is_(None), delegations.c.end_date >= day),
            sa.or_(
                delegations.c.scope == Scope.STRUCTURE, service_code == sa.any_(delegations.c.service_codes)
            ),
        )
        .limit(1)
        .lateral("covering")
    )
    return (
        sa.select(
            recipient.c.name,
            recipient.c.email,
            recipient.c.kind,
            recipient.c.parameters,
            _service_open(day).label("service_active"),
            directory_services.c.engagement_required.label("service_requires_engagement"),
            covering.c.id.label("delegation_id"),
            covering.c.right.label("delegation_right"),
            delegate.c.structure_id.label("delegate_id"),
            delegate.c.name.label("delegate_name"),
            delegate.c.email.label("delegate_email"),
            supplier.c.name.label("supplier_name"),
            supplier.c.email.label("supplier_email"),
        )
        .select_from(recipient)
        .outerjoin(
            directory_services,
            sa.and_(
                directory_services.c.structure_id == recipient.c.structure_id,
                directory_services.c.code == service_code,
            ),
        )
        .outerjoin(covering, sa.true())
        .outerjoin(delegate, delegate.c.structure_id == covering.c.delegate_structure_id)
        .outerjoin(
            supplier,
            sa.and_(
                supplier.c.structure_id == sa.bindparam("supplier_id", type_=sa.String), supplier.c.active
            ),
        )
        .where(recipient.c.structure_id == sa.bindparam("recipient_id", type_=sa.String), recipient.c.active)
    )


ADDRESSEE = _addressee_query()


@dataclass(frozen=True)
class Addressee:
    """A recipient as the directory knows it, with the delegation covering it, if any, and the
    supplier as the directory knows it."""

    name: str
    email: str | None
    kind: str
    parameters: dict[str, Any]  # the directory's structures/v1/consulter parameters
    service_active: bool | None  # None: no such service
    service_requires_engagement: bool | None
    delegation_id: uuid.UUID | None
    delegation_right: str | None
    delegate_id: str | None
    delegate_name: str | None
    delegate_email: str | None
    supplier_name: str | None  # None: the supplier is not an active structure of the directory
    supplier_email: str | None


async def find_addressee(
    conn: AsyncConnection,
    recipient_id: str,
    service_code: str | None,
    day: date,
    routed: bool,
    supplier_id: str,
) -> Addressee | None:
    params = {
        "recipient_id": recipient_id,
        "service_code": service_code,
        "day": day,
        "routed": routed,
        "supplier_id": supplier_id,
    }
    row = (await conn.execute(ADDRESSEE, params)).mappings().first()
    return Addressee(**row) if row is not None else None


# --- Engagements, as validated by their issuers ----------------------------------------------


async def record_engagement(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """Keep a validated engagement (again: the same one, unchanged)."""
    statement = insert(engagements).values(**values)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[engagements.c.issuer_structure_id, engagements.c.number],
            set_={
                name: statement.excluded[name]
                for name in values
                if name not in ("issuer_structure_id", "number")
            },
        )
    )


async def find_engagement(conn: AsyncConnection, issuer_id: str, number: str) -> RowMapping | None:
    query = sa.select(engagements).where(
        engagements.c.issuer_structure_id == issuer_id, engagements.c.number == number
    )
    return (await conn.execute(query)).mappings().first()


# --- Invoices --------------------------------------------------------------------------------


INSERT_INVOICE_ONCE = (
    insert(invoices)
    .on_conflict_do_nothing(constraint="uq_received_invoice_external_id")
    .returning(invoices.c.id)
)
INSERT_HISTORY = invoice_history.insert().returning(invoice_history.c.id)


async def insert_invoice_once(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """Insert unless the supplier already sent this external id; True if inserted."""
    result = await conn.execute(INSERT_INVOICE_ONCE, values)
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


async def update_invoice(conn: AsyncConnection, invoice_id: uuid.UUID, changes: dict[str, Any]) -> None:
    await conn.execute(invoices.update().where(invoices.c.id == invoice_id).values(**changes))


@dataclass(frozen=True, kw_only=True)
class ReceivedHistoryEntry(HistoryEntry):
    dp_mandate_number: str | None = None  # numeroDPMandat, with a MANDATEE


async def add_history(conn: AsyncConnection, invoice_id: uuid.UUID, entry: HistoryEntry) -> int:
    """Record the entry; its id, which grows along the invoice's history."""
    result = await conn.execute(INSERT_HISTORY, {"invoice_id": invoice_id, **entry.as_row()})
    return int(result.scalar_one())


async def lock_many(conn: AsyncConnection, ids: list[uuid.UUID]) -> dict[uuid.UUID, RowMapping]:
    rows = await conn.execute(
        sa.select(invoices).where(invoices.c.id.in_(ids)).order_by(invoices.c.id).with_for_update()
    )
    return {row["id"]: row for row in rows.mappings()}


async def lock_waiting_at_delegate(conn: AsyncConnection, delegation_id: uuid.UUID) -> list[RowMapping]:
    """The invoices routed by the delegation that still wait at its delegate, locked."""
    rows = await conn.execute(
        sa.select(invoices)
        .where(
            invoices.c.delegation_id == delegation_id,
            invoices.c.with_recipient.is_(False),
            invoices.c.status.in_(list(WAITING_AT_DELEGATE)),
        )
        .order_by(invoices.c.id)
        .with_for_update()
    )
    return list(rows.mappings())


_HISTORY_COLUMNS = [column for column in invoice_history.c if column.name not in ("id", "invoice_id")]
_INVOICE_WITH_HISTORY = (
    sa.select(
        invoices,
        invoice_history.c.id.label("history_id"),
        *(column.label(f"history_{column.name}") for column in _HISTORY_COLUMNS),
    )
    .select_from(invoices.outerjoin(invoice_history, invoice_history.c.invoice_id == invoices.c.id))
    .where(invoices.c.id == sa.bindparam("invoice_id"))
    .order_by(invoice_history.c.id)
)


async def get_invoice_with_history(
    reads: DirectReads, invoice_id: uuid.UUID
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The invoice and its history, oldest first: one statement, so one snapshot (the hottest read)."""
    rows = await reads.fetch(_INVOICE_WITH_HISTORY, invoice_id=invoice_id)
    if not rows:
        return None
    invoice = {column.name: rows[0][column.name] for column in invoices.c}
    history = [
        {column.name: row[f"history_{column.name}"] for column in _HISTORY_COLUMNS}
        for row in rows
        if row["history_id"] is not None
    ]
    return invoice, history


def _work_list(name: str, structures_ids: frozenset[str]) -> sa.ColumnElement[bool]:
    mine = list(structures_ids)
    at_delegate = sa.and_(
        invoices.c.with_recipient.is_(False), invoices.c.status.in_(list(WAITING_AT_DELEGATE))
    )
    if name == "to-validate":
        return sa.and_(invoices.c.delegate_structure_id.in_(mine), at_delegate)
    if name == "awaiting-delegate":
        return sa.and_(invoices.c.recipient_structure_id.in_(mine), at_delegate)
    if name == "received":
        return sa.and_(invoices.c.recipient_structure_id.in_(mine), invoices.c.with_recipient.is_(True))
    if name == "to-process":
        return sa.and_(
            invoices.c.supplier_structure_id.in_(mine),
            sa.or_(
                invoices.c.status.in_([InvoiceStatus.SUSPENDUE, InvoiceStatus.A_RECYCLER]),
                sa.and_(
                    invoices.c.status == InvoiceStatus.REJETEE, invoices.c.rejection_processed_at.is_(None)
                ),
            ),
        )
    return invoices.c.supplier_structure_id.in_(mine)


async def list_invoices(
    conn: AsyncConnection,
    work_list: str,
    structures_ids: frozenset[str],
    status: InvoiceStatus | None,
    offset: int,
    limit: int,
) -> tuple[list[RowMapping], int]:
    """One of the work lists of users of `structures_ids`: the delegate's "to-validate", the recipient's
    "received" and "awaiting-delegate", the supplier's "deposited" and "to-process"."""
    conditions = [_work_list(work_list, structures_ids)]
    if status is not None:
        conditions.append(invoices.c.status == status)
    return await fetch_page(conn, invoices, conditions, [invoices.c.received_at.desc()], offset, limit)
