"""Events of invoicing-works: it publishes `deadline-exceeded` (written by the sweep, see
`repository.SWEEP`) and consumes none."""

from __future__ import annotations

from chorus_common.events import EventType
from chorus_common.replica import subscribe_replica
from chorus_common.runtime import ServiceRuntime
from invoicing_works.db import replica


def register_events(runtime: ServiceRuntime) -> None:
    runtime.declare_publication(EventType.DEADLINE_EXCEEDED)
    subscribe_replica(runtime, replica)
