"""`/cpro/engagementsJuridiques/v1`: the legal commitments (engagements juridiques) as their status
events describe them (the gateway's read model), seen by the structure that issued them and, once
validated, by their supplier: an ERP checks there that the order number it invoices against exists.

The criteria are those OCA's l10n_fr_chorus_account sends (`structureReceptriceEngagementJuridique`,
`numeroEngagementJuridique`, `etatCourantEngagementJuridique`); the answer's list is
`listeEngagementJuridique`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from chorus_common.dependencies import PublicUnitOfWorkDep
from piste_gateway import use_cases
from piste_gateway.api.deps import CPRO_REFUSALS, Answer, CallerDep, PageIn, PageOut, Request_, page_out
from piste_gateway.api.invoices import Amount, CppId
from piste_gateway.domain import cpro_date, cpro_instant

router = APIRouter(
    prefix="/cpro/engagementsJuridiques/v1", tags=["engagementsJuridiques"], responses=CPRO_REFUSALS
)

Identifier = Annotated[str, Field(min_length=1, max_length=100)]


class EngagementSearchIn(Request_):
    numeroEngagementJuridique: Annotated[str | None, Field(min_length=1, max_length=50)] = None
    structureReceptriceEngagementJuridique: Identifier | None = None  # the issuer's identifier (SIRET)
    idStructureReceptrice: CppId | None = None
    structureFournisseurEngagementJuridique: Identifier | None = None
    idStructureFournisseur: CppId | None = None
    etatCourantEngagementJuridique: Annotated[str | None, Field(min_length=1, max_length=30)] = None
    pagination: PageIn | None = None


class Engagement(BaseModel):
    idEngagementJuridique: int
    numeroEngagementJuridique: str
    typeEngagementJuridique: str
    etatCourantEngagementJuridique: str
    dateCreationEngagementJuridique: str | None
    dateHeureEtatCourant: str
    structureReceptriceEngagementJuridique: str
    idStructureReceptrice: int | None
    designationStructureReceptrice: str | None
    structureFournisseurEngagementJuridique: str
    idStructureFournisseur: int | None
    designationStructureFournisseur: str | None
    montantHT: Amount | None
    montantTVA: Amount | None
    montantTTC: Amount | None
    devise: str | None


class EngagementSearchOut(Answer):
    listeEngagementJuridique: list[Engagement]
    parametresRetour: PageOut


@router.post(
    "/rechercher",
    response_model=EngagementSearchOut,
    summary="Search the engagements the technical account's structure issued or supplies",
)
async def rechercher_engagements_juridiques(
    caller: CallerDep, uow: PublicUnitOfWorkDep, body: EngagementSearchIn | None = None
) -> EngagementSearchOut:
    body = body or EngagementSearchIn()
    page = body.pagination or PageIn()
    rows, total, parties = await use_cases.search_engagements(
        uow,
        caller,
        body.numeroEngagementJuridique,
        (body.structureReceptriceEngagementJuridique, body.idStructureReceptrice),
        (body.structureFournisseurEngagementJuridique, body.idStructureFournisseur),
        body.etatCourantEngagementJuridique,
        page.offset,
        page.nbResultatsParPage,
    )
    return EngagementSearchOut(
        listeEngagementJuridique=[
            Engagement(
                idEngagementJuridique=row["cpp_id"],
                numeroEngagementJuridique=row["number"],
                typeEngagementJuridique=row["type"],
                etatCourantEngagementJuridique=row["status"],
                dateCreationEngagementJuridique=cpro_date(row["created_at"]),
                dateHeureEtatCourant=cpro_instant(row["status_at"]),
                structureReceptriceEngagementJuridique=row["issuer_id"],
                idStructureReceptrice=parties.get(row["issuer_id"], "cpp_id"),
                designationStructureReceptrice=parties.get(row["issuer_id"], "name"),
                structureFournisseurEngagementJuridique=row["supplier_id"],
                idStructureFournisseur=parties.get(row["supplier_id"], "cpp_id"),
                designationStructureFournisseur=parties.get(row["supplier_id"], "name"),
                montantHT=row["amount_ht"],
                montantTVA=row["vat_amount"],
                montantTTC=row["amount_ttc"],
                devise=row["currency"],
            )
            for row in rows
        ],
        parametresRetour=page_out(page, total),
    )
