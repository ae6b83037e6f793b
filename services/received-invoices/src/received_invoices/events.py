"""Events of received-invoices: `invoice-submitted` consumed (received like an HTTP deposit);
`delegation-routed` built here and published when an A1 invoice goes to a delegated validator;
`delegation-updated`, a delegation's snapshot, when one is made or revoked (the directory derives
`estValideurDelegue` from them)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chorus_common.events import (
    CloudEvent,
    DelegationRouted,
    DelegationSnapshot,
    EventType,
    InvalidEvent,
    InvoiceSubmitted,
    Party,
    build_event,
)
from chorus_common.messaging.consumer import ReceivedEvent
from chorus_common.replica import subscribe_replica
from chorus_common.runtime import ServiceRuntime
from chorus_common.unit_of_work import UnitOfWork
from received_invoices import use_cases
from received_invoices.db import replica
from received_invoices.repository import Addressee


def delegation_routed(
    invoice_id: uuid.UUID,
    data: InvoiceSubmitted,
    supplier: Party,
    recipient: Party,
    addressee: Addressee,
    source: str,
    routed_at: datetime,
) -> CloudEvent:
    assert addressee.delegate_id and addressee.delegate_name
    routed = DelegationRouted(
        invoice_id=str(invoice_id),
        number=data.number,
        billing_frame="A1",
        supplier=supplier,
        recipient=recipient,
        delegate=Party(
            structure_id=addressee.delegate_id, name=addressee.delegate_name, email=addressee.delegate_email
        ),
        right=addressee.delegation_right,
        delegation_id=str(addressee.delegation_id),
        amount_ttc=data.amount_ttc,
        currency=data.currency,
        routed_at=routed_at,
    )
    return build_event(EventType.DELEGATION_ROUTED, source, routed, routed_at, subject=str(invoice_id))


def delegation_updated(row: Mapping[str, Any], source: str, at: datetime) -> CloudEvent:
    """The delegation whole, version 1 while active and 2 once revoked (its only change)."""
    snapshot = DelegationSnapshot(
        delegation_id=str(row["id"]),
        delegator_structure_id=row["delegator_structure_id"],
        delegate_structure_id=row["delegate_structure_id"],
        right=row["right"],
        scope=row["scope"],
        service_codes=list(row["service_codes"]),
        start_date=row["start_date"],
        end_date=row["end_date"],
        status=row["status"],
        version=1 if row["status"] == "ACTIVE" else 2,
        updated_at=at,
    )
    return build_event(EventType.DELEGATION_UPDATED, source, snapshot, at, subject=str(row["id"]))


async def on_invoice_submitted(event: ReceivedEvent, uow: UnitOfWork) -> None:
    assert isinstance(event.data, InvoiceSubmitted)
    source = event.envelope.source
    try:
        await use_cases.receive_invoice(uow, event.data, source, actor=source)
    except use_cases.InvoiceRefused as refused:
        raise InvalidEvent(f"invoice refused: {refused}") from refused


def register_events(runtime: ServiceRuntime) -> None:
    runtime.declare_publication(EventType.DELEGATION_ROUTED)
    runtime.declare_publication(EventType.DELEGATION_UPDATED)
    runtime.subscribe(EventType.INVOICE_SUBMITTED, on_invoice_submitted)
    subscribe_replica(runtime, replica)
