"""The event contract: the CloudEvents envelope and the catalogue of event types."""

from chorus_common.events.catalogue import (
    CATALOGUE,
    DeadlineExceeded,
    DelegationRouted,
    EngagementValidated,
    EventData,
    EventType,
    InvalidEvent,
    InvoiceSubmitted,
    IssuerParty,
    Party,
    TicketEvent,
    TicketRecipient,
    TicketSubmitted,
    TicketUpdated,
    parse_event,
)
from chorus_common.events.envelope import (
    CLOUDEVENTS_CONTENT_TYPE,
    CloudEvent,
    build_event,
    encode_event,
)

__all__ = [
    "CATALOGUE",
    "CLOUDEVENTS_CONTENT_TYPE",
    "CloudEvent",
    "DeadlineExceeded",
    "DelegationRouted",
    "EngagementValidated",
    "EventData",
    "EventType",
    "InvalidEvent",
    "InvoiceSubmitted",
    "IssuerParty",
    "Party",
    "TicketEvent",
    "TicketRecipient",
    "TicketSubmitted",
    "TicketUpdated",
    "build_event",
    "encode_event",
    "parse_event",
]
