"""Exchanges and queues of the bus (DESIGN.md §4), declared idempotently by each service."""

from __future__ import annotations

import logging

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


async def declare_topology(broker: RabbitBroker, service: str) -> None:
    """Declare both exchanges and the service's dead-letter queue (idempotent)."""
    events = await broker.declare_exchange(EVENTS_EXCHANGE)
    dead_letters = await broker.declare_exchange(DEAD_LETTER_EXCHANGE)
    queue = await broker.declare_queue(dead_letter_queue(service))
    await queue.bind(dead_letters, routing_key=service)
    del events
