"""The inbox: the ids of events already handled, recorded in the same transaction as the effect."""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.events import CloudEvent


def inbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "inbox",
        metadata,
        sa.Column("event_id", sa.String(200), primary_key=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


@cache
def _claim(inbox: sa.Table) -> sa.Insert:
    # Built once per table: constructing the statement costs more than executing it.
    return insert(inbox).on_conflict_do_nothing(index_elements=["event_id"]).returning(inbox.c.event_id)


async def claim_events(conn: AsyncConnection, inbox: sa.Table, events: list[CloudEvent]) -> set[str]:
    """Record the events as handled; the ids of those that were not yet (not redeliveries or duplicates).

    A concurrent claim of the same id waits on the primary key until the first transaction ends,
    so two consumers can never both handle one event. Ids are claimed in sorted order so that two
    batches sharing ids wait on each other instead of deadlocking.
    """
    rows = sorted(
        {
            event.id: {"event_id": event.id, "event_type": event.type, "source": event.source}
            for event in events
        }.items()
    )
    result = await conn.execute(_claim(inbox), [row for _, row in rows])
    return set(result.scalars())
