"""The inbox: the events already handled, recorded in the same transaction as the effect.

An event is known by its `source` and `id` together, as CloudEvents makes them unique: two producers
may use the same id, and neither's event is taken for the other's.
"""

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
        sa.Column("source", sa.String(500), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


@cache
def _claim(inbox: sa.Table) -> sa.Insert:
    # Built once per table: constructing the statement costs more than executing it.
    return (
        insert(inbox)
        .on_conflict_do_nothing(index_elements=["event_id", "source"])
        .returning(inbox.c.source, inbox.c.event_id)
    )


def identity(event: CloudEvent) -> tuple[str, str]:
    """What makes an event unique (CloudEvents 1.0): its source and its id."""
    return event.source, event.id


async def claim_events(
    conn: AsyncConnection, inbox: sa.Table, events: list[CloudEvent]
) -> set[tuple[str, str]]:
    """Record the events as handled; the (source, id) of those that were not yet (not redeliveries or
    duplicates).

    A concurrent claim of the same event waits on the primary key until the first transaction ends,
    so two consumers can never both handle one event. Events are claimed in sorted order so that two
    batches sharing some wait on each other instead of deadlocking.
    """
    rows = sorted(
        {
            identity(event): {"event_id": event.id, "event_type": event.type, "source": event.source}
            for event in events
        }.items()
    )
    result = await conn.execute(_claim(inbox), [row for _, row in rows])
    return {(source, event_id) for source, event_id in result}


# The inbox's schema changes, which every service's migrations apply to its own inbox.


def key_on_source_and_id() -> None:
    """Migration step: the inbox keyed by (event_id, source); the rows already there are kept."""
    from alembic import op

    op.drop_constraint("inbox_pkey", "inbox", type_="primary")
    op.create_primary_key("inbox_pkey", "inbox", ["event_id", "source"])


def key_on_id() -> None:
    """Its reverse: two producers' events sharing an id cannot both stay under a key on the id alone,
    so all but the first handled go."""
    from alembic import op

    op.execute(
        "DELETE FROM inbox a USING inbox b WHERE a.event_id = b.event_id"
        " AND (a.processed_at, a.source) > (b.processed_at, b.source)"
    )
    op.drop_constraint("inbox_pkey", "inbox", type_="primary")
    op.create_primary_key("inbox_pkey", "inbox", ["event_id"])
