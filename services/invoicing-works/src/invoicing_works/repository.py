"""Every SQL statement of invoicing-works: works invoices, their history, the deadline sweep."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.db import fetch_page
from chorus_common.events import DeadlineExceeded, EventType, Party
from chorus_common.events.sql import cloudevent_sql, json_object_sql
from chorus_common.history import HistoryEntry
from chorus_common.messaging.outbox import add_many_to_outbox
from chorus_common.replica import PartyRef, resolve_parties
from invoicing_works.db import replica, works_invoice_history, works_invoices
from invoicing_works.domain import MOA_STATUSES, MOE_STATUSES, PARTY_STRUCTURE, InvoiceQuery, Role, Status


@dataclass(frozen=True, kw_only=True)
class WorksHistoryEntry(HistoryEntry):
    """A works invoice's history also says whose place the actor took, its refusal code, and the
    amounts the MOE modified."""

    acting_for: str | None = None
    reason_code: str | None = None
    amounts: dict[str, str] | None = None


async def insert_invoice_once(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """Insert unless the supplier already has a works invoice with this number; True if inserted."""
    inserted = await conn.execute(
        insert(works_invoices)
        .values(**values)
        .on_conflict_do_nothing(constraint="uq_works_invoice_supplier_number")
        .returning(works_invoices.c.id)
    )
    return inserted.first() is not None


async def directory_parties(conn: AsyncConnection, refs: dict[str, PartyRef]) -> dict[str, Party]:
    """The named parties as this service's read model of the directory has them (422 if unknown)."""
    return await resolve_parties(conn, replica, refs)


async def add_history(conn: AsyncConnection, invoice_id: uuid.UUID, entry: HistoryEntry) -> int:
    """Record the entry; its id, which grows along the invoice's history."""
    statement = works_invoice_history.insert().returning(works_invoice_history.c.id)
    result = await conn.execute(statement, {"works_invoice_id": invoice_id, **entry.as_row()})
    return int(result.scalar_one())


async def get_row(conn: AsyncConnection, invoice_id: uuid.UUID, lock: bool = False) -> RowMapping | None:
    query = sa.select(works_invoices).where(works_invoices.c.id == invoice_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).mappings().first()


async def get_history(conn: AsyncConnection, invoice_id: uuid.UUID) -> list[RowMapping]:
    rows = await conn.execute(
        sa.select(works_invoice_history)
        .where(works_invoice_history.c.works_invoice_id == invoice_id)
        .order_by(works_invoice_history.c.id)
    )
    return list(rows.mappings())


async def update_invoice(conn: AsyncConnection, invoice_id: uuid.UUID, **values: Any) -> None:
    await conn.execute(works_invoices.update().where(works_invoices.c.id == invoice_id).values(**values))


PARTY_COLUMNS = {role: works_invoices.c[name] for role, name in PARTY_STRUCTURE.items()}


def visible_to(structures: frozenset[str], role: Role | None = None) -> sa.ColumnElement[bool]:
    ids = list(structures)
    columns = [PARTY_COLUMNS[role]] if role else list(PARTY_COLUMNS.values())
    return sa.or_(*(column.in_(ids) for column in columns))


def matching(structures: frozenset[str], query: InvoiceQuery) -> list[sa.ColumnElement[bool]]:
    """The works invoices of `structures` (in the query's role, if any) that `query` asks for."""
    wanted = {
        works_invoices.c.status: query.status,
        works_invoices.c.billing_frame: query.billing_frame,
        works_invoices.c.number: query.number,
    }
    return [
        visible_to(structures, query.role),
        *(column == value for column, value in wanted.items() if value is not None),
    ]


def to_process_conditions(
    structures: frozenset[str], role: Role, today: date
) -> list[sa.ColumnElement[bool]]:
    """The 'Synthèse' list of one role: what awaits the caller's action.

    The MOA's list also holds the A4 drafts whose MOE let the deadline pass, which it may take over.
    """
    column = PARTY_COLUMNS[role]
    mine = column.in_(list(structures))
    status = works_invoices.c.status
    if role is Role.FOURNISSEUR:
        return [mine, status == Status.REJETEE, works_invoices.c.rejection_processed_at.is_(None)]
    if role is Role.MOE:
        return [mine, status.in_(list(MOE_STATUSES))]
    overdue = sa.and_(status.in_(list(MOE_STATUSES)), works_invoices.c.moe_deadline < today)
    return [mine, sa.or_(status.in_(list(MOA_STATUSES)), overdue)]


async def list_rows(
    conn: AsyncConnection, conditions: list[sa.ColumnElement[bool]], offset: int, limit: int
) -> tuple[list[RowMapping], int]:
    order = [works_invoices.c.created_at.desc(), works_invoices.c.id]
    return await fetch_page(conn, works_invoices, conditions, order, offset, limit)


async def lock_many(conn: AsyncConnection, ids: list[uuid.UUID]) -> dict[uuid.UUID, RowMapping]:
    rows = await conn.execute(
        sa.select(works_invoices)
        .where(works_invoices.c.id.in_(ids))
        .order_by(works_invoices.c.id)
        .with_for_update()
    )
    return {row["id"]: row for row in rows.mappings()}


# Claims (invoice, day) in deadline_notices and writes the event to the outbox in the same statement;
# the primary key makes a second sweep of the day, on any replica, find nothing left to claim. The
# event's JSON is generated from the catalogue's `DeadlineExceeded` and CloudEvents models.
_DEADLINE_EXCEEDED = cloudevent_sql(
    id="claimed.event_id::text",
    source="CAST(:source AS text)",
    type="CAST(:event_type AS text)",
    time="CAST(:time AS timestamptz)",
    subject="due.id::text",
    data=json_object_sql(
        DeadlineExceeded,
        {
            "works_invoice_id": "due.id::text",
            "number": "due.number",
            "billing_frame": "due.billing_frame",
            "billing_frame_code": "'A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR'",
            "supplier": "due.supplier",
            "moe": "due.moe",
            "moa": "due.moa",
            "made_available_at": "due.made_available_at",
            "deadline": "due.moe_deadline",
            "days_overdue": "CAST(:notice_date AS date) - due.moe_deadline",
            "notice_date": "CAST(:notice_date AS date)",
        },
    ),
)
SWEEP = sa.text(
    f"""
WITH due AS (
    SELECT id, number, billing_frame, supplier, moe, moa, made_available_at, moe_deadline
    FROM works_invoices
    WHERE billing_frame = 'A4'
      AND status = 'MISE_A_DISPOSITION_MOE'
      AND moa_structure_id IS NOT NULL
      AND moe_deadline < CAST(:notice_date AS date)
), claimed AS (
    INSERT INTO deadline_notices (works_invoice_id, notice_date, event_id)
    SELECT id, CAST(:notice_date AS date), gen_random_uuid() FROM due
    ON CONFLICT (works_invoice_id, notice_date) DO NOTHING
    RETURNING works_invoice_id, event_id
)
INSERT INTO outbox (event_id, event_type, body)
SELECT claimed.event_id::text, CAST(:event_type AS text), ({_DEADLINE_EXCEEDED})::text
FROM claimed JOIN due ON due.id = claimed.works_invoice_id
"""
)


async def issue_deadline_notices(conn: AsyncConnection, notice_date: date, source: str, at: datetime) -> int:
    """Write to the outbox the `deadline-exceeded` events due on `notice_date`; how many."""
    parameters = {
        "notice_date": notice_date,
        "source": source,
        "event_type": EventType.DEADLINE_EXCEEDED.value,
        "time": at,
    }
    return await add_many_to_outbox(conn, SWEEP, parameters)
