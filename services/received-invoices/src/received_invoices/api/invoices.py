"""`/invoices`: received invoices, their deposit, work lists, and the delegate's and recipient's actions."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from chorus_common.dependencies import UnitOfWorkDep
from chorus_common.events import InvoiceSubmitted
from chorus_common.http import ExactJSONRoute, Page, Pagination, page_of
from received_invoices import use_cases
from received_invoices.domain import Action, InvoiceStatus, Right

router = APIRouter(prefix="/invoices", tags=["received invoices"], route_class=ExactJSONRoute)


class InvoiceIn(InvoiceSubmitted):
    """An invoice deposited over HTTP: the `invoice-submitted` data, checked strictly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _consistent(self) -> InvoiceIn:
        if self.amount_ht + self.vat_amount != self.amount_ttc:
            raise ValueError("amount_ttc must equal amount_ht + vat_amount")
        return self


class HistoryOut(BaseModel):
    action: str
    from_status: str | None
    to_status: str
    actor: str
    actor_structure_id: str
    capacity: str
    reason: str | None
    at: datetime


class InvoiceSummary(BaseModel):
    id: uuid.UUID
    external_id: str
    number: str
    billing_frame: str
    status: InvoiceStatus
    supplier_structure_id: str
    recipient_structure_id: str
    recipient_service_code: str | None
    delegate_structure_id: str | None
    delegation_right: Right | None
    validation_decision: str | None
    amount_ttc: Decimal
    currency: str
    received_at: datetime


class InvoiceOut(InvoiceSummary):
    source: str
    supplier: dict[str, str | None]
    recipient: dict[str, str | None]
    amount_ht: Decimal
    vat_amount: Decimal
    issue_date: date
    delegation_id: uuid.UUID | None
    with_recipient: bool
    history: list[HistoryOut]
    updated_at: datetime


class InvoiceActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Action
    reason: Annotated[str | None, Field(max_length=2000)] = None


@router.post("", status_code=status.HTTP_201_CREATED, response_model=InvoiceOut)
async def deposit_invoice(uow: UnitOfWorkDep, response: Response, body: InvoiceIn) -> InvoiceOut:
    invoice, created = await use_cases.deposit_invoice(uow, body)
    if not created:
        response.status_code = status.HTTP_200_OK  # the same external_id again: nothing new
    return InvoiceOut.model_validate(invoice)


@router.get("", response_model=Page[InvoiceSummary])
async def list_invoices(
    uow: UnitOfWorkDep,
    pagination: Pagination,
    work_list: Annotated[Literal["to-validate", "received", "deposited"], Query(alias="list")],
    status: InvoiceStatus | None = None,
) -> Page[InvoiceSummary]:
    rows, total = await use_cases.invoices(uow, work_list, status, pagination.offset, pagination.page_size)
    return page_of(InvoiceSummary, rows, total, pagination)


@router.get("/{invoice_id}", response_model=InvoiceOut)
async def get_invoice(uow: UnitOfWorkDep, invoice_id: uuid.UUID) -> InvoiceOut:
    return InvoiceOut.model_validate(await use_cases.invoice(uow, invoice_id))


@router.post("/{invoice_id}/actions", response_model=InvoiceOut)
async def act_on_invoice(uow: UnitOfWorkDep, invoice_id: uuid.UUID, body: InvoiceActionIn) -> InvoiceOut:
    return InvoiceOut.model_validate(
        await use_cases.act_on_invoice(uow, invoice_id, body.action, body.reason)
    )
