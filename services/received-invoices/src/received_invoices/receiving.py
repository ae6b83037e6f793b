"""One code path for every invoice that arrives, by HTTP or as an `invoice-submitted` event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.clock import paris_day
from chorus_common.events import DelegationRouted, EventType, InvoiceSubmitted, Party, build_event
from chorus_common.runtime import ServiceRuntime
from received_invoices import repository
from received_invoices.domain import ROUTED_FRAME, InvoiceStatus, StructureKind


class InvoiceRefused(Exception):
    """The invoice cannot be received (unknown recipient, inactive service); the reason says why."""


@dataclass(frozen=True)
class Received:
    invoice_id: uuid.UUID
    created: bool


async def receive_invoice(
    conn: AsyncConnection, runtime: ServiceRuntime, data: InvoiceSubmitted, source: str, actor: str
) -> Received:
    """Record an invoice and route it: an A1 covered by a delegation goes to the delegate."""
    recipient_id = data.recipient.structure_id
    service_code = data.recipient.service_code
    now = runtime.clock.now()
    routed = data.billing_frame == ROUTED_FRAME
    addressee = await repository.find_addressee(conn, recipient_id, service_code, paris_day(now), routed)
    if addressee is None or addressee.kind != StructureKind.PUBLIC:
        raise InvoiceRefused(f"recipient {recipient_id!r} is not a public structure of the directory")
    if service_code is not None and not addressee.service_active:
        raise InvoiceRefused(f"service {service_code!r} of {recipient_id!r} does not exist or is inactive")

    delegated = addressee.delegation_id is not None
    status = InvoiceStatus.A_VALIDER_1 if delegated else InvoiceStatus.MISE_A_DISPOSITION
    invoice_id = uuid.uuid4()
    recipient_party = Party(
        structure_id=recipient_id, name=addressee.name, email=addressee.email, service_code=service_code
    )
    values = {
        "id": invoice_id,
        "external_id": data.external_id,
        "source": source,
        "number": data.number,
        "billing_frame": data.billing_frame,
        "supplier_structure_id": data.supplier.structure_id,
        "recipient_structure_id": recipient_id,
        "recipient_service_code": service_code,
        "supplier": data.supplier.model_dump(mode="json"),
        "recipient": recipient_party.model_dump(mode="json"),
        "amount_ht": data.amount_ht,
        "vat_amount": data.vat_amount,
        "amount_ttc": data.amount_ttc,
        "currency": data.currency,
        "issue_date": data.issue_date,
        "status": status,
        "delegation_id": addressee.delegation_id,
        "delegate_structure_id": addressee.delegate_id,
        "delegation_right": addressee.delegation_right,
        "validation_decision": None,
        "with_recipient": not delegated,
        "received_at": now,
        "updated_at": now,
    }
    if not await repository.insert_invoice_once(conn, values):
        existing = await repository.find_invoice(conn, data.supplier.structure_id, data.external_id)
        assert existing is not None
        return Received(existing["id"], created=False)
    await repository.add_history(
        conn,
        invoice_id,
        repository.HistoryEntry(
            action="DEPOT",
            from_status=None,
            to_status=status,
            actor=actor,
            actor_structure_id=data.supplier.structure_id,
            capacity="FOURNISSEUR",
            reason=f"delegated to {addressee.delegate_id}" if delegated else None,
            at=now,
        ),
    )
    if delegated:
        assert addressee.delegate_id and addressee.delegate_name and addressee.delegate_email
        routed_event = DelegationRouted(
            invoice_id=str(invoice_id),
            number=data.number,
            billing_frame="A1",
            supplier=data.supplier,
            recipient=recipient_party,
            delegate=Party(
                structure_id=addressee.delegate_id,
                name=addressee.delegate_name,
                email=addressee.delegate_email,
            ),
            right=addressee.delegation_right,
            delegation_id=str(addressee.delegation_id),
            amount_ttc=data.amount_ttc,
            currency=data.currency,
            routed_at=now,
        )
        event = build_event(
            EventType.DELEGATION_ROUTED,
            runtime.settings.event_source,
            routed_event,
            now,
            subject=str(invoice_id),
        )
        await runtime.publish(conn, event)
    return Received(invoice_id, created=True)
