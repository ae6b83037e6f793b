"""Exchanges and queues of the bus (DESIGN.md §4), declared idempotently by each service."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
)
from faststream.rabbit.schemas.queue import QuorumQueueArgs

EVENTS_EXCHANGE = RabbitExchange("chorus.events", type=ExchangeType.TOPIC, durable=True)
DEAD_LETTER_EXCHANGE = RabbitExchange("chorus.dead-letter", type=ExchangeType.DIRECT, durable=True)

DEAD_LETTER_REASON_HEADER = "x-chorus-dead-letter-reason"


def subscription_queue_name(service: str, event_type: str) -> str:
    return f"{service}.{event_type}"


def dead_letter_queue_name(service: str) -> str:
    return f"{service}.dead-letter"


def quorum_arguments(service: str, delivery_limit: int) -> QuorumQueueArgs:
    return {
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE.name,
        "x-dead-letter-routing-key": service,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def subscription_queue(service: str, event_type: str, delivery_limit: int) -> RabbitQueue:
    """The durable quorum queue of one subscription, dead-lettering into the service's DLQ."""
    return RabbitQueue(
        subscription_queue_name(service, event_type),
        queue_type=QueueType.QUORUM,
        durable=True,
        arguments=quorum_arguments(service, delivery_limit),
        routing_key=event_type,
    )


def dead_letter_queue(service: str) -> RabbitQueue:
    return RabbitQueue(
        dead_letter_queue_name(service),
        queue_type=QueueType.QUORUM,
        durable=True,
        routing_key=service,
    )


def feed_queue_name(service: str, event_type: str) -> str:
    return f"{service}.feed.{event_type}"


# How many events a feed keeps for the systems outside the platform that read it; beyond, the oldest go.
FEED_MAX_LENGTH = 100_000


def feed_queue(service: str, event_type: str, max_length: int = FEED_MAX_LENGTH) -> RabbitQueue:
    """The queue that keeps an event type published for systems outside the platform (integrators),
    so that it is routed even before any of them has bound a queue of its own: every publish is
    mandatory, and an event nobody's queue takes is refused. Bounded, dropping its oldest first, so
    that a feed nobody reads does not grow without end; an integrator reads it, or binds its own
    queue to the routing key."""
    return RabbitQueue(
        feed_queue_name(service, event_type),
        queue_type=QueueType.QUORUM,
        durable=True,
        arguments={"x-max-length": max_length, "x-overflow": "drop-head"},
        routing_key=event_type,
    )


def create_broker(rabbitmq_url: str) -> RabbitBroker:
    """A broker whose default channel confirms every publish and raises on unroutable ones.

    Without FastStream's dependency injection: subscribers take the message itself (see
    `EventConsumer`), and resolving it by injection costs a thread hop per message.
    """
    return RabbitBroker(
        rabbitmq_url,
        apply_types=False,
        default_channel=Channel(publisher_confirms=True, on_return_raises=True),
        reconnect_interval=2.0,
        log_level=logging.DEBUG,
        graceful_timeout=10.0,
    )


async def declare_topology(broker: RabbitBroker, service: str, feeds: Iterable[str] = ()) -> None:
    """Declare both exchanges, the service's dead-letter queue and its feeds (idempotent)."""
    events = await broker.declare_exchange(EVENTS_EXCHANGE)
    dead_letters = await broker.declare_exchange(DEAD_LETTER_EXCHANGE)
    queue = await broker.declare_queue(dead_letter_queue(service))
    await queue.bind(dead_letters, routing_key=service)
    for event_type in feeds:
        feed = await broker.declare_queue(feed_queue(service, event_type))
        await feed.bind(events, routing_key=event_type)
