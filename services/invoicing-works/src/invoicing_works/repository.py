"""Reading and writing works invoices and their history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.db import fetch_page
from invoicing_works.db import works_invoice_history, works_invoices
from invoicing_works.domain import MOA_STATUSES, MOE_STATUSES, Role, Status


@dataclass(frozen=True)
class HistoryEntry:
    action: str
    from_status: str | None
    to_status: str
    actor: str
    actor_structure_id: str
    role: str
    at: datetime
    acting_for: str | None = None
    reason_code: str | None = None
    reason: str | None = None
    amounts: dict[str, str] | None = None


async def insert_invoice(
    conn: AsyncConnection, values: dict[str, Any], entries: Sequence[HistoryEntry]
) -> None:
    await conn.execute(works_invoices.insert().values(**values))
    for entry in entries:
        await add_history(conn, values["id"], entry)


async def add_history(conn: AsyncConnection, invoice_id: uuid.UUID, entry: HistoryEntry) -> None:
    await conn.execute(works_invoice_history.insert().values(works_invoice_id=invoice_id, **entry.__dict__))


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


PARTY_COLUMNS = {
    Role.FOURNISSEUR: works_invoices.c.supplier_structure_id,
    Role.MOE: works_invoices.c.moe_structure_id,
    Role.MOA: works_invoices.c.moa_structure_id,
}


def visible_to(structures: frozenset[str], role: Role | None = None) -> sa.ColumnElement[bool]:
    ids = list(structures)
    columns = [PARTY_COLUMNS[role]] if role else list(PARTY_COLUMNS.values())
    return sa.or_(*(column.in_(ids) for column in columns))


@dataclass(frozen=True)
class InvoiceFilter:
    structures: frozenset[str]
    role: Role | None = None
    status: str | None = None
    billing_frame: str | None = None
    number: str | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        wanted = {
            works_invoices.c.status: self.status,
            works_invoices.c.billing_frame: self.billing_frame,
            works_invoices.c.number: self.number,
        }
        return [
            visible_to(self.structures, self.role),
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
