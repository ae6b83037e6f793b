"""`/invoices`: received invoices, their deposit, work lists, their processing by the recipient or its
delegate, the supplier's completion, recycling and 'Traiter le rejet'."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from chorus_common.attachments import AttachmentOut, UploadDep, download
from chorus_common.auth import CurrentPrincipal
from chorus_common.dependencies import UnitOfWorkDep
from chorus_common.events import InvoiceSubmitted
from chorus_common.frames import long_code
from chorus_common.http import ExactJSONRoute, Page, Pagination, PartyRefIn, page_of
from chorus_common.rejections import RejectionsIn, RejectionsOut
from received_invoices import use_cases
from received_invoices.domain import TRANSITIONS, InvoiceStatus, Right, Role

router = APIRouter(prefix="/invoices", tags=["received invoices"], route_class=ExactJSONRoute)


class InvoiceIn(InvoiceSubmitted):
    """An invoice deposited over HTTP: the `invoice-submitted` data, checked strictly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _consistent(self) -> InvoiceIn:
        if self.amount_ht + self.vat_amount != self.amount_ttc:
            raise ValueError("amount_ttc must equal amount_ht + vat_amount")
        return self


Motif = Annotated[str, Field(min_length=1, max_length=2000)]


class HistoryOut(BaseModel):
    action: str
    from_status: str | None
    to_status: str
    actor: str
    actor_structure_id: str | None
    capacity: str
    reason: str | None
    dp_mandate_number: str | None
    at: datetime


class InvoiceSummary(BaseModel):
    id: uuid.UUID
    external_id: str
    number: str
    billing_frame: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def billing_frame_code(self) -> str:
        """Chorus Pro's codeCadreFacturation of the frame."""
        return long_code(self.billing_frame)

    status: InvoiceStatus
    supplier_structure_id: str
    recipient_structure_id: str
    recipient_service_code: str | None
    delegate_structure_id: str | None
    delegation_id: uuid.UUID | None
    delegation_right: Right | None
    delegate: dict[str, str | None] | None  # the delegate's name and address, as when routed
    validation_decision: str | None
    with_recipient: bool
    amount_ttc: Decimal
    currency: str
    received_at: datetime
    rejection_processed_at: datetime | None
    engagement_number: str | None


class InvoiceOut(InvoiceSummary):
    source: str
    supplier: dict[str, str | None]
    recipient: dict[str, str | None]
    amount_ht: Decimal
    vat_amount: Decimal
    issue_date: date
    main_attachment_id: uuid.UUID | None  # the file the invoice came as, among its attachments
    engagement: dict[str, str | None] | None  # the engagement referenced, as its issuer validated it
    history: list[HistoryOut]
    updated_at: datetime


class ProcessingIn(BaseModel):
    """The status to move the invoice to (`nouveauStatut`), with what it needs."""

    model_config = ConfigDict(extra="forbid")

    status: InvoiceStatus
    motif: Motif | None = None  # required for SUSPENDUE, REJETEE, REFUSEE_1
    numero_dp_mandat: Annotated[str | None, Field(min_length=1, max_length=100)] = None  # for MANDATEE


class CompletionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Motif
    # Files attached to the invoice beforehand (POST /invoices/{id}/attachments) that complete it.
    attachment_ids: Annotated[list[uuid.UUID], Field(max_length=20)] = []


class RecyclingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipient: PartyRefIn
    engagement_number: Annotated[str | None, Field(min_length=1, max_length=50)] = None


class NextStatus(BaseModel):
    status: InvoiceStatus
    capacity: str  # the capacity the caller would act in
    operation: Literal["processing", "completion", "recycling"]  # where to ask for it
    requires: list[str]  # the fields the request must give


class NextStatusesOut(BaseModel):
    id: uuid.UUID
    status: InvoiceStatus
    next: list[NextStatus]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=InvoiceOut)
async def deposit_invoice(uow: UnitOfWorkDep, response: Response, body: InvoiceIn) -> InvoiceOut:
    invoice, created = await use_cases.deposit_invoice(uow, body)
    if not created:
        response.status_code = status.HTTP_200_OK  # the same external_id again: nothing new
    return InvoiceOut.model_validate(invoice)


WorkList = Literal["to-validate", "awaiting-delegate", "received", "deposited", "to-process"]


@router.get("", response_model=Page[InvoiceSummary])
async def list_invoices(
    uow: UnitOfWorkDep,
    pagination: Pagination,
    work_list: Annotated[WorkList, Query(alias="list")],
    status: InvoiceStatus | None = None,
) -> Page[InvoiceSummary]:
    rows, total = await use_cases.invoices(uow, work_list, status, pagination.offset, pagination.page_size)
    return page_of(InvoiceSummary, rows, total, pagination)


