"""Events of the gateway: it reads the directory (structures, services, users, technical accounts),
publishes the invoices of its flows (`invoice-submitted`), learns from received-invoices how each ended
(its first `invoice-status-changed`, or `invoice-refused`), and keeps every received and works invoice
and every engagement as its status events describe it, for the searches of factures/v1,
facturesTravaux/v1 and engagementsJuridiques/v1."""

from __future__ import annotations

from chorus_common.events import (
    EngagementStatusChanged,
    EventType,
    InvoiceRefused,
    InvoiceStatusChanged,
    TechnicalAccountSnapshot,
    WorksInvoiceStatusChanged,
)
from chorus_common.messaging.consumer import ReceivedEvent
from chorus_common.replica import subscribe_replica
from chorus_common.runtime import ServiceRuntime
from chorus_common.unit_of_work import UnitOfWork
from piste_gateway import flows, repository
from piste_gateway.db import replica


async def on_technical_accounts(events: list[ReceivedEvent], uow: UnitOfWork) -> None:
    for event in events:
        assert isinstance(event.data, TechnicalAccountSnapshot)
        await repository.apply_technical_account(uow.conn, event.data)


async def on_invoice_events(events: list[ReceivedEvent], uow: UnitOfWork) -> None:
    for event in events:
        data = event.data
        if isinstance(data, InvoiceStatusChanged):
            await repository.apply_invoice_status(uow.conn, data)
            if data.from_status is None:
                await flows.integrated(uow, data.external_id, data.supplier_structure_id, data.invoice_id)
        elif isinstance(data, WorksInvoiceStatusChanged):
            await repository.apply_works_invoice_status(uow.conn, data)
        elif isinstance(data, EngagementStatusChanged):
            await repository.apply_engagement_status(uow.conn, data)
        elif isinstance(data, InvoiceRefused) and data.submitted_by == uow.source:
            await flows.refused(uow, data.external_id, data.supplier_structure_id, data.reason)


def register_events(runtime: ServiceRuntime) -> None:
    subscribe_replica(runtime, replica)
    runtime.subscribe_batched([EventType.TECHNICAL_ACCOUNT_UPDATED], on_technical_accounts)
    runtime.declare_publication(EventType.INVOICE_SUBMITTED)
    runtime.subscribe_batched(
        [
            EventType.INVOICE_STATUS_CHANGED,
            EventType.INVOICE_REFUSED,
            EventType.WORKS_INVOICE_STATUS_CHANGED,
            EventType.ENGAGEMENT_STATUS_CHANGED,
        ],
        on_invoice_events,
    )
