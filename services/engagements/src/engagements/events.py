"""Events of engagements: `engagement-validated` is built here and published on validation (the ones
a State system sends are recorded), `engagement-status-changed` on every transition of an engagement,
its creation and its record from another system included."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chorus_common.events import (
    CloudEvent,
    EngagementStatusChanged,
    EngagementValidated,
    EventType,
    IssuerParty,
    Party,
    build_event,
)
from chorus_common.history import HistoryEntry
from chorus_common.messaging.consumer import ReceivedEvent
from chorus_common.replica import subscribe_replica
from chorus_common.runtime import ServiceRuntime
from chorus_common.unit_of_work import UnitOfWork
from engagements import use_cases
from engagements.db import replica


def engagement_validated(row: Mapping[str, Any], source: str) -> CloudEvent:
    data = EngagementValidated(
        number=row["number"],
        issuer=IssuerParty.model_validate(row["issuer"]),
        supplier=Party.model_validate(row["supplier"]),
        total_ht=row["total_ht"],
        total_ttc=row["total_ttc"],
        currency=row["currency"],
        validated_at=row["validated_at"],
        engagement_id=str(row["id"]),
    )
    return build_event(
        EventType.ENGAGEMENT_VALIDATED, source, data, time=row["validated_at"], subject=str(row["id"])
    )


def engagement_status_changed(
    row: Mapping[str, Any], entry: HistoryEntry, sequence: int, source: str
) -> CloudEvent:
    """One transition of the engagement `row` (as it was before it), as its history `entry` says."""
    data = EngagementStatusChanged(
        engagement_id=str(row["id"]),
        number=row["number"],
        type=row["type"],
        issuer_structure_id=row["issuer_structure_id"],
        supplier_structure_id=row["supplier_structure_id"],
        from_status=entry.from_status,
        to_status=entry.to_status,
        step=entry.action,
        motif=entry.reason,
        sequence=sequence,
        changed_at=entry.at,
        amount_ht=row["total_ht"],
        vat_amount=row["total_vat"],
        amount_ttc=row["total_ttc"],
        currency=row["currency"],
    )
    return build_event(
        EventType.ENGAGEMENT_STATUS_CHANGED, source, data, time=entry.at, subject=str(row["id"])
    )


async def on_engagement_validated(event: ReceivedEvent, uow: UnitOfWork) -> None:
    """An engagement validated elsewhere; this service's own announcements are already recorded."""
    if event.envelope.source == uow.source:
        return
    assert isinstance(event.data, EngagementValidated)
    await use_cases.record_external_engagement(uow, event.data, event.envelope.source, event.envelope.id)


def register_events(runtime: ServiceRuntime) -> None:
    runtime.declare_publication(EventType.ENGAGEMENT_VALIDATED)
    runtime.declare_publication(EventType.ENGAGEMENT_STATUS_CHANGED)
    runtime.subscribe(EventType.ENGAGEMENT_VALIDATED, on_engagement_validated)
    subscribe_replica(runtime, replica)
