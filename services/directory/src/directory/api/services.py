"""`/structures/{structure_id}/services`: a structure's services and their parameters."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from chorus_common.dependencies import UnitOfWorkDep
from chorus_common.events import NonEmpty as Text
from directory import use_cases
from directory.api.paths import CodePath, StructurePath

router = APIRouter(prefix="/structures/{structure_id}/services", tags=["services"])

Code = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$", examples=["DAF"])]


class ServiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Text
    active: bool = True
    valid_from: date | None = None
    valid_to: date | None = None
    engagement_required: bool = Field(default=False, description="numeroEJDoitEtreRenseigne")

    def command(self) -> use_cases.NewService:
        return use_cases.NewService(**self.model_dump())


class ServiceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text | None = None
    active: bool | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    engagement_required: bool | None = None

    def command(self) -> use_cases.ServiceChanges:
        return use_cases.ServiceChanges(**self.model_dump())


class ServiceOut(BaseModel):
    structure_id: str
    code: str
    name: str
    active: bool
    valid_from: date | None
    valid_to: date | None
    engagement_required: bool
    version: int
    updated_at: datetime


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ServiceOut)
async def add_service(uow: UnitOfWorkDep, structure_id: StructurePath, body: ServiceIn) -> ServiceOut:
    return ServiceOut.model_validate(dict(await use_cases.add_service(uow, structure_id, body.command())))


@router.get("", response_model=list[ServiceOut])
async def list_services(uow: UnitOfWorkDep, structure_id: StructurePath) -> list[ServiceOut]:
    return [ServiceOut.model_validate(dict(row)) for row in await use_cases.services(uow, structure_id)]


@router.patch("/{code}", response_model=ServiceOut)
async def update_service(
    uow: UnitOfWorkDep, structure_id: StructurePath, code: CodePath, body: ServiceUpdate
) -> ServiceOut:
    row = await use_cases.change_service(uow, structure_id, code, body.command())
    return ServiceOut.model_validate(dict(row))
