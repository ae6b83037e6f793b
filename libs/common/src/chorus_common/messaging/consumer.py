"""The consumer wrapper: validate, dead-letter what is malformed, handle once, ack after commit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from faststream import AckPolicy
from faststream.message import StreamMessage
from faststream.rabbit import Channel, RabbitBroker
from faststream.rabbit.annotations import RabbitMessage
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chorus_common.db import is_unavailable, take_after_commit
from chorus_common.events import CloudEvent, EventData, InvalidEvent, may_publish, parse_event
from chorus_common.logging import event_id_var
from chorus_common.messaging.inbox import claim_events, identity
from chorus_common.messaging.outbox import OUTBOX_WRITTEN
from chorus_common.messaging.topology import (
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_REASON_HEADER,
    EVENTS_EXCHANGE,
    subscription_queue,
)
from chorus_common.metrics import EVENTS_CONSUMED

logger = logging.getLogger("chorus.consumer")

MAX_TRANSIENT_RETRY_DELAY_SECONDS = 15.0


@dataclass(frozen=True)
class ReceivedEvent:
    envelope: CloudEvent
    data: EventData
    delivery_count: int


EventHandler = Callable[[ReceivedEvent, AsyncConnection], Awaitable[None]]
# Handles several events in one transaction, e.g. to write their effects in one statement.
BatchHandler = Callable[[list[ReceivedEvent], AsyncConnection], Awaitable[None]]


async def the_message_itself(message: StreamMessage[Any]) -> Any:
    """The subscriber's argument: the message, undecoded (`process` parses the body itself)."""
    return message


def producer_of(message: Any) -> str | None:
    """Who published a delivery: its AMQP user_id, which RabbitMQ checks against the publisher's
    connection user."""
    raw = getattr(message, "raw_message", message)
    user_id = getattr(raw, "user_id", None)
    return str(user_id) if user_id else None


