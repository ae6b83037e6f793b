"""The outbox relay and the consumer wrapper against a real PostgreSQL and RabbitMQ."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import aiormq
import pytest
import sqlalchemy as sa
from faststream.rabbit import RabbitBroker
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chorus_common.db import create_engine, ensure_database
from chorus_common.events import EngagementValidated, EventType, InvalidEvent, build_event, encode_event
from chorus_common.messaging.consumer import EventConsumer, ReceivedEvent
from chorus_common.messaging.outbox import OutboxRelay, add_to_outbox
from chorus_common.messaging.topology import DEAD_LETTER_REASON_HEADER, create_broker, declare_topology
from chorus_common.runtime import messaging_tables
from chorus_testing.fixtures import BusProbe, eventually, take

metadata = sa.MetaData()
outbox, inbox = messaging_tables(metadata)
effects = sa.Table("effects", metadata, sa.Column("event_id", sa.String, primary_key=True))

PARTY = {"structure_id": "S1", "name": "Structure", "email": "s1@example.fr"}


def an_event(number: str = "EJ-1"):
    data = EngagementValidated.model_validate(
        {
            "number": number,
            "issuer": {**PARTY, "kind": "ETAT"},
            "supplier": PARTY,
            "total_ht": "10.00",
            "total_ttc": "12.00",
            "currency": "EUR",
            "validated_at": datetime.now(UTC),
        }
    )
    return build_event(EventType.ENGAGEMENT_VALIDATED, "/tests", data, datetime.now(UTC))


@pytest.fixture(scope="module")
async def engine(database_factory: Callable[[str], str]) -> AsyncIterator[AsyncEngine]:
    url = database_factory("common")
    await ensure_database(url)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def broker(rabbitmq_url: str) -> AsyncIterator[RabbitBroker]:
    broker = create_broker(rabbitmq_url)
    await broker.connect()
    yield broker
    await broker.stop()


async def pending(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).where(outbox.c.published_at.is_(None))) or 0)


async def test_relays_publish_each_outbox_event_exactly_once_even_when_racing(
    engine: AsyncEngine, rabbitmq_url: str, bus: BusProbe
):
    tap = await bus.tap(EventType.ENGAGEMENT_VALIDATED)
    events = [an_event(f"EJ-{i}") for i in range(60)]
    async with engine.begin() as conn:
        for event in events:
            await add_to_outbox(conn, outbox, event)
    relays = [OutboxRelay("test", engine, outbox, rabbitmq_url, batch_size=7) for _ in range(3)]
    while await pending(engine):
        await asyncio.gather(*(relay.publish_pending() for relay in relays))
    for relay in relays:
        await relay.stop()
    received = await take(tap, len(events) + 5, within=3)
    ids = [json.loads(message.body)["id"] for message in received]
    assert sorted(ids) == sorted(e.id for e in events)
    assert all(m.delivery_mode == 2 for m in received), "integration events must be persistent"


async def test_an_unroutable_event_stays_in_the_outbox_with_its_error(engine: AsyncEngine, rabbitmq_url: str):
    event = an_event().model_copy(update={"type": "nobody-listens-to-this"})
    async with engine.begin() as conn:
        await add_to_outbox(conn, outbox, event)
    relay = OutboxRelay("test", engine, outbox, rabbitmq_url)
    await relay.publish_pending()
    await relay.stop()
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(outbox).where(outbox.c.event_id == event.id))).mappings().one()
    assert row["published_at"] is None
    assert row["attempts"] == 1 and row["last_error"]
    async with engine.begin() as conn:
        await conn.execute(outbox.delete().where(outbox.c.event_id == event.id))


async def test_a_relay_woken_as_the_service_stops_still_stops(engine: AsyncEngine, rabbitmq_url: str):
    """A commit waking the relay at the moment the service shuts down must not keep the relay running."""
    for _ in range(20):
        relay = OutboxRelay("test", engine, outbox, rabbitmq_url, poll_interval=30)
        relay.start()
        await asyncio.sleep(0.05)  # parked, waiting to be woken
        relay.wake()
        async with asyncio.timeout(10):
            await relay.stop()


class Recorder:
    def __init__(self, fail_times: int = 0, transient: bool = False) -> None:
        self.calls = 0
        self.fail_times = fail_times
        self.transient = transient

    async def __call__(self, event: ReceivedEvent, conn: AsyncConnection) -> None:
        self.calls += 1
        if self.calls <= self.fail_times:
            raise ConnectionResetError("database went away") if self.transient else ValueError("boom")
        await conn.execute(effects.insert().values(event_id=event.envelope.id))


async def start_consumer(
    rabbitmq_url: str, engine: AsyncEngine, service: str, handler: Recorder, delivery_limit: int = 3
) -> RabbitBroker:
    broker = create_broker(rabbitmq_url)
    consumer = EventConsumer(service, broker, engine, inbox, delivery_limit=delivery_limit, retry_delay=0)
    consumer.subscribe(EventType.ENGAGEMENT_VALIDATED, handler)
    await broker.connect()
    await declare_topology(broker, service)
    await broker.start()
    return broker


async def effect_count(engine: AsyncEngine, event_id: str) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).where(effects.c.event_id == event_id)) or 0)


async def test_a_duplicated_event_has_one_effect(rabbitmq_url: str, engine: AsyncEngine, bus: BusProbe):
    service = f"svc-{uuid.uuid4().hex[:6]}"
    handler = Recorder()
    broker = await start_consumer(rabbitmq_url, engine, service, handler)
    try:
        event = an_event()
        for _ in range(3):
            await bus.publish(event.type, encode_event(event))
        await eventually(lambda: effect_count(engine, event.id))
        await asyncio.sleep(0.5)
        assert await effect_count(engine, event.id) == 1
        assert handler.calls == 1
    finally:
        await broker.stop()


class BySource(Recorder):
    """Records each event's effect under its source and id."""

    async def __call__(self, event: ReceivedEvent, conn: AsyncConnection) -> None:
        self.calls += 1
        await conn.execute(effects.insert().values(event_id=f"{event.envelope.source} {event.envelope.id}"))


