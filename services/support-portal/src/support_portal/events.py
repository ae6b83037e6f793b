"""Events of the support portal: it publishes `ticket-submitted` and `ticket-updated`, consumes none."""

from __future__ import annotations

from chorus_common.events import EventType
from chorus_common.runtime import ServiceRuntime


def register_events(runtime: ServiceRuntime) -> None:
    runtime.declare_publication(EventType.TICKET_SUBMITTED)
    runtime.declare_publication(EventType.TICKET_UPDATED)
