"""Reading and writing engagements, their lines and their history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.db import fetch_page
from engagements.db import engagement_history, engagement_lines, engagements
from engagements.domain import EngagementStatus


@dataclass(frozen=True)
class HistoryEntry:
    action: str
    from_status: str | None
    to_status: str
    actor: str
    actor_structure_id: str | None
    capacity: str
    reason: str | None
    at: datetime


async def insert_engagement(
    conn: AsyncConnection, values: dict[str, Any], lines: list[dict[str, Any]], entry: HistoryEntry
) -> None:
    await conn.execute(engagements.insert().values(**values))
    if lines:
        await conn.execute(
            engagement_lines.insert(), [{"engagement_id": values["id"], **line} for line in lines]
        )
    await add_history(conn, values["id"], entry)


async def insert_engagement_once(conn: AsyncConnection, values: dict[str, Any], entry: HistoryEntry) -> bool:
    """Insert unless the issuer already has an engagement with this number; True if inserted."""
    inserted = await conn.execute(
        insert(engagements)
        .values(**values)
        .on_conflict_do_nothing(constraint="uq_engagement_issuer_number")
        .returning(engagements.c.id)
    )
    if inserted.first() is None:
        return False
    await add_history(conn, values["id"], entry)
    return True


async def add_history(conn: AsyncConnection, engagement_id: uuid.UUID, entry: HistoryEntry) -> None:
    await conn.execute(engagement_history.insert().values(engagement_id=engagement_id, **entry.__dict__))


async def get_row(conn: AsyncConnection, engagement_id: uuid.UUID, lock: bool = False) -> RowMapping | None:
    query = sa.select(engagements).where(engagements.c.id == engagement_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).mappings().first()


async def get_details(conn: AsyncConnection, engagement_id: uuid.UUID) -> dict[str, Any] | None:
    row = await get_row(conn, engagement_id)
    if row is None:
        return None
    lines = await conn.execute(
        sa.select(engagement_lines)
        .where(engagement_lines.c.engagement_id == engagement_id)
        .order_by(engagement_lines.c.line_number)
    )
    history = await conn.execute(
        sa.select(engagement_history)
        .where(engagement_history.c.engagement_id == engagement_id)
        .order_by(engagement_history.c.id)
    )
    return {**row, "lines": list(lines.mappings()), "history": list(history.mappings())}


async def set_status(
    conn: AsyncConnection,
    engagement_id: uuid.UUID,
    status: EngagementStatus,
    at: datetime,
    validated: bool,
) -> None:
    values: dict[str, Any] = {"status": status, "updated_at": at}
    if validated:
        values["validated_at"] = at
    await conn.execute(engagements.update().where(engagements.c.id == engagement_id).values(**values))


@dataclass(frozen=True)
class EngagementFilter:
    structures: frozenset[str]
    status: str | None = None
    type: str | None = None
    number: str | None = None
    issuer_structure_id: str | None = None
    supplier_structure_id: str | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        structures = list(self.structures)
        visible = sa.or_(
            engagements.c.issuer_structure_id.in_(structures),
            sa.and_(
                engagements.c.supplier_structure_id.in_(structures),
                engagements.c.status != EngagementStatus.BROUILLON,
            ),
        )
        wanted = {
            engagements.c.status: self.status,
            engagements.c.type: self.type,
            engagements.c.number: self.number,
            engagements.c.issuer_structure_id: self.issuer_structure_id,
            engagements.c.supplier_structure_id: self.supplier_structure_id,
        }
        return [visible, *(column == value for column, value in wanted.items() if value is not None)]


async def list_rows(
    conn: AsyncConnection, where: EngagementFilter, offset: int, limit: int
) -> tuple[list[RowMapping], int]:
    order = [engagements.c.created_at.desc(), engagements.c.id]
    return await fetch_page(conn, engagements, where.conditions(), order, offset, limit)