class EventConsumer:
    """Registers one durable quorum-queue subscription per event type for a service."""

    def __init__(
        self,
        service: str,
        broker: RabbitBroker,
        engine: AsyncEngine,
        inbox: sa.Table,
        delivery_limit: int = 5,
        prefetch: int = 32,
        retry_delay: float = 0.1,
        concurrency: int = 8,
        batch_size: int = 50,
        on_committed: Callable[[], None] | None = None,
        trusted_producers: bool = True,
    ) -> None:
        self.service = service
        # Only the producers the catalogue allows for a type may have their events handled.
        self._trusted_producers = trusted_producers
        self._broker = broker
        self._engine = engine
        self._inbox = inbox
        self._delivery_limit = delivery_limit
        self._prefetch = prefetch
        self._retry_delay = retry_delay
        self._stopping = False
        # Called after a commit that wrote to the outbox, to wake the relay for what it wrote.
        self._on_committed = on_committed
        # Deliveries arrive concurrently (up to the prefetch of every subscription); a handler holds
        # a database connection for its whole transaction, so bound them below the pool's size.
        self._handlers = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._batch_size = batch_size
        self._in_flight: set[asyncio.Task[Any]] = set()

    def stop(self) -> None:
        """Stop retrying transient failures in place; in-flight messages go back to the queue."""
        self._stopping = True

    async def wait_in_flight(self, within: float) -> None:
        """Let handlers already running commit (or fail) before the database engine goes away."""
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=within)

    def _track(self, work: asyncio.Task[Any]) -> None:
        self._in_flight.add(work)

        def done(task: asyncio.Task[Any]) -> None:
            self._in_flight.discard(task)
            if not task.cancelled() and task.exception() is not None:
                # Seen by `process` unless its delivery was cancelled meanwhile; then only logged, and
                # the redelivery handles the event.
                logger.debug("handler ended with %r", task.exception())

        work.add_done_callback(done)

    def subscribe(self, event_type: str, handler: EventHandler) -> None:
        """Handle each event of `event_type` in its own transaction, up to `concurrency` at once."""

        async def handle(events: list[ReceivedEvent], conn: AsyncConnection) -> None:
            await handler(events[0], conn)

        async def commit(event: ReceivedEvent) -> bool:
            return (await self._commit([event], handle))[0]

        async def one_at_a_time(event: ReceivedEvent) -> asyncio.Future[bool]:
            async with self._handlers:
                work = asyncio.create_task(commit(event))
                self._track(work)
                await asyncio.wait([work])
            return work

        self._register(event_type, one_at_a_time)

    def subscribe_batched(
        self, event_type: str, handler: BatchHandler, batcher: EventBatcher | None = None
    ) -> None:
        """Handle events of `event_type` in batches: one transaction for all the events waiting.

        Pass the same `batcher` to several subscriptions to batch their events together.
        """
        batcher = batcher or self.batcher(handler)
        self._register(event_type, batcher.submit)

    def batcher(self, handler: BatchHandler) -> EventBatcher:
        return EventBatcher(self, handler, self._batch_size, self._concurrency)

    def _register(
        self, event_type: str, submit: Callable[[ReceivedEvent], Awaitable[asyncio.Future[bool]]]
    ) -> None:
        queue = subscription_queue(self.service, event_type, self._delivery_limit)

        async def on_message(message: RabbitMessage) -> None:
            await self.process(event_type, submit, message)

        on_message.__name__ = f"on_{event_type.replace('-', '_').replace('.', '_')}"
        self._broker.subscriber(
            queue,
            EVENTS_EXCHANGE,
            channel=Channel(prefetch_count=self._prefetch),
            ack_policy=AckPolicy.MANUAL,
            decoder=the_message_itself,
            title=queue.name,
            description=f"{self.service} consumes {event_type}",
        )(on_message)

    async def process(
        self,
        event_type: str,
        submit: Callable[[ReceivedEvent], Awaitable[asyncio.Future[bool]]],
        message: Any,
    ) -> None:
        if self._trusted_producers:
            producer = producer_of(message)
            if not may_publish(producer, event_type):
                # Whoever holds credentials on the bus is not thereby a producer of every type: the
                # message does nothing, and the dead-letter queue says who sent it.
                reason = f"unauthorized producer: {producer or 'no user_id'} may not publish {event_type}"
                await self.dead_letter(message, event_type, reason)
                EVENTS_CONSUMED.labels(self.service, event_type, "unauthorized").inc()
                return
        try:
            envelope, data = parse_event(message.body)
            if envelope.type != event_type:
                raise InvalidEvent(f"event type {envelope.type!r} does not match routing key {event_type!r}")
        except InvalidEvent as exc:
            await self.dead_letter(message, event_type, exc.reason)
            EVENTS_CONSUMED.labels(self.service, event_type, "invalid").inc()
            return

        token = event_id_var.set(envelope.id)
        try:
            delivery_count = int((message.headers or {}).get("x-delivery-count", 0) or 0)
            event = ReceivedEvent(envelope, data, delivery_count)
            try:
                outcome = await submit(event)
                # A lost broker connection cancels this delivery; the handling, shielded, still
                # finishes and commits, so its effect is never left half done (a mail sent but not
                # recorded) and the redelivery finds the event in the inbox.
                handled = await asyncio.shield(outcome)
            except InvalidEvent as exc:
                # Valid by the contract, refused by the service's rules (e.g. an unknown recipient):
                # retrying cannot help, so it goes to the dead-letter queue at once with the reason.
                await self.dead_letter(message, event_type, exc.reason)
                EVENTS_CONSUMED.labels(self.service, event_type, "invalid").inc()
                return
            except Exception as exc:
                await self._on_failure(message, event_type, event, exc)
                return
            await message.ack()
            EVENTS_CONSUMED.labels(self.service, event_type, "handled" if handled else "duplicate").inc()
        finally:
            event_id_var.reset(token)

    async def _commit(self, events: list[ReceivedEvent], handler: BatchHandler) -> list[bool]:
        """Claim `events` in the inbox and handle the new ones in one transaction, retrying transient
        failures in place; for each event, whether it was handled (False: already was)."""
        attempt = 0
        while True:
            try:
                async with self._engine.begin() as conn:
                    conn.info.pop(OUTBOX_WRITTEN, None)
                    take_after_commit(conn)
                    claimed = await claim_events(conn, self._inbox, [event.envelope for event in events])
                    # The first of the same event delivered twice in one batch is the one handled.
                    fresh: dict[tuple[str, str], ReceivedEvent] = {}
                    for event in events:
                        if identity(event.envelope) in claimed:
                            fresh.setdefault(identity(event.envelope), event)
                    if fresh:
                        await handler(list(fresh.values()), conn)
                    wrote_events = conn.info.pop(OUTBOX_WRITTEN, False)
                    then = take_after_commit(conn)
                if wrote_events and self._on_committed is not None:
                    self._on_committed()
                for callback in then:
                    callback()
                return [fresh.get(identity(event.envelope)) is event for event in events]
            except Exception as exc:
                if not is_unavailable(exc) or self._stopping:
                    raise
                attempt += 1
                delay = min(MAX_TRANSIENT_RETRY_DELAY_SECONDS, 0.25 * 2**attempt)
                logger.warning(
                    "transient failure handling %d event(s) from %s, retrying in %.1fs: %r",
                    len(events),
                    events[0].envelope.id,
                    delay,
                    exc,
                )
                await asyncio.sleep(delay)

    async def _on_failure(self, message: Any, event_type: str, event: ReceivedEvent, exc: Exception) -> None:
        deliveries = event.delivery_count + 1
        if deliveries >= self._delivery_limit and not is_unavailable(exc):
            logger.error("event %s failed %d times, dead-lettering", event.envelope.id, deliveries)
            await self.dead_letter(
                message, event_type, f"handler failed after {deliveries} deliveries: {exc!r}"[:1000]
            )
            EVENTS_CONSUMED.labels(self.service, event_type, "dead-lettered").inc()
            return
        logger.warning("handling %s failed (delivery %d): %r", event.envelope.id, deliveries, exc)
        EVENTS_CONSUMED.labels(self.service, event_type, "retried").inc()
        await asyncio.sleep(self._retry_delay)
        await message.nack(requeue=True)

    async def dead_letter(self, message: Any, event_type: str, reason: str) -> None:
        """Copy the message, with the reason in a header, to the service's dead-letter queue; ack it."""
        logger.warning("dead-lettering a message from %s.%s: %s", self.service, event_type, reason)
        headers = dict(message.headers or {})
        headers.update(
            {
                DEAD_LETTER_REASON_HEADER: reason,
                "x-chorus-original-routing-key": event_type,
                "x-chorus-original-queue": f"{self.service}.{event_type}",
            }
        )
        await self._broker.publish(
            message.body,
            exchange=DEAD_LETTER_EXCHANGE,
            routing_key=self.service,
            persist=True,
            mandatory=True,
            headers=headers,
            content_type=message.content_type or None,
            message_id=message.message_id or None,
            timeout=10,
        )
        await message.ack()


