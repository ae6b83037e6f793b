"""Events of received-invoices: `invoice-submitted` consumed (received like an HTTP deposit, and
answered with `invoice-refused` when refused); published through the outbox: `delegation-routed`
when an A1 invoice goes to a delegated validator, `delegation-updated`, a delegation's snapshot, when
one is made, modified or revoked (the directory derives `estValideurDelegue` from them),
`delegation-ended` when one ends (revoked, or past its end date), and `invoice-status-changed` for
each change of an invoice's status."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chorus_common.events import (
    CloudEvent,
    DelegationEnded,
    DelegationRouted,
    DelegationSnapshot,
    EngagementValidated,
    EventType,
    InvoiceRefused,
    InvoiceStatusChanged,
    InvoiceSubmitted,
    Party,
    build_event,
    transition,
)
from chorus_common.history import HistoryEntry
from chorus_common.messaging.consumer import ReceivedEvent
from chorus_common.replica import subscribe_replica
from chorus_common.runtime import ServiceRuntime
from chorus_common.unit_of_work import UnitOfWork
from received_invoices import repository, use_cases
from received_invoices.db import replica
from received_invoices.domain import MOTIVATED


def _party(value: Mapping[Any, Any]) -> Party:
    return Party.model_validate(value)


def delegation_routed(invoice: Mapping[Any, Any], source: str, routed_at: datetime) -> CloudEvent:
    """An invoice routed to its delegate (notifications mails the delegate)."""
    routed = DelegationRouted(
        invoice_id=str(invoice["id"]),
        number=invoice["number"],
        billing_frame="A1",
        supplier=_party(invoice["supplier"]),
        recipient=_party(invoice["recipient"]),
        delegate=_party(invoice["delegate"]),
        right=invoice["delegation_right"],
        delegation_id=str(invoice["delegation_id"]),
        amount_ttc=invoice["amount_ttc"],
        currency=invoice["currency"],
        routed_at=routed_at,
    )
    return build_event(EventType.DELEGATION_ROUTED, source, routed, routed_at, subject=str(invoice["id"]))


def delegation_updated(row: Mapping[Any, Any], source: str, at: datetime) -> CloudEvent:
    """The delegation whole, at its current version (made, modified, revoked)."""
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
        version=row["version"],
        updated_at=at,
    )
    return build_event(EventType.DELEGATION_UPDATED, source, snapshot, at, subject=str(row["id"]))


def delegation_ended(
    row: Mapping[Any, Any],
    structures: Mapping[str, Mapping[Any, Any] | None],
    reason: str,
    returned: int,
    source: str,
    at: datetime,
) -> CloudEvent:
    """The delegation ended; `structures` are the delegator and delegate as the read model has them."""

    def party(structure_id: str) -> Party:
        known = structures.get(structure_id)
        name = known["name"] if known is not None else structure_id
        email = known["email"] if known is not None else None
        return Party(structure_id=structure_id, name=name, email=email)

    ended = DelegationEnded(
        delegation_id=str(row["id"]),
        delegator=party(row["delegator_structure_id"]),
        delegate=party(row["delegate_structure_id"]),
        right=row["right"],
        reason=reason,
        end_date=row["end_date"],
        invoices_returned=returned,
        ended_at=at,
    )
    return build_event(EventType.DELEGATION_ENDED, source, ended, at, subject=str(row["id"]))


def status_changed(invoice: Mapping[Any, Any], entry: HistoryEntry, sequence: int, source: str) -> CloudEvent:
    """One transition of the invoice, for integrators."""
    changed = InvoiceStatusChanged(
        **transition(invoice, entry, sequence),
        external_id=invoice["external_id"],
        supplier_structure_id=invoice["supplier_structure_id"],
        recipient_structure_id=invoice["recipient_structure_id"],
        recipient_service_code=invoice["recipient_service_code"],
        delegate_structure_id=invoice["delegate_structure_id"],
        motif=entry.reason if entry.to_status in MOTIVATED else None,
        issue_date=invoice["issue_date"],
        engagement_number=invoice["engagement_number"],
    )
    return build_event(
        EventType.INVOICE_STATUS_CHANGED, source, changed, entry.at, subject=str(invoice["id"])
    )


async def on_invoice_submitted(event: ReceivedEvent, uow: UnitOfWork) -> None:
    """Receive the invoice; one refused (nothing written before the refusal) is answered with an
    `invoice-refused` event in the same transaction, and the message acknowledged."""
    data = event.data
    assert isinstance(data, InvoiceSubmitted)
    source = event.envelope.source
    try:
        await use_cases.receive_invoice(uow, data, source, actor=source)
    except use_cases.InvoiceRefused as refused:
        await uow.publish(invoice_refused(data, source, str(refused), uow.source, uow.now()))


def invoice_refused(
    data: InvoiceSubmitted, submitted_by: str, reason: str, source: str, at: datetime
) -> CloudEvent:
    refused = InvoiceRefused(
        external_id=data.external_id,
        number=data.number,
        supplier_structure_id=data.supplier.structure_id,
        submitted_by=submitted_by,
        reason=reason[:1000],
        refused_at=at,
    )
    return build_event(EventType.INVOICE_REFUSED, source, refused, at, subject=data.external_id)


async def on_engagement_validated(event: ReceivedEvent, uow: UnitOfWork) -> None:
    """An engagement its issuer validated: invoices to that issuer may now reference it."""
    assert isinstance(event.data, EngagementValidated)
    data = event.data
    await repository.record_engagement(
        uow.conn,
        {
            "issuer_structure_id": data.issuer.structure_id,
            "number": data.number,
            "engagement_id": data.engagement_id,
            "supplier_structure_id": data.supplier.structure_id,
            "total_ttc": data.total_ttc,
            "currency": data.currency,
            "validated_at": data.validated_at,
        },
    )


def register_events(runtime: ServiceRuntime) -> None:
    runtime.declare_publication(EventType.DELEGATION_ROUTED)
    runtime.declare_publication(EventType.DELEGATION_UPDATED)
    runtime.declare_publication(EventType.DELEGATION_ENDED)
    runtime.declare_feed(EventType.INVOICE_STATUS_CHANGED)
    runtime.declare_feed(EventType.INVOICE_REFUSED)
    runtime.subscribe(EventType.INVOICE_SUBMITTED, on_invoice_submitted)
    runtime.subscribe(EventType.ENGAGEMENT_VALIDATED, on_engagement_validated)
    subscribe_replica(runtime, replica)
