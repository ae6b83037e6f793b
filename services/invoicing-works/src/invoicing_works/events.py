"""Events of invoicing-works: `deadline-exceeded` (written by the sweep, see `repository.SWEEP`), and
`works-invoice-status-changed` for each change of a works invoice's status, for integrators; it
consumes only the directory's snapshots."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chorus_common.events import CloudEvent, EventType, WorksInvoiceStatusChanged, build_event
from chorus_common.frames import long_code
from chorus_common.replica import subscribe_replica
from chorus_common.runtime import ServiceRuntime
from invoicing_works.db import replica
from invoicing_works.repository import WorksHistoryEntry


def status_changed(
    invoice: Mapping[Any, Any], entry: WorksHistoryEntry, sequence: int, source: str
) -> CloudEvent:
    """One transition of the works invoice, for integrators."""
    changed = WorksInvoiceStatusChanged(
        invoice_id=str(invoice["id"]),
        number=invoice["number"],
        billing_frame=invoice["billing_frame"],
        billing_frame_code=long_code(invoice["billing_frame"]),
        supplier_structure_id=invoice["supplier_structure_id"],
        moe_structure_id=invoice["moe_structure_id"],
        moa_structure_id=invoice["moa_structure_id"],
        from_status=entry.from_status,
        to_status=entry.to_status,
        step=entry.action,
        capacity=entry.capacity,
        acting_for=entry.acting_for,
        actor_structure_id=entry.actor_structure_id,
        motif=entry.reason,
        sequence=sequence,
        changed_at=entry.at,
    )
    return build_event(
        EventType.WORKS_INVOICE_STATUS_CHANGED, source, changed, entry.at, subject=str(invoice["id"])
    )


def register_events(runtime: ServiceRuntime) -> None:
    runtime.declare_publication(EventType.DEADLINE_EXCEEDED)
    runtime.declare_feed(EventType.WORKS_INVOICE_STATUS_CHANGED)
    subscribe_replica(runtime, replica)
