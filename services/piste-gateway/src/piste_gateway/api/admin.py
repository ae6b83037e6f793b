"""`/admin/clients`: operators (the platform's `admin` role) register the applications that may call
the API, each connected to one structure of the directory."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from chorus_common.auth import CurrentPrincipal, require_role
from chorus_common.dependencies import PublicUnitOfWorkDep
from chorus_common.problems import not_found
from piste_gateway import access, repository

router = APIRouter(prefix="/admin/clients", tags=["administration"])


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[
        str, Field(min_length=1, max_length=200, description="who the application is, e.g. an ERP")
    ]
    structure_id: Annotated[
        str, Field(min_length=1, max_length=100, description="the structure whose technical accounts it uses")
    ]


class ClientOut(BaseModel):
    client_id: str
    name: str
    structure_id: str
    active: bool
    created_by: str
    created_at: datetime


class NewClientOut(ClientOut):
    client_secret: str = Field(description="shown in this answer only")


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=NewClientOut, summary="Register an application"
)
async def register_client(
    principal: CurrentPrincipal, uow: PublicUnitOfWorkDep, body: ClientIn
) -> NewClientOut:
    require_role(principal, "admin")
    created = await access.register_client(uow, body.name, body.structure_id, principal.sub)
    return NewClientOut.model_validate(created)


@router.get("", response_model=list[ClientOut], summary="The registered applications")
async def list_clients(principal: CurrentPrincipal, uow: PublicUnitOfWorkDep) -> list[ClientOut]:
    require_role(principal, "admin")
    async with uow.reading() as conn:
        return [ClientOut.model_validate(dict(row)) for row in await repository.list_clients(conn)]


@router.delete("/{client_id}", response_model=ClientOut, summary="Deactivate an application")
async def deactivate_client(
    principal: CurrentPrincipal, uow: PublicUnitOfWorkDep, client_id: Annotated[str, Path(max_length=64)]
) -> ClientOut:
    require_role(principal, "admin")
    async with uow:
        row = await repository.deactivate_client(uow.conn, client_id)
    if row is None:
        raise not_found("Client")
    return ClientOut.model_validate(dict(row))
