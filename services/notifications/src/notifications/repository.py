"""Every SQL statement of notifications: the recorded decisions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.db import fetch_page
from notifications.db import decisions
from notifications.domain import DecisionFilter


@dataclass(frozen=True)
class Decision:
    event_id: str
    event_type: str
    event_source: str
    recipient_role: str
    recipient_email: str
    status: str
    flag_key: str
    reason: str
    subject: str | None
    message_id: str
    decided_at: datetime


async def decided_roles(conn: AsyncConnection, event_ids: list[str]) -> set[tuple[str, str]]:
    """The (event id, recipient role) pairs among `event_ids` already decided."""
    rows = await conn.execute(
        sa.select(decisions.c.event_id, decisions.c.recipient_role).where(decisions.c.event_id.in_(event_ids))
    )
    return {(event_id, role) for event_id, role in rows}


_RECORD = insert(decisions).on_conflict_do_nothing(constraint="uq_decision_event_role")


async def record_decisions(conn: AsyncConnection, recorded: list[Decision]) -> None:
    if recorded:
        await conn.execute(_RECORD, [{"id": uuid.uuid4(), **decision.__dict__} for decision in recorded])


def _matching(where: DecisionFilter) -> list[sa.ColumnElement[bool]]:
    wanted = {
        decisions.c.event_id: where.event_id,
        decisions.c.event_type: where.event_type,
        decisions.c.status: where.status,
        decisions.c.recipient_email: where.recipient_email,
    }
    return [column == value for column, value in wanted.items() if value is not None]


async def list_decisions(
    conn: AsyncConnection, where: DecisionFilter, offset: int, limit: int
) -> tuple[list[RowMapping], int]:
    order = [decisions.c.decided_at, decisions.c.id]
    return await fetch_page(conn, decisions, _matching(where), order, offset, limit)


async def get_decision(conn: AsyncConnection, decision_id: uuid.UUID) -> RowMapping | None:
    row = await conn.execute(sa.select(decisions).where(decisions.c.id == decision_id))
    return row.mappings().first()
