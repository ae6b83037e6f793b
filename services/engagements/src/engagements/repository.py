"""Every SQL statement of engagements: engagements, their lines and their history."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.db import fetch_page
from chorus_common.history import HistoryEntry
from engagements.db import engagement_history, engagement_lines, engagements, replica
from engagements.domain import EngagementQuery, EngagementStatus, Line


async def insert_engagement_once(
    conn: AsyncConnection, values: dict[str, Any], lines: list[Line], entry: HistoryEntry
) -> bool:
    """Insert unless the issuer already has an engagement with this number; True if inserted (its
    history's first entry is then sequence 1)."""
    inserted = await conn.execute(
        insert(engagements)
        .values(**values)
        .on_conflict_do_nothing(constraint="uq_engagement_issuer_number")
        .returning(engagements.c.id)
    )
    if inserted.first() is None:
        return False
    if lines:
        await conn.execute(
            engagement_lines.insert(), [{"engagement_id": values["id"], **asdict(line)} for line in lines]
        )
    await add_history(conn, values["id"], entry)
    return True


async def add_history(conn: AsyncConnection, engagement_id: uuid.UUID, entry: HistoryEntry) -> int:
    """Record the entry; how many the engagement's history holds with it (the transition's sequence)."""
    await conn.execute(engagement_history.insert().values(engagement_id=engagement_id, **entry.as_row()))
    count = await conn.scalar(
        sa.select(sa.func.count())
        .select_from(engagement_history)
        .where(engagement_history.c.engagement_id == engagement_id)
    )
    return int(count or 0)


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


def visible(structures: frozenset[str], query: EngagementQuery) -> list[sa.ColumnElement[bool]]:
    """What users of `structures` may see (a supplier no draft) among the engagements `query` asks for."""
    mine = list(structures)
    seen = sa.or_(
        engagements.c.issuer_structure_id.in_(mine),
        sa.and_(
            engagements.c.supplier_structure_id.in_(mine),
            engagements.c.status != EngagementStatus.BROUILLON,
        ),
    )
    wanted = {
        engagements.c.status: query.status,
        engagements.c.type: query.type,
        engagements.c.number: query.number,
        engagements.c.issuer_structure_id: query.issuer_structure_id,
        engagements.c.supplier_structure_id: query.supplier_structure_id,
    }
    return [seen, *(column == value for column, value in wanted.items() if value is not None)]


async def list_rows(
    conn: AsyncConnection, structures: frozenset[str], query: EngagementQuery, offset: int, limit: int
) -> tuple[list[RowMapping], int]:
    order = [engagements.c.created_at.desc(), engagements.c.id]
    return await fetch_page(conn, engagements, visible(structures, query), order, offset, limit)


async def directory_structure(conn: AsyncConnection, structure_id: str) -> RowMapping | None:
    """The structure as this service's read model of the directory has it."""
    query = sa.select(replica.structures).where(replica.structures.c.structure_id == structure_id)
    return (await conn.execute(query)).mappings().first()
