"""`/delegations`: delegation of the validation of received invoices ("Gérer délégation")."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from chorus_common.dependencies import UnitOfWorkDep
from chorus_common.events import NonEmpty as Text
from chorus_common.http import Page, Pagination, page_of
from received_invoices import use_cases
from received_invoices.domain import DelegationStatus, Right, Scope

router = APIRouter(prefix="/delegations", tags=["delegations"])

Code = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]  # a service's


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
    version: int
    ended_at: datetime | None  # revoked, or past its end date: its waiting invoices went back


class DelegationChangeIn(BaseModel):
    """What a delegator changes in a running delegation: its end date (null: none), its services."""

    model_config = ConfigDict(extra="forbid")

    end_date: date | None = None
    service_codes: Annotated[list[Code], Field(min_length=1, max_length=500)] | None = None


class DelegationActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["REVOCATION"]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DelegationOut)
async def create_delegation(uow: UnitOfWorkDep, body: DelegationIn) -> DelegationOut:
    new = use_cases.NewDelegation(**body.model_dump())
    return DelegationOut.model_validate(await use_cases.create_delegation(uow, new))


@router.get("", response_model=Page[DelegationOut])
async def list_delegations(
    uow: UnitOfWorkDep,
    pagination: Pagination,
    direction: Literal["given", "received"] = "given",
    status: Literal["ACTIVE", "REVOKED"] | None = None,
) -> Page[DelegationOut]:
    wanted = DelegationStatus(status) if status is not None else None
    rows, total = await use_cases.delegations(
        uow, direction == "given", wanted, pagination.offset, pagination.page_size
    )
    return page_of(DelegationOut, rows, total, pagination)


@router.get("/{delegation_id}", response_model=DelegationOut)
async def get_delegation(uow: UnitOfWorkDep, delegation_id: uuid.UUID) -> DelegationOut:
    return DelegationOut.model_validate(dict(await use_cases.delegation(uow, delegation_id)))


@router.post("/{delegation_id}/actions", response_model=DelegationOut)
async def act_on_delegation(
    uow: UnitOfWorkDep, delegation_id: uuid.UUID, body: DelegationActionIn
) -> DelegationOut:
    return DelegationOut.model_validate(dict(await use_cases.revoke_delegation(uow, delegation_id)))


@router.patch("/{delegation_id}", response_model=DelegationOut)
async def modify_delegation(
    uow: UnitOfWorkDep, delegation_id: uuid.UUID, body: DelegationChangeIn
) -> DelegationOut:
    change = use_cases.DelegationChange(
        end_date=body.end_date,
        end_date_given="end_date" in body.model_fields_set,
        service_codes=body.service_codes,
    )
    return DelegationOut.model_validate(dict(await use_cases.modify_delegation(uow, delegation_id, change)))
