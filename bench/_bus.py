"""The bus side of the event benchmarks: publishing as fast as confirms allow, and the raw baseline."""

from __future__ import annotations

import asyncio
import time

import aio_pika

from chorus_common.messaging.accounts import dev_account_url
from chorus_testing.fixtures import producer_for

EVENTS_EXCHANGE = "chorus.events"


def producer_url(url: str, event_type: str) -> str:
    """`url` as the producer a benchmark publishes `event_type` as (the harness's vhosts have the
    accounts): the platform's consumers handle events only from the producers the catalogue allows."""
    return dev_account_url(url, producer_for(event_type))


async def publish_all(
    channel: aio_pika.abc.AbstractChannel,
    bodies: list[bytes],
    routing_key: str,
    window: int = 500,
    user_id: str | None = None,
) -> None:
    """Persistent messages, `window` of them awaiting their confirms at a time, as `user_id` (the
    channel's connection user) when given."""
    exchange = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
    for start in range(0, len(bodies), window):
        await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(body, delivery_mode=2, user_id=user_id), routing_key=routing_key
                )
                for body in bodies[start : start + window]
            )
        )


async def raw_baseline_seconds(url: str, bodies: list[bytes], prefetch: int = 32) -> float:
    """Seconds for raw aio-pika to publish `bodies` persistent with confirms to a quorum queue and to
    consume them with acks, doing no work: the most the bus itself allows on this machine."""
    connection = await aio_pika.connect_robust(url)
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue("bench.baseline", durable=True, arguments={"x-queue-type": "quorum"})
    await queue.bind(exchange, "bench-baseline")
    consumer_connection = await aio_pika.connect_robust(url)
    consumer_channel = await consumer_connection.channel()
    await consumer_channel.set_qos(prefetch_count=prefetch)
    consumed = 0
    finished = asyncio.Event()

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        nonlocal consumed
        await message.ack()
        consumed += 1
        if consumed >= len(bodies):
            finished.set()

    consumer_queue = await consumer_channel.get_queue("bench.baseline")
    await consumer_queue.consume(on_message)
    started = time.perf_counter()
    await publish_all(channel, bodies, "bench-baseline")
    await finished.wait()
    elapsed = time.perf_counter() - started
    await consumer_connection.close()
    await connection.close()
    return elapsed
