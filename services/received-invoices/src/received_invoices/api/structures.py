"""`/structures`: the directory of structures and their services."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from chorus_common.dependencies import UnitOfWorkDep
from chorus_common.events import Email
from chorus_common.events import NonEmpty as Text
from chorus_common.http import Page, Pagination, page_of
from received_invoices import use_cases
from received_invoices.domain import IdentifierType, StructureKind, is_valid_siret

router = APIRouter(prefix="/structures", tags=["directory"])

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


@router.post("", status_code=status.HTTP_201_CREATED, response_model=StructureOut)
async def register_structure(uow: UnitOfWorkDep, body: StructureIn) -> StructureOut:
    new = use_cases.NewStructure(body.identifier, body.identifier_type, body.name, body.kind, body.email)
    return StructureOut.model_validate(await use_cases.register_structure(uow, new))


@router.get("/{structure_id}", response_model=StructureOut)
async def get_structure(uow: UnitOfWorkDep, structure_id: str) -> StructureOut:
    return StructureOut.model_validate(dict(await use_cases.structure(uow, structure_id)))


@router.post("/{structure_id}/services", status_code=status.HTTP_201_CREATED, response_model=ServiceOut)
async def add_service(uow: UnitOfWorkDep, structure_id: str, body: ServiceIn) -> ServiceOut:
    added = await use_cases.add_service(uow, structure_id, body.code, body.name, body.active)
    return ServiceOut.model_validate(added)


@router.get("/{structure_id}/services", response_model=Page[ServiceOut])
async def list_services(uow: UnitOfWorkDep, structure_id: str, pagination: Pagination) -> Page[ServiceOut]:
    rows, total = await use_cases.services(uow, structure_id, pagination.offset, pagination.page_size)
    return page_of(ServiceOut, rows, total, pagination)


@router.patch("/{structure_id}/services/{code}", response_model=ServiceOut)
async def update_service(uow: UnitOfWorkDep, structure_id: str, code: str, body: ServiceUpdate) -> ServiceOut:
    row = await use_cases.update_service(uow, structure_id, code, body.model_dump(exclude_none=True))
    return ServiceOut.model_validate(dict(row))
