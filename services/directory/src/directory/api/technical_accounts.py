"""`/structures/{structure_id}/technical-accounts`: the logins a structure's systems call the API with."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from chorus_common.dependencies import UnitOfWorkDep
from directory import use_cases
from directory.api.paths import LoginPath, StructurePath

router = APIRouter(prefix="/structures/{structure_id}/technical-accounts", tags=["technical accounts"])


class TechnicalAccountOut(BaseModel):
    login: str
    structure_id: str
    active: bool
    created_at: datetime
    deactivated_at: datetime | None


class NewTechnicalAccountOut(TechnicalAccountOut):
    password: str = Field(description="generated; shown in this answer only, stored as a salted hash")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=NewTechnicalAccountOut)
async def create_technical_account(uow: UnitOfWorkDep, structure_id: StructurePath) -> NewTechnicalAccountOut:
    return NewTechnicalAccountOut.model_validate(await use_cases.create_technical_account(uow, structure_id))


@router.get("", response_model=list[TechnicalAccountOut])
async def list_technical_accounts(
    uow: UnitOfWorkDep, structure_id: StructurePath
) -> list[TechnicalAccountOut]:
    rows = await use_cases.technical_accounts(uow, structure_id)
    return [TechnicalAccountOut.model_validate(dict(row)) for row in rows]


@router.delete("/{login}", response_model=TechnicalAccountOut)
async def deactivate_technical_account(
    uow: UnitOfWorkDep, structure_id: StructurePath, login: LoginPath
) -> TechnicalAccountOut:
    row = await use_cases.deactivate_technical_account(uow, structure_id, login)
    return TechnicalAccountOut.model_validate(dict(row))
