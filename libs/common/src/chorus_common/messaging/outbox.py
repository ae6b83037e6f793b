"""The transactional outbox: events written with the state change, published by a relay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aio_pika
import sqlalchemy as sa
from aiormq.abc import AbstractChannel
from faststream.rabbit import RabbitBroker
from pamqp import commands as spec
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chorus_common.events import CLOUDEVENTS_CONTENT_TYPE, CloudEvent, encode_event
from chorus_common.messaging.accounts import user_of
from chorus_common.messaging.topology import EVENTS_EXCHANGE
from chorus_common.metrics import EVENTS_PUBLISHED, OUTBOX_PUBLISH_FAILURES

logger = logging.getLogger("chorus.outbox")

MAX_RETRY_DELAY_SECONDS = 60
PUBLISH_TIMEOUT_SECONDS = 30
COALESCE_SECONDS = 0.01


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "outbox",
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        # No unique index on event_id: ids are fresh UUIDs, and bulk writers (the sweep) pay for every index.
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        # A body carrying a secret (a follow link, say) is erased once the broker has it.
        sa.Column("erase_after_publish", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Index("ix_outbox_pending", "id", postgresql_where=sa.text("published_at IS NULL")),
    )


# Set on a connection whose transaction wrote to the outbox: the relay is woken only after those.
OUTBOX_WRITTEN = "chorus.outbox_written"


async def add_to_outbox(
    conn: AsyncConnection, outbox: sa.Table, event: CloudEvent, erase_after_publish: bool = False
) -> None:
    """Record `event` for publication, inside the caller's transaction."""
    conn.info[OUTBOX_WRITTEN] = True
    await conn.execute(
        outbox.insert(),
        {
            "event_id": event.id,
            "event_type": event.type,
            "body": encode_event(event).decode(),
            "erase_after_publish": erase_after_publish,
        },
    )


async def add_many_to_outbox(
    conn: AsyncConnection, statement: sa.Executable, parameters: dict[str, Any]
) -> int:
    """Run a set-based `statement` that inserts events into the outbox itself (`INSERT INTO outbox
    (event_id, event_type, body) SELECT ...`), inside the caller's transaction; how many it wrote."""
    result = await conn.execute(statement, parameters)
    written = int(getattr(result, "rowcount", 0) or 0)
    if written:
        conn.info[OUTBOX_WRITTEN] = True
    return written


async def publish_event_body(
    broker: RabbitBroker, event_type: str, event_id: str, body: bytes, user_id: str
) -> None:
    """Publish one event persistently, mandatory, and wait for the broker's confirm; `user_id` is the
    user the broker is connected as (RabbitMQ refuses any other), which names the producer."""
    await broker.publish(
        body,
        exchange=EVENTS_EXCHANGE,
        routing_key=event_type,
        persist=True,
        mandatory=True,
        content_type=CLOUDEVENTS_CONTENT_TYPE,
        message_id=event_id,
        user_id=user_id,
        timeout=10,
    )


class EventPublishFailed(Exception):
    """The broker did not confirm an event (nack, return, or no answer in time)."""


class OutboxRelay:
    """Publishes pending outbox rows; several replicas share the work through SKIP LOCKED.

    It has a connection of its own (a publishing connection that broker flow control may slow
    must not stall the consumers), and publishes on its confirm channel's protocol layer directly:
    the relay's throughput is bound by per-message CPU in the client.
    """

    def __init__(
        self,
        service: str,
        engine: AsyncEngine,
        outbox: sa.Table,
        rabbitmq_url: str,
        batch_size: int = 200,
        poll_interval: float = 1.0,
    ) -> None:
        self._service = service
        self._engine = engine
        self._outbox = outbox
        self._rabbitmq_url = rabbitmq_url
        # Every event carries the producer's name, as RabbitMQ verifies it: the connection's user.
        self._user_id = user_of(rabbitmq_url)
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        # Keyset position within a drain: each batch starts after the last one instead of
        # re-reading the index entries of rows already published.
        self._after = 0
        self._channel: aio_pika.abc.AbstractRobustChannel | None = None

    async def _publishing_channel(self) -> AbstractChannel:
        if self._connection is None:
            self._connection = await aio_pika.connect_robust(self._rabbitmq_url, reconnect_interval=2)
        if self._channel is None:
            self._channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        assert self._channel is not None
        return await self._channel.get_underlay_channel()

    async def _publish(self, channel: AbstractChannel, event_type: str, event_id: str, body: str) -> None:
        confirmation = await channel.basic_publish(
            body.encode(),
            exchange=EVENTS_EXCHANGE.name,
            routing_key=event_type,
            properties=spec.Basic.Properties(
                delivery_mode=2,
                content_type=CLOUDEVENTS_CONTENT_TYPE,
                message_id=event_id,
                user_id=self._user_id,
            ),
            mandatory=True,
        )
        if not isinstance(confirmation, spec.Basic.Ack):
            raise EventPublishFailed(f"broker answered {confirmation!r}")

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
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()

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
            # asyncio.timeout rather than wait_for: Python 3.11's wait_for drops a cancellation that
            # arrives as the wait completes (a commit waking the relay while the service stops), and
            # the relay then never stops.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval):
                    await self._wake.wait()
                # Woken by a commit: let a few more commits land so one pass carries them all.
                await asyncio.sleep(COALESCE_SECONDS)
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
                    .where(
                        table.c.published_at.is_(None),
                        table.c.id > self._after,
                        table.c.next_attempt_at <= sa.func.now(),
                    )
                    .order_by(table.c.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            # A short batch ends the drain: the next pass starts over, for retries and skipped rows.
            self._after = rows[-1].id if len(rows) == self._batch_size else 0
            if not rows:
                return 0
            channel = await self._publishing_channel()
            # One deadline for the whole batch: a timer per message costs more than its publish.
            async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
                outcomes = await asyncio.gather(
                    *(self._publish(channel, row.event_type, row.event_id, row.body) for row in rows),
                    return_exceptions=True,
                )
            published = [row.id for row, outcome in zip(rows, outcomes, strict=True) if outcome is None]
            if published:
                await conn.execute(
                    table.update()
                    .where(table.c.id.in_(published))
                    .values(
                        published_at=sa.func.now(),
                        body=sa.case((table.c.erase_after_publish, ""), else_=table.c.body),
                    )
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
