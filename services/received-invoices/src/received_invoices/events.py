"""Events: `invoice-submitted` consumed (routed like an HTTP deposit); `delegation-routed` published."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.events import EventType, InvalidEvent, InvoiceSubmitted
from chorus_common.messaging.consumer import ReceivedEvent
from chorus_common.runtime import ServiceRuntime
from received_invoices.receiving import InvoiceRefused, receive_invoice


class SubmittedInvoiceHandler:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime

    async def __call__(self, event: ReceivedEvent, conn: AsyncConnection) -> None:
        assert isinstance(event.data, InvoiceSubmitted)
        try:
            await receive_invoice(
                conn, self._runtime, event.data, event.envelope.source, actor=event.envelope.source
            )
        except InvoiceRefused as refused:
            raise InvalidEvent(f"invoice refused: {refused}") from refused


def register_events(runtime: ServiceRuntime) -> None:
    runtime.declare_publication(EventType.DELEGATION_ROUTED)
    runtime.subscribe(EventType.INVOICE_SUBMITTED, SubmittedInvoiceHandler(runtime))
