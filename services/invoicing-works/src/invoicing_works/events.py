"""Events of invoicing-works: `deadline-exceeded` (written by the sweep, see `repository.SWEEP`), and
`works-invoice-status-changed` for each change of a works invoice's status, for integrators; it
consumes only the directory's snapshots."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chorus_common.events import CloudEvent, EventType, WorksInvoiceStatusChanged, build_event, transition
from chorus_common.replica import subscribe_replica
from chorus_common.runtime import ServiceRuntime
from invoicing_works.db import replica
from invoicing_works.repository import WorksHistoryEntry


def status_changed(
    invoice: Mapping[Any, Any], entry: WorksHistoryEntry, sequence: int, source: str
) -> CloudEvent:
    """One transition of the works invoice, for integrators."""
    changed = WorksInvoiceStatusChanged(
        **transition(invoice, entry, sequence),
        supplier_structure_id=invoice["supplier_structure_id"],
        moe_structure_id=invoice["moe_structure_id"],
        moa_structure_id=invoice["moa_structure_id"],
        acting_for=entry.acting_for,
        motif=entry.reason,
    )
    return build_event(
        EventType.WORKS_INVOICE_STATUS_CHANGED, source, changed, entry.at, subject=str(invoice["id"])
    )


def register_events(runtime: ServiceRuntime) -> None:
    runtime.declare_publication(EventType.DEADLINE_EXCEEDED)
    runtime.declare_feed(EventType.WORKS_INVOICE_STATUS_CHANGED)
    subscribe_replica(runtime, replica)
