"""`/works-invoices`: deposit, read, act, the 'Synthèse' lists and 'Traiter le rejet'."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    computed_field,
    model_validator,
)

from chorus_common.dependencies import UnitOfWorkDep
from chorus_common.frames import frame
from chorus_common.http import ExactJSONRoute, Page, Pagination, PartyRefIn, page_of
from chorus_common.rejections import RejectionsIn, RejectionsOut
from invoicing_works import use_cases
from invoicing_works.domain import (
    Action,
    BillingFrame,
    InvoiceQuery,
    RefusalReason,
    Role,
    Status,
    depositor,
)

router = APIRouter(prefix="/works-invoices", tags=["works invoices"], route_class=ExactJSONRoute)

Money = Annotated[
    Decimal, Field(ge=0, max_digits=18, decimal_places=2, allow_inf_nan=False, examples=["1200.00"])
]


class Amounts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_ht: Money
    vat_amount: Money
    amount_ttc: Money

    @model_validator(mode="after")
    def _consistent(self) -> Amounts:
        if self.amount_ht + self.vat_amount != self.amount_ttc:
            raise ValueError("amount_ttc must equal amount_ht + vat_amount")
        return self

    def amounts(self) -> use_cases.Amounts:
        return use_cases.Amounts(self.amount_ht, self.vat_amount, self.amount_ttc)


def _works_frame(value: object) -> object:
    """A works frame in either form (A4, A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR), as its short code."""
    if not isinstance(value, str):
        return value
    found = frame(value)  # ValueError for a frame that does not exist
    if not found.works:
        raise ValueError(
            f"{found.code} ({found.name}) is not a works frame: deposit it as a received invoice"
        )
    return found.code


WorksFrame = Annotated[BillingFrame, BeforeValidator(_works_frame)]


class WorksInvoiceIn(Amounts):
    number: Annotated[str, Field(min_length=1, max_length=50, pattern=r"^\S(.*\S)?$")]
    billing_frame: WorksFrame
    supplier: PartyRefIn
    moe: PartyRefIn | None = None
    moa: PartyRefIn | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "EUR"

    @model_validator(mode="after")
    def _has_a_first_actor(self) -> WorksInvoiceIn:
        if self.billing_frame is BillingFrame.A4 and self.moe is None:
            raise ValueError("an A4 monthly statement draft is made available to its MOE: moe is required")
        if self.moe is None and self.moa is None:
            raise ValueError("a works invoice names its MOE, its MOA, or both")
        role = depositor(self.billing_frame)
        if role is Role.MOE and (self.moe is None or self.moa is None):
            raise ValueError(
                f"an {self.billing_frame} is deposited by its MOE for its MOA: moe and moa are required"
            )
        if role is Role.MOA and self.moa is None:
            raise ValueError(f"an {self.billing_frame} is deposited by its MOA: moa is required")
        return self

    def command(self) -> use_cases.NewWorksInvoice:
        return use_cases.NewWorksInvoice(
            self.number,
            self.billing_frame,
            self.supplier.ref(),
            self.moe.ref() if self.moe else None,
            self.moa.ref() if self.moa else None,
            self.currency,
            self.amounts(),
        )


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Action
    reason_code: RefusalReason | None = None
    reason: Annotated[str | None, Field(max_length=2000)] = None
    amounts: Amounts | None = Field(
        default=None, description="With the MOE's VALIDATION: the amounts as modified by the MOE"
    )


class HistoryOut(BaseModel):
    action: str
    from_status: str | None
    to_status: str
    actor: str
    actor_structure_id: str
    role: str = Field(validation_alias=AliasChoices("role", "capacity"))  # the history's capacity
    acting_for: str | None
    reason_code: str | None
    reason: str | None
    amounts: dict[str, str] | None
    at: datetime


class WorksInvoiceSummary(BaseModel):
    id: uuid.UUID
    number: str
    billing_frame: BillingFrame
    status: Status

    @computed_field  # type: ignore[prop-decorator]
    @property
    def billing_frame_code(self) -> str:
        """Chorus Pro's codeCadreFacturation of the frame."""
        return frame(self.billing_frame).name

    supplier_structure_id: str
    moe_structure_id: str | None
    moa_structure_id: str | None
    currency: str
    amount_ht: Decimal
    vat_amount: Decimal
    amount_ttc: Decimal
    made_available_at: datetime
    moe_deadline: date | None
    rejection_processed_at: datetime | None
    created_at: datetime


class WorksInvoiceOut(WorksInvoiceSummary):
    supplier: dict[str, str | None]
    moe: dict[str, str | None] | None
    moa: dict[str, str | None] | None
    your_roles: list[Role]
    history: list[HistoryOut]
    updated_at: datetime


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WorksInvoiceOut)
async def deposit(uow: UnitOfWorkDep, body: WorksInvoiceIn) -> WorksInvoiceOut:
    return WorksInvoiceOut.model_validate(await use_cases.deposit(uow, body.command()))


@router.get("", response_model=Page[WorksInvoiceSummary])
async def list_invoices(
    uow: UnitOfWorkDep,
    pagination: Pagination,
    role: Role | None = None,
    status: Status | None = None,
    billing_frame: Annotated[WorksFrame | None, Query()] = None,
    number: Annotated[str | None, Query(max_length=50)] = None,
) -> Page[WorksInvoiceSummary]:
    query = InvoiceQuery(role, status, billing_frame, number)
    rows, total = await use_cases.works_invoices(uow, query, pagination.offset, pagination.page_size)
    return page_of(WorksInvoiceSummary, rows, total, pagination)


@router.get("/to-process", response_model=Page[WorksInvoiceSummary], summary="The 'Synthèse' list of a role")
async def to_process(uow: UnitOfWorkDep, pagination: Pagination, role: Role) -> Page[WorksInvoiceSummary]:
    rows, total = await use_cases.to_process(uow, role, pagination.offset, pagination.page_size)
    return page_of(WorksInvoiceSummary, rows, total, pagination)


@router.get("/{invoice_id}", response_model=WorksInvoiceOut)
async def get_invoice(uow: UnitOfWorkDep, invoice_id: uuid.UUID) -> WorksInvoiceOut:
    return WorksInvoiceOut.model_validate(await use_cases.works_invoice(uow, invoice_id))


@router.post("/{invoice_id}/actions", response_model=WorksInvoiceOut)
async def act(uow: UnitOfWorkDep, invoice_id: uuid.UUID, body: ActionIn) -> WorksInvoiceOut:
    amended = body.amounts.amounts() if body.amounts is not None else None
    details = await use_cases.act(uow, invoice_id, body.action, body.reason_code, body.reason, amended)
    return WorksInvoiceOut.model_validate(details)


@router.post(
    "/rejections/process", response_model=RejectionsOut, summary="'Traiter le rejet' on any mix of invoices"
)
async def process_rejections(uow: UnitOfWorkDep, body: RejectionsIn) -> RejectionsOut:
    return RejectionsOut.of(await use_cases.process_rejections(uow, body.ids))