class EventBatcher:
    """Gathers the events waiting to be handled into batches, `concurrency` batches at a time.

    No batch waits to fill up: the first event is handled at once, and the events that arrive
    while batches are running make up the next ones, so batches grow only with the load.
    """

    def __init__(self, consumer: EventConsumer, handler: BatchHandler, size: int, concurrency: int) -> None:
        self._consumer = consumer
        self._handler = handler
        self._size = size
        self._concurrency = concurrency
        self._running = 0
        self._waiting: list[tuple[ReceivedEvent, asyncio.Future[bool]]] = []

    async def submit(self, event: ReceivedEvent) -> asyncio.Future[bool]:
        outcome: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((event, outcome))
        self._start_batches()
        return outcome

    def _start_batches(self) -> None:
        while self._waiting and self._running < self._concurrency:
            batch, self._waiting = self._waiting[: self._size], self._waiting[self._size :]
            self._running += 1
            self._consumer._track(asyncio.create_task(self._run(batch)))

    async def _run(self, batch: list[tuple[ReceivedEvent, asyncio.Future[bool]]]) -> None:
        try:
            try:
                outcomes = await self._consumer._commit([event for event, _ in batch], self._handler)
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], exc)
                    return
                # One event may have spoilt the batch: handle each on its own, so that only it fails.
                logger.warning("a batch of %d events failed (%r); handling them one by one", len(batch), exc)
                for event, outcome in batch:
                    try:
                        _settle(outcome, (await self._consumer._commit([event], self._handler))[0])
                    except Exception as single:
                        _settle(outcome, single)
                return
            for (_, outcome), handled in zip(batch, outcomes, strict=True):
                _settle(outcome, handled)
        finally:
            self._running -= 1
            self._start_batches()


def _settle(outcome: asyncio.Future[bool], result: bool | BaseException) -> None:
    if outcome.done():
        return
    if isinstance(result, BaseException):
        outcome.set_exception(result)
    else:
        outcome.set_result(result)
