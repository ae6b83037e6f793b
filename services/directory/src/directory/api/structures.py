"""`/structures`: register, find, read and change the structures of the directory."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from chorus_common.dependencies import UnitOfWorkDep
from chorus_common.events import Email
from chorus_common.events import NonEmpty as Text
from chorus_common.http import Page, Pagination
from directory import use_cases
from directory.api.paths import StructurePath
from directory.domain import IdentifierType, Parameters, PublicCategory, StructureKind

router = APIRouter(prefix="/structures", tags=["structures"])

Identifier = Annotated[str, Field(min_length=1, max_length=100, examples=["11004601800013"])]
VatNumber = Annotated[str, Field(min_length=4, max_length=20, examples=["BE0411905847"])]


class ParametersIn(BaseModel):
    """Chorus Pro's structure parameters (`structures/v1/consulter`)."""

    model_config = ConfigDict(extra="forbid")

    service_code_required: bool = False
    engagement_required: bool = False
    engagement_or_service_required: bool = False
    moa_only: bool = False

    def parameters(self) -> Parameters:
        return Parameters(**self.model_dump())


class StructureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identifier: Identifier
    identifier_type: IdentifierType = IdentifierType.SIRET
    name: Text
    kind: StructureKind = StructureKind.PRIVEE
    public_category: PublicCategory | None = None
    email: Email | None = None
    vat_number: VatNumber | None = None
    parameters: ParametersIn = ParametersIn()

    def command(self) -> use_cases.NewStructure:
        return use_cases.NewStructure(
            identifier=self.identifier,
            identifier_type=self.identifier_type,
            name=self.name,
            kind=self.kind,
            public_category=self.public_category,
            email=self.email,
            vat_number=self.vat_number,
            parameters=self.parameters.parameters(),
        )


class StructureUpdate(BaseModel):
    """What changes; an absent field stays as it is. `kind`, `public_category` and `active` are the
    platform operator's to change."""

    model_config = ConfigDict(extra="forbid")

    name: Text | None = None
    email: Email | None = None
    vat_number: VatNumber | None = None
    parameters: ParametersIn | None = None
    kind: StructureKind | None = None
    public_category: PublicCategory | None = None
    active: bool | None = None

    def command(self) -> use_cases.StructureChanges:
        return use_cases.StructureChanges(
            name=self.name,
            email=self.email,
            vat_number=self.vat_number,
            parameters=self.parameters.parameters() if self.parameters else None,
            kind=self.kind,
            public_category=self.public_category,
            active=self.active,
        )


class ParametersOut(BaseModel):
    service_code_required: bool
    engagement_required: bool
    engagement_or_service_required: bool
    moa_only: bool
    delegated_validator: bool = Field(
        description="estValideurDelegue: an active delegation of received-invoices designates the "
        "structure as delegated validator today (derived, not set)"
    )


class StructureOut(BaseModel):
    id: str = Field(description="the identifier, which names the structure on the whole platform")
    cpp_id: int = Field(description="Chorus Pro's idStructureCPP")
    identifier_type: IdentifierType
    name: str
    kind: StructureKind
    public_category: PublicCategory | None
    email: str | None
    vat_number: str | None
    active: bool
    parameters: ParametersOut
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: object) -> StructureOut:
        values = dict(row)  # type: ignore[call-overload]
        return cls.model_validate(
            {
                **values,
                "id": values["structure_id"],
                "parameters": {k: values[k] for k in ParametersOut.model_fields},
            }
        )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=StructureOut)
async def register_structure(uow: UnitOfWorkDep, body: StructureIn) -> StructureOut:
    """A company registers itself (and becomes its principal manager); a `PUBLIQUE` structure is
    registered by the platform's operator only."""
    return StructureOut.of(await use_cases.register_structure(uow, body.command()))


@router.get("", response_model=Page[StructureOut])
async def list_structures(
    uow: UnitOfWorkDep,
    pagination: Pagination,
    identifier: Annotated[str | None, Query(max_length=100)] = None,
    name: Annotated[str | None, Query(max_length=200, description="part of the name, any case")] = None,
    kind: StructureKind | None = None,
) -> Page[StructureOut]:
    rows, total = await use_cases.structures(
        uow, identifier, name, kind, pagination.offset, pagination.page_size
    )
    return Page[StructureOut](
        items=[StructureOut.of(row) for row in rows],
        page=pagination.page,
        page_size=pagination.page_size,
        total=total,
    )


@router.get("/{structure_id}", response_model=StructureOut)
async def get_structure(uow: UnitOfWorkDep, structure_id: StructurePath) -> StructureOut:
    return StructureOut.of(await use_cases.structure(uow, structure_id))


@router.patch("/{structure_id}", response_model=StructureOut)
async def update_structure(
    uow: UnitOfWorkDep, structure_id: StructurePath, body: StructureUpdate
) -> StructureOut:
    return StructureOut.of(await use_cases.change_structure(uow, structure_id, body.command()))
