"""Subscribers of notifications: every event that may mean a mail, handled in batches."""

from __future__ import annotations

from chorus_common.events import EventType
from chorus_common.messaging.consumer import ReceivedEvent
from chorus_common.runtime import ServiceRuntime
from chorus_common.unit_of_work import UnitOfWork
from notifications.use_cases import Notifier

SUBSCRIBED_EVENTS = (
    EventType.DEADLINE_EXCEEDED,
    EventType.DELEGATION_ROUTED,
    EventType.ENGAGEMENT_VALIDATED,
    EventType.TICKET_SUBMITTED,
    EventType.TICKET_UPDATED,
)


def register_subscribers(runtime: ServiceRuntime, notifier: Notifier) -> None:
    async def on_events(events: list[ReceivedEvent], uow: UnitOfWork) -> None:
        await notifier.notify(uow, events)

    runtime.subscribe_batched(SUBSCRIBED_EVENTS, on_events)
