"""The transactional outbox: events written with the state change, published by a relay."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import sqlalchemy as sa
from faststream.rabbit import RabbitBroker
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chorus_common.events import CLOUDEVENTS_CONTENT_TYPE, CloudEvent, encode_event
from chorus_common.messaging.topology import EVENTS_EXCHANGE
from chorus_common.metrics import EVENTS_PUBLISHED, OUTBOX_PUBLISH_FAILURES

logger = logging.getLogger("chorus.outbox")

MAX_RETRY_DELAY_SECONDS = 60


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "outbox",
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.String(200), nullable=False, unique=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Index(
            "ix_outbox_pending",
            "next_attempt_at",
            "id",
            postgresql_where=sa.text("published_at IS NULL"),
        ),
    )


async def add_to_outbox(conn: AsyncConnection, outbox: sa.Table, event: CloudEvent) -> None:
    """Record `event` for publication, inside the caller's transaction."""
    await conn.execute(
        outbox.insert().values(event_id=event.id, event_type=event.type, body=encode_event(event).decode())
    )


async def publish_event_body(broker: RabbitBroker, event_type: str, event_id: str, body: bytes) -> None:
    """Publish one event persistently, mandatory, and wait for the broker's confirm."""
    await broker.publish(
        body,
        exchange=EVENTS_EXCHANGE,
        routing_key=event_type,
        persist=True,
        mandatory=True,
        content_type=CLOUDEVENTS_CONTENT_TYPE,
        message_id=event_id,
        timeout=10,
    )


class OutboxRelay:
    """Publishes pending outbox rows; several replicas share the work through SKIP LOCKED."""

    def __init__(
        self,
        service: str,
        engine: AsyncEngine,
        outbox: sa.Table,
        broker: RabbitBroker,
        batch_size: int = 200,
        poll_interval: float = 1.0,
    ) -> None:
        self._service = service
        self._engine = engine
        self._outbox = outbox
        self._broker = broker
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Ask for a pass now rather than at the next poll (called after a commit)."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self._service}-outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                published = await self.publish_pending()
                failures = 0
            except Exception:
                failures += 1
                logger.warning("outbox pass failed", exc_info=True)
                await asyncio.sleep(min(MAX_RETRY_DELAY_SECONDS, 0.5 * 2**failures))
                continue
            if published >= self._batch_size:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_interval)
            self._wake.clear()

    async def publish_pending(self) -> int:
        """One pass: publish a batch of due rows and record the outcome; returns rows taken."""
        table = self._outbox
        async with self._engine.begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        table.c.id, table.c.event_id, table.c.event_type, table.c.body, table.c.attempts
                    )
                    .where(table.c.published_at.is_(None), table.c.next_attempt_at <= sa.func.now())
                    .order_by(table.c.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            outcomes = await asyncio.gather(
                *(
                    publish_event_body(self._broker, row.event_type, row.event_id, row.body.encode())
                    for row in rows
                ),
                return_exceptions=True,
            )
            published = [row.id for row, outcome in zip(rows, outcomes, strict=True) if outcome is None]
            if published:
                await conn.execute(
                    table.update().where(table.c.id.in_(published)).values(published_at=sa.func.now())
                )
            for row, outcome in zip(rows, outcomes, strict=True):
                if outcome is None:
                    EVENTS_PUBLISHED.labels(self._service, row.event_type).inc()
                    continue
                OUTBOX_PUBLISH_FAILURES.labels(self._service).inc()
                logger.warning("could not publish event %s (%s): %r", row.event_id, row.event_type, outcome)
                delay = min(MAX_RETRY_DELAY_SECONDS, 2**row.attempts)
                await conn.execute(
                    table.update()
                    .where(table.c.id == row.id)
                    .values(
                        attempts=table.c.attempts + 1,
                        last_error=repr(outcome)[:2000],
                        next_attempt_at=sa.func.now() + sa.text(f"interval '{delay} seconds'"),
                    )
                )
        return len(rows)
