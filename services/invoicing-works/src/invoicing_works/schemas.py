"""Request and response bodies of the invoicing-works API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chorus_common.http import PartyIn
from invoicing_works.domain import Action, BillingFrame, RefusalReason, RejectionOutcome, Role, Status

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


class WorksInvoiceIn(Amounts):
    number: Annotated[str, Field(min_length=1, max_length=50, pattern=r"^\S(.*\S)?$")]
    billing_frame: BillingFrame
    supplier: PartyIn
    moe: PartyIn | None = None
    moa: PartyIn | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "EUR"

    @model_validator(mode="after")
    def _has_a_first_actor(self) -> WorksInvoiceIn:
        if self.billing_frame is BillingFrame.A4 and self.moe is None:
            raise ValueError("an A4 monthly statement draft is made available to its MOE: moe is required")
        if self.moe is None and self.moa is None:
            raise ValueError("a works invoice names its MOE, its MOA, or both")
        return self


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
    role: str
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


class RejectionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: Annotated[list[Annotated[str, Field(max_length=100)]], Field(min_length=1, max_length=1000)]


class RejectionResult(BaseModel):
    id: str
    outcome: RejectionOutcome
    detail: str


class RejectionsOut(BaseModel):
    processed: int
    results: list[RejectionResult]
