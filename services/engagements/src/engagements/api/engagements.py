"""`/engagements`: create, read, list and act on legal commitments."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from chorus_common.dependencies import UnitOfWorkDep
from chorus_common.events import Party
from chorus_common.http import ExactJSONRoute, Page, Pagination, PartyIn, page_of
from engagements import use_cases
from engagements.domain import (
    MAX_AMOUNT,
    Action,
    EngagementQuery,
    EngagementStatus,
    EngagementType,
    LineDraft,
    line_amounts,
)

router = APIRouter(prefix="/engagements", tags=["engagements"], route_class=ExactJSONRoute)


def plain_decimal(value: Decimal) -> str:
    """An exact decimal without exponent or needless trailing zeros: 2.500000 → "2.5"."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


Quantity = Annotated[
    Decimal,
    Field(gt=0, max_digits=18, decimal_places=6, allow_inf_nan=False, examples=["2.5"]),
    PlainSerializer(plain_decimal, return_type=str, when_used="json"),
]
UnitPrice = Annotated[
    Decimal,
    Field(ge=0, max_digits=18, decimal_places=6, allow_inf_nan=False, examples=["1234.567"]),
    PlainSerializer(plain_decimal, return_type=str, when_used="json"),
]
VatRate = Annotated[
    Decimal,
    Field(ge=0, le=100, max_digits=5, decimal_places=2, allow_inf_nan=False, examples=["20"]),
    PlainSerializer(plain_decimal, return_type=str, when_used="json"),
]
Money = Annotated[Decimal, Field(examples=["3086.42"])]


class IssuerIn(PartyIn):
    kind: Literal["ETAT", "COLLECTIVITE", "HOSPITALIER", "AUTRE"] | None = Field(
        default=None,
        deprecated=True,
        description="ignored: an issuer's kind is its public_category in the directory",
    )


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_number: Annotated[int | None, Field(ge=1, le=100_000)] = None
    description: Annotated[str, Field(min_length=1, max_length=500)]
    quantity: Quantity
    unit: Annotated[str, Field(min_length=1, max_length=30)] = "U"
    unit_price_ht: UnitPrice
    vat_rate: VatRate

    @model_validator(mode="after")
    def _amount_in_range(self) -> LineIn:
        if line_amounts(self.quantity, self.unit_price_ht, self.vat_rate).amount_ttc > MAX_AMOUNT:
            raise ValueError(f"the line amount exceeds {MAX_AMOUNT}")
        return self


class EngagementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: Annotated[str, Field(min_length=1, max_length=50, pattern=r"^\S(.*\S)?$")]
    type: EngagementType
    issuer: IssuerIn
    supplier: PartyIn
    invoice_recipient: PartyIn | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "EUR"
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def _distinct_line_numbers(self) -> EngagementIn:
        numbers = [line.line_number or index for index, line in enumerate(self.lines, start=1)]
        if len(set(numbers)) != len(numbers):
            raise ValueError("line numbers must be distinct")
        return self

    def command(self) -> use_cases.NewEngagement:
        return use_cases.NewEngagement(
            number=self.number,
            type=self.type,
            issuer=Party.model_validate(self.issuer.model_dump(exclude={"kind"})),
            supplier=self.supplier,
            invoice_recipient=self.invoice_recipient,
            currency=self.currency,
            lines=[
                LineDraft(
                    line.line_number,
                    line.description,
                    line.quantity,
                    line.unit,
                    line.unit_price_ht,
                    line.vat_rate,
                )
                for line in self.lines
            ],
        )


class LineOut(BaseModel):
    line_number: int
    description: str
    quantity: Quantity
    unit: str
    unit_price_ht: UnitPrice
    vat_rate: VatRate
    amount_ht: Money
    amount_ttc: Money


class HistoryOut(BaseModel):
    action: str
    from_status: str | None
    to_status: str
    actor: str
    actor_structure_id: str | None
    capacity: str
    reason: str | None
    at: datetime


class EngagementOut(BaseModel):
    id: uuid.UUID
    number: str
    type: EngagementType
    status: EngagementStatus
    origin: str
    source: str
    issuer: dict[str, str | None]
    supplier: dict[str, str | None]
    invoice_recipient: dict[str, str | None] | None
    currency: str
    total_ht: Money
    total_vat: Money
    total_ttc: Money
    lines: list[LineOut]
    history: list[HistoryOut]
    created_at: datetime
    updated_at: datetime
    validated_at: datetime | None


class EngagementSummary(BaseModel):
    id: uuid.UUID
    number: str
    type: EngagementType
    status: EngagementStatus
    origin: str
    issuer_structure_id: str
    supplier_structure_id: str
    currency: str
    total_ht: Money
    total_ttc: Money
    created_at: datetime


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Action
    reason: Annotated[str | None, Field(max_length=2000)] = None


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EngagementOut)
async def create_engagement(uow: UnitOfWorkDep, body: EngagementIn) -> EngagementOut:
    return EngagementOut.model_validate(await use_cases.create_engagement(uow, body.command()))


@router.get("", response_model=Page[EngagementSummary])
async def list_engagements(
    uow: UnitOfWorkDep,
    pagination: Pagination,
    status: EngagementStatus | None = None,
    type: EngagementType | None = None,
    number: Annotated[str | None, Query(max_length=50)] = None,
    issuer_structure_id: Annotated[str | None, Query(max_length=200)] = None,
    supplier_structure_id: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[EngagementSummary]:
    query = EngagementQuery(status, type, number, issuer_structure_id, supplier_structure_id)
    rows, total = await use_cases.engagements(uow, query, pagination.offset, pagination.page_size)
    return page_of(EngagementSummary, rows, total, pagination)


@router.get("/{engagement_id}", response_model=EngagementOut)
async def get_engagement(uow: UnitOfWorkDep, engagement_id: uuid.UUID) -> EngagementOut:
    return EngagementOut.model_validate(await use_cases.engagement(uow, engagement_id))


@router.post("/{engagement_id}/actions", response_model=EngagementOut)
async def act_on_engagement(uow: UnitOfWorkDep, engagement_id: uuid.UUID, body: ActionIn) -> EngagementOut:
    details = await use_cases.act_on_engagement(uow, engagement_id, body.action, body.reason)
    return EngagementOut.model_validate(details)