async def test_two_producers_events_sharing_an_id_are_both_handled(
    rabbitmq_url: str, engine: AsyncEngine, bus: BusProbe
):
    """CloudEvents makes source + id unique: the same id from another source is another event."""
    service = f"svc-{uuid.uuid4().hex[:6]}"
    handler = BySource()
    broker = await start_consumer(rabbitmq_url, engine, service, handler)
    try:
        ours = an_event()
        theirs = ours.model_copy(update={"source": "/erp/etat"})
        await bus.publish(ours.type, encode_event(ours), as_="engagements")
        await bus.publish(theirs.type, encode_event(theirs), as_="erp-etat")
        await bus.publish(theirs.type, encode_event(theirs), as_="erp-etat")  # a duplicate of theirs
        await eventually(lambda: effect_count(engine, f"/erp/etat {ours.id}"))
        await eventually(lambda: effect_count(engine, f"/tests {ours.id}"))
        await asyncio.sleep(0.5)
        assert handler.calls == 2
    finally:
        await broker.stop()


async def test_malformed_messages_are_dead_lettered_at_once_with_a_reason(
    rabbitmq_url: str, engine: AsyncEngine, bus: BusProbe
):
    service = f"svc-{uuid.uuid4().hex[:6]}"
    handler = Recorder()
    broker = await start_consumer(rabbitmq_url, engine, service, handler)
    try:
        bad = an_event().model_dump(mode="json")
        bad["data"]["total_ht"] = "not money"
        await bus.publish(EventType.ENGAGEMENT_VALIDATED, b"{not json")
        await bus.publish(EventType.ENGAGEMENT_VALIDATED, {"hello": "world"})
        await bus.publish(
            EventType.ENGAGEMENT_VALIDATED, {**an_event().model_dump(mode="json"), "type": "mystery"}
        )
        await bus.publish(EventType.ENGAGEMENT_VALIDATED, bad)
        good = an_event()
        await bus.publish(good.type, encode_event(good))
        dead = await bus.drain(f"{service}.dead-letter", 4)
        reasons = [str(m.headers[DEAD_LETTER_REASON_HEADER]) for m in dead]
        assert [r.split(":")[0] for r in reasons] == [
            "not valid JSON",
            "not a CloudEvent",
            "unknown event type",
            "invalid data",
        ]
        assert dead[0].body == b"{not json"
        await eventually(lambda: effect_count(engine, good.id))
        assert handler.calls == 1
    finally:
        await broker.stop()


async def test_only_the_producers_the_catalogue_allows_have_their_events_handled(
    rabbitmq_url: str, engine: AsyncEngine, bus: BusProbe
):
    """engagement-validated comes from engagements or the State's ERP (erp-etat), never from another
    holder of credentials on the bus; RabbitMQ itself refuses a user_id that is not the connection's."""
    service = f"svc-{uuid.uuid4().hex[:6]}"
    handler = Recorder()
    broker = await start_consumer(rabbitmq_url, engine, service, handler)
    try:
        forged = [an_event(), an_event()]
        await bus.publish(forged[0].type, encode_event(forged[0]), as_="guest")  # the broker's admin
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused, match="access to topic"):
            await bus.publish(forged[1].type, encode_event(forged[1]), as_="edi-depot")
        by_erp, by_service = an_event(), an_event()
        await bus.publish(by_erp.type, encode_event(by_erp), as_="erp-etat")
        await bus.publish(by_service.type, encode_event(by_service), as_="engagements")
        await eventually(lambda: effect_count(engine, by_erp.id))
        await eventually(lambda: effect_count(engine, by_service.id))
        [dead] = await bus.drain(f"{service}.dead-letter", 2, within=3)  # the refused one never came
        assert str(dead.headers[DEAD_LETTER_REASON_HEADER]) == (
            "unauthorized producer: guest may not publish engagement-validated"
        )
        assert [await effect_count(engine, event.id) for event in forged] == [0, 0]
        assert handler.calls == 2
    finally:
        await broker.stop()


