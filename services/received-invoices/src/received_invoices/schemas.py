"""Request and response bodies of the received-invoices API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chorus_common.events import Email, InvoiceSubmitted
from chorus_common.events import NonEmpty as Text
from received_invoices.domain import (
    Action,
    IdentifierType,
    InvoiceStatus,
    Right,
    Scope,
    StructureKind,
    is_valid_siret,
)

Code = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]


class StructureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identifier: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]
    identifier_type: IdentifierType = IdentifierType.SIRET
    name: Text
    kind: StructureKind
    email: Email

    @model_validator(mode="after")
    def _valid_siret(self) -> StructureIn:
        if self.identifier_type is IdentifierType.SIRET and not is_valid_siret(self.identifier):
            raise ValueError("a SIRET has 14 digits and a valid Luhn key")
        return self


class StructureOut(BaseModel):
    id: str
    identifier_type: IdentifierType
    name: str
    kind: StructureKind
    email: str
    created_at: datetime


class ServiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Text
    active: bool = True


class ServiceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text | None = None
    active: bool | None = None


class ServiceOut(BaseModel):
    structure_id: str
    code: str
    name: str
    active: bool


class DelegationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delegator_structure_id: Text
    delegate_structure_id: Text
    right: Right
    scope: Scope
    service_codes: Annotated[list[Code], Field(max_length=500)] = []
    start_date: date
    end_date: date | None = None

    @model_validator(mode="after")
    def _consistent(self) -> DelegationIn:
        if self.scope is Scope.SERVICES and not self.service_codes:
            raise ValueError("a delegation over services names at least one service")
        if self.scope is Scope.STRUCTURE and self.service_codes:
            raise ValueError("a delegation over the whole structure names no service")
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class DelegationOut(BaseModel):
    id: uuid.UUID
    delegator_structure_id: str
    delegate_structure_id: str
    right: Right
    scope: Scope
    service_codes: list[str]
    start_date: date
    end_date: date | None
    status: Literal["ACTIVE", "REVOKED"]
    created_by: str
    created_at: datetime
    revoked_by: str | None
    revoked_at: datetime | None


class DelegationActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["REVOCATION"]


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