@router.post(
    "/rejections/process", response_model=RejectionsOut, summary="'Traiter le rejet' on any mix of invoices"
)
async def process_rejections(uow: UnitOfWorkDep, body: RejectionsIn) -> RejectionsOut:
    return RejectionsOut.of(await use_cases.process_rejections(uow, body.ids))


@router.get("/{invoice_id}", response_model=InvoiceOut)
async def get_invoice(uow: UnitOfWorkDep, invoice_id: uuid.UUID) -> InvoiceOut:
    return InvoiceOut.model_validate(await use_cases.invoice(uow, invoice_id))


@router.get(
    "/{invoice_id}/next-statuses",
    response_model=NextStatusesOut,
    summary="What the caller may do from the current status (recupererEtatsPossiblesPourTraitement)",
)
async def next_statuses(uow: UnitOfWorkDep, invoice_id: uuid.UUID) -> NextStatusesOut:
    return NextStatusesOut.model_validate(await use_cases.possible_statuses(uow, invoice_id))


@router.post(
    "/{invoice_id}/processing",
    response_model=InvoiceOut,
    summary="Move the invoice to a status (traiterFactureRecue)",
)
async def process_invoice(uow: UnitOfWorkDep, invoice_id: uuid.UUID, body: ProcessingIn) -> InvoiceOut:
    processing = use_cases.Processing(body.status, body.motif, body.numero_dp_mandat)
    return InvoiceOut.model_validate(await use_cases.process_invoice(uow, invoice_id, processing))


@router.post("/{invoice_id}/completion", response_model=InvoiceOut, summary="The supplier completes it")
async def complete_invoice(uow: UnitOfWorkDep, invoice_id: uuid.UUID, body: CompletionIn) -> InvoiceOut:
    completed = await use_cases.complete_invoice(uow, invoice_id, body.comment, body.attachment_ids)
    return InvoiceOut.model_validate(completed)


@router.post("/{invoice_id}/recycling", response_model=InvoiceOut, summary="The supplier recycles it")
async def recycle_invoice(uow: UnitOfWorkDep, invoice_id: uuid.UUID, body: RecyclingIn) -> InvoiceOut:
    recipient = body.recipient
    invoice = await use_cases.recycle_invoice(
        uow, invoice_id, recipient.structure_id, recipient.service_code, body.engagement_number
    )
    return InvoiceOut.model_validate(invoice)


@router.post(
    "/{invoice_id}/attachments",
    status_code=status.HTTP_201_CREATED,
    response_model=AttachmentOut,
    summary="Attach a file (PDF, image, XML, office document) to the invoice",
)
async def attach(uow: UnitOfWorkDep, invoice_id: uuid.UUID, upload: UploadDep) -> AttachmentOut:
    return AttachmentOut.model_validate(await use_cases.attach(uow, invoice_id, upload))


@router.get("/{invoice_id}/attachments", response_model=list[AttachmentOut])
async def list_attachments(uow: UnitOfWorkDep, invoice_id: uuid.UUID) -> list[AttachmentOut]:
    return [
        AttachmentOut.model_validate(dict(row)) for row in await use_cases.attachments_of(uow, invoice_id)
    ]


@router.get(
    "/{invoice_id}/attachments/{attachment_id}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the file"}},
)
async def download_attachment(
    uow: UnitOfWorkDep, invoice_id: uuid.UUID, attachment_id: uuid.UUID
) -> Response:
    row, data = await use_cases.attachment_file(uow, invoice_id, attachment_id)
    return download(row, data)


class LifecycleStep(BaseModel):
    status: InvoiceStatus
    # For each role, the statuses it may move an invoice in `status` to (recupererEtatsTraitement);
    # none for a status that ends the lifecycle.
    targets: dict[str, list[InvoiceStatus]]


lifecycle_router = APIRouter(tags=["received invoices"])


@lifecycle_router.get(
    "/lifecycle",
    response_model=list[LifecycleStep],
    summary="The statuses each role may move an invoice to, from each status (Chorus Pro's referential)",
)
async def lifecycle(caller: CurrentPrincipal) -> list[LifecycleStep]:
    del caller  # signed in, whoever it is
    return [
        LifecycleStep(
            status=status,
            targets={
                role.value: [target for target in InvoiceStatus if target in by_role.get(role, frozenset())]
                for role in Role
                if by_role.get(role)
            },
        )
        for status in InvoiceStatus
        for by_role in [TRANSITIONS.get(status, {})]
    ]
