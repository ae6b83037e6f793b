"""Events of the support portal: it publishes `ticket-submitted` and `ticket-updated`, consumes none."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chorus_common.db import Row
from chorus_common.events import (
    CloudEvent,
    EventType,
    TicketRecipient,
    TicketSubmitted,
    TicketUpdated,
    build_event,
)
from chorus_common.replica import subscribe_replica
from chorus_common.runtime import ServiceRuntime
from support_portal.db import replica
from support_portal.referential import Referential


def ticket_event(
    event_type: EventType, ticket: Row, referential: Referential, source: str, at: datetime, **extra: Any
) -> CloudEvent:
    model = TicketSubmitted if event_type is EventType.TICKET_SUBMITTED else TicketUpdated
    data = model(
        ticket_id=str(ticket["id"]),
        reference=ticket["reference"],
        category=ticket["category"],
        category_label=referential.label(ticket["category"]),
        status=ticket["status"],
        requester_email=ticket["requester_email"],
        recipient=TicketRecipient.model_validate(ticket["recipient"]),
        **extra,
    )
    return build_event(event_type, source, data, at, subject=str(ticket["id"]))


def register_events(runtime: ServiceRuntime) -> None:
    runtime.declare_publication(EventType.TICKET_SUBMITTED)
    runtime.declare_publication(EventType.TICKET_UPDATED)
    subscribe_replica(runtime, replica)
