"""Users of the directory: attached to structures (and services) by their managers; `/users/me`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from chorus_common.dependencies import UnitOfWorkDep
from chorus_common.events import Email
from chorus_common.events import NonEmpty as Text
from directory import use_cases
from directory.api.paths import StructurePath, SubPath
from directory.domain import Role

router = APIRouter(tags=["users"])

Sub = Annotated[str, Field(min_length=1, max_length=200)]


class AttachmentIn(BaseModel):
    """Attach the user in the path to the structure (or one of its services), or change how it is."""

    model_config = ConfigDict(extra="forbid")

    role: Role = Role.UTILISATEUR
    service_code: Annotated[str | None, Field(min_length=1, max_length=100)] = None
    notifications: bool = Field(default=True, description='"Notification Facturation"')
    email: Email | None = Field(default=None, description="required when the user is new to the directory")
    name: Text | None = None

    def command(self) -> use_cases.Attach:
        return use_cases.Attach(self.role, self.notifications, self.service_code, self.email, self.name)


class AttachmentOut(BaseModel):
    structure_id: str
    service_code: str | None
    role: Role
    notifications: bool


class UserOut(BaseModel):
    sub: str
    email: str | None
    name: str | None
    version: int
    attachments: list[AttachmentOut]


class StructureUserOut(AttachmentOut):
    sub: str
    email: str
    name: str


@router.put("/structures/{structure_id}/users/{sub}", status_code=status.HTTP_200_OK, response_model=UserOut)
async def attach_user(
    uow: UnitOfWorkDep, structure_id: StructurePath, sub: SubPath, body: AttachmentIn
) -> UserOut:
    return UserOut.model_validate(await use_cases.attach_user(uow, structure_id, sub, body.command()))


@router.delete("/structures/{structure_id}/users/{sub}", response_model=UserOut)
async def detach_user(
    uow: UnitOfWorkDep,
    structure_id: StructurePath,
    sub: SubPath,
    service_code: Annotated[str | None, Query(max_length=100, description="only from this service")] = None,
) -> UserOut:
    return UserOut.model_validate(await use_cases.detach_user(uow, structure_id, sub, service_code))


@router.get("/structures/{structure_id}/users", response_model=list[StructureUserOut])
async def list_structure_users(uow: UnitOfWorkDep, structure_id: StructurePath) -> list[StructureUserOut]:
    return [
        StructureUserOut.model_validate(row) for row in await use_cases.structure_users(uow, structure_id)
    ]


@router.get("/users/me", response_model=UserOut)
async def get_me(uow: UnitOfWorkDep) -> UserOut:
    return UserOut.model_validate(await use_cases.me(uow))