async def test_a_failing_handler_is_retried_then_dead_lettered_after_the_delivery_limit(
    rabbitmq_url: str, engine: AsyncEngine, bus: BusProbe
):
    service = f"svc-{uuid.uuid4().hex[:6]}"
    handler = Recorder(fail_times=100)
    broker = await start_consumer(rabbitmq_url, engine, service, handler, delivery_limit=3)
    try:
        event = an_event()
        await bus.publish(event.type, encode_event(event))
        dead = await bus.drain(f"{service}.dead-letter", 1)
        assert len(dead) == 1
        assert "handler failed after 3 deliveries: ValueError('boom')" in str(
            dead[0].headers[DEAD_LETTER_REASON_HEADER]
        )
        assert handler.calls == 3
        assert await effect_count(engine, event.id) == 0
    finally:
        await broker.stop()


async def test_a_transient_failure_is_retried_in_place_not_dead_lettered(
    rabbitmq_url: str, engine: AsyncEngine, bus: BusProbe
):
    service = f"svc-{uuid.uuid4().hex[:6]}"
    handler = Recorder(fail_times=4, transient=True)
    broker = await start_consumer(rabbitmq_url, engine, service, handler, delivery_limit=2)
    try:
        event = an_event()
        await bus.publish(event.type, encode_event(event))
        await eventually(lambda: effect_count(engine, event.id), within=30)
        assert handler.calls == 5
        assert await bus.drain(f"{service}.dead-letter", 1, within=0.5) == []
    finally:
        await broker.stop()


class BatchRecorder:
    """A batch handler writing one effect per event; refuses the events whose number it is told."""

    def __init__(self, refused: str = "") -> None:
        self.batch_sizes: list[int] = []
        self.refused = refused
        self.open = asyncio.Event()  # handling waits until the test opens it

    async def __call__(self, events: list[ReceivedEvent], conn: AsyncConnection) -> None:
        await self.open.wait()
        self.batch_sizes.append(len(events))
        for event in events:
            if isinstance(event.data, EngagementValidated) and event.data.number == self.refused:
                raise InvalidEvent(f"engagement {self.refused} refused")
        await conn.execute(effects.insert(), [{"event_id": event.envelope.id} for event in events])


async def test_batched_events_are_each_handled_once_and_a_bad_one_spoils_only_itself(
    rabbitmq_url: str, engine: AsyncEngine, bus: BusProbe
):
    service = f"svc-{uuid.uuid4().hex[:6]}"
    handler = BatchRecorder(refused="EJ-REFUSED")
    broker = create_broker(rabbitmq_url)
    consumer = EventConsumer(service, broker, engine, inbox, prefetch=100, concurrency=2, batch_size=20)
    consumer.subscribe_batched(EventType.ENGAGEMENT_VALIDATED, handler)
    await broker.connect()
    await declare_topology(broker, service)
    await broker.start()
    events = [an_event(f"EJ-{n}") for n in range(300)]
    refused = an_event("EJ-REFUSED")
    try:
        await bus.publish_many(
            [
                (event.type, encode_event(event))
                for event in [*events[:150], refused, *events[150:], *events[:5]]
            ]
        )
        # Deliveries have piled up behind the first batches meanwhile.
        handler.open.set()

        async def all_handled() -> bool:
            counts = [await effect_count(engine, event.id) for event in events[::30]]
            return all(counts) and await effect_count(engine, events[-1].id) == 1

        await eventually(all_handled, within=30)
        dead = await bus.drain(f"{service}.dead-letter", 1)
        await asyncio.sleep(0.5)
        async with engine.connect() as conn:
            handled = await conn.scalar(
                sa.select(sa.func.count()).where(effects.c.event_id.in_([event.id for event in events]))
            )
        assert handled == len(events), "each event once, duplicates included"
        assert await effect_count(engine, refused.id) == 0
        assert [str(m.headers[DEAD_LETTER_REASON_HEADER]) for m in dead] == ["engagement EJ-REFUSED refused"]
        assert max(handler.batch_sizes) == 20, "waiting events are handled together, at most 20 at once"
    finally:
        await broker.stop()
