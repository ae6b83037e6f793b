"""`/cpro/structures/v1`: the directory's structures and services, from the gateway's read model.

As on Chorus Pro, a technical account sees every public structure and, of private ones, its own."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator

from chorus_common.dependencies import PublicUnitOfWorkDep
from piste_gateway import use_cases
from piste_gateway.api.deps import CPRO_REFUSALS, Answer, CallerDep, PageIn, PageOut, Request_, page_out
from piste_gateway.domain import IDENTIFIER_TYPES, cpro_date

router = APIRouter(prefix="/cpro/structures/v1", tags=["structures"], responses=CPRO_REFUSALS)

CppId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class StructureCriteria(Request_):
    identifiantStructure: Annotated[str | None, Field(max_length=100)] = None
    typeIdentifiantStructure: Literal[IDENTIFIER_TYPES] | None = None  # type: ignore[valid-type]
    libelleStructure: Annotated[str | None, Field(max_length=200)] = None
    raisonSocialeStructure: Annotated[str | None, Field(max_length=200)] = None
    typeStructure: Literal["PUBLIQUE", "PRIVEE"] | None = None
    statutStructure: Literal["ACTIF", "INACTIF"] | None = None


class SearchStructuresIn(Request_):
    structure: StructureCriteria = StructureCriteria()
    parametres: PageIn | None = None
    restreindreStructuresPrivees: bool = False


class StructureFound(BaseModel):
    idStructureCPP: int
    identifiantStructure: str
    typeIdentifiantStructure: str
    designationStructure: str
    statut: str


class SearchStructuresOut(Answer):
    listeStructures: list[StructureFound]
    parametresRetour: PageOut


def status_of(active: bool) -> str:
    return "ACTIF" if active else "INACTIF"


@router.post("/rechercher", response_model=SearchStructuresOut, summary="Search the structures")
async def rechercher_structures(
    caller: CallerDep, uow: PublicUnitOfWorkDep, body: SearchStructuresIn | None = None
) -> SearchStructuresOut:
    body = body or SearchStructuresIn()
    criteria, page = body.structure, body.parametres or PageIn()
    rows, total = await use_cases.search_structures(
        uow,
        caller,
        page.offset,
        page.nbResultatsParPage,
        identifier=criteria.identifiantStructure,
        identifier_type=criteria.typeIdentifiantStructure,
        name=criteria.raisonSocialeStructure or criteria.libelleStructure,
        kind="PUBLIQUE" if body.restreindreStructuresPrivees else criteria.typeStructure,
        active=None if criteria.statutStructure is None else criteria.statutStructure == "ACTIF",
    )
    return SearchStructuresOut(
        listeStructures=[
            StructureFound(
                idStructureCPP=row["cpp_id"],
                identifiantStructure=row["structure_id"],
                typeIdentifiantStructure=row["identifier_type"],
                designationStructure=row["name"],
                statut=status_of(row["active"]),
            )
            for row in rows
        ],
        parametresRetour=page_out(page, total),
    )


class ConsultStructureIn(Request_):
    # chorus-api sends idStructureCPP, go-choruspro idStructure: either names the structure.
    idStructureCPP: CppId | None = None
    idStructure: CppId | None = None
    codeLangue: str | None = None

    @model_validator(mode="after")
    def _one_id(self) -> ConsultStructureIn:
        if self.idStructureCPP is None and self.idStructure is None:
            raise ValueError("idStructureCPP (or idStructure) is required")
        return self

    @property
    def cpp_id(self) -> int:
        return self.idStructureCPP or self.idStructure or 0


class GeneralInformation(BaseModel):
    idStructureCPP: int
    identifiantStructure: str
    typeIdentifiantStructure: str
    libelleStructure: str
    raisonSocialeStructure: str
    emailStructure: str | None
    structurePriveePublique: str
    # Not in the directory's snapshots yet: null rather than a guess.
    numeroTVA: str | None = None
    estValideurDeleguee: bool | None = None


class StructureParameters(BaseModel):
    codeServiceDoitEtreRenseigne: bool
    numeroEJDoitEtreRenseigne: bool
    gestionNumeroEJOuCodeService: bool
    estMoaUniquement: bool
    estValideurDelegue: bool | None = None


class ConsultStructureOut(Answer):
    informationGenerales: GeneralInformation
    parametres: StructureParameters


@router.post("/consulter", response_model=ConsultStructureOut, summary="A structure's details")
async def consulter(
    caller: CallerDep, uow: PublicUnitOfWorkDep, body: ConsultStructureIn
) -> ConsultStructureOut:
    row = await use_cases.structure_for(uow, caller, body.cpp_id)
    parameters = row["parameters"]
    return ConsultStructureOut(
        informationGenerales=GeneralInformation(
            idStructureCPP=row["cpp_id"],
            identifiantStructure=row["structure_id"],
            typeIdentifiantStructure=row["identifier_type"],
            libelleStructure=row["name"],
            raisonSocialeStructure=row["name"],
            emailStructure=row["email"],
            structurePriveePublique=row["kind"],
        ),
        parametres=StructureParameters(
            codeServiceDoitEtreRenseigne=parameters.get("service_code_required", False),
            numeroEJDoitEtreRenseigne=parameters.get("engagement_required", False),
            gestionNumeroEJOuCodeService=parameters.get("engagement_or_service_required", False),
            estMoaUniquement=parameters.get("moa_only", False),
        ),
    )


class SearchServicesIn(Request_):
    idStructure: CppId
    parametresRechercherServicesStructure: PageIn | None = None


class ServiceFound(BaseModel):
    idService: int
    codeService: str
    libelleService: str
    estActif: bool
    statutService: str


class SearchServicesOut(Answer):
    listeServices: list[ServiceFound]
    parametresRetour: PageOut


@router.post("/rechercher/services", response_model=SearchServicesOut, summary="A structure's services")
async def rechercher_services(
    caller: CallerDep, uow: PublicUnitOfWorkDep, body: SearchServicesIn
) -> SearchServicesOut:
    page = body.parametresRechercherServicesStructure or PageIn()
    rows, total, ids = await use_cases.services_of(
        uow, caller, body.idStructure, page.offset, page.nbResultatsParPage
    )
    return SearchServicesOut(
        listeServices=[
            ServiceFound(
                idService=ids[use_cases.service_key(row)],
                codeService=row["code"],
                libelleService=row["name"],
                estActif=row["active"],
                statutService=status_of(row["active"]),
            )
            for row in rows
        ],
        parametresRetour=page_out(page, total),
    )


class ConsultServiceIn(Request_):
    idStructure: CppId
    idService: CppId
    codeLangue: str | None = None


class ServiceInformation(BaseModel):
    codeService: str
    nomService: str
    descriptionService: str


class ServiceParameters(BaseModel):
    dateDebutValidite: str | None
    dateFinValidite: str | None
    numeroEngagement: bool


class ConsultServiceOut(Answer):
    informationsGenerales: ServiceInformation
    parametres: ServiceParameters


@router.post("/consulter/service", response_model=ConsultServiceOut, summary="A service's details")
async def consulter_service(
    caller: CallerDep, uow: PublicUnitOfWorkDep, body: ConsultServiceIn
) -> ConsultServiceOut:
    row = await use_cases.service_for(uow, caller, body.idStructure, body.idService)
    return ConsultServiceOut(
        informationsGenerales=ServiceInformation(
            codeService=row["code"], nomService=row["name"], descriptionService=row["name"]
        ),
        parametres=ServiceParameters(
            dateDebutValidite=cpro_date(row["valid_from"]),
            dateFinValidite=cpro_date(row["valid_to"]),
            numeroEngagement=row["engagement_required"],
        ),
    )
