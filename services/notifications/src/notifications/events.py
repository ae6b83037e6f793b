"""Subscribers of notifications: every event that may mean a mail, handled in batches."""

from __future__ import annotations

from chorus_common.events import EventType
from chorus_common.replica import subscribe_replica
from chorus_common.runtime import ServiceRuntime
from notifications.db import replica
from notifications.use_cases import Notifier

SUBSCRIBED_EVENTS = (
    EventType.DEADLINE_EXCEEDED,
    EventType.DELEGATION_ENDED,
    EventType.DELEGATION_ROUTED,
    EventType.ENGAGEMENT_VALIDATED,
    EventType.TICKET_SUBMITTED,
    EventType.TICKET_UPDATED,
)


def register_subscribers(runtime: ServiceRuntime, notifier: Notifier) -> None:
    runtime.subscribe_batched(SUBSCRIBED_EVENTS, notifier.notify)
    subscribe_replica(runtime, replica)
