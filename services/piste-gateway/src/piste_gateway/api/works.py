"""`/cpro/facturesTravaux/v1`: the works invoices (projets de décompte, états d'acompte, décomptes
généraux) as their status events describe them (the gateway's read model), each seen by its supplier,
its project manager (MOE) or its contracting authority (MOA), as the technical account's structure is.

No public client wraps these resources: the criteria and fields are those of Chorus Pro's
rechercherDemandePaiement (`roleUtilisateur`, `cadreFacturation`, `statutCourant`, the amounts)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from chorus_common.dependencies import PublicUnitOfWorkDep
from chorus_common.frames import frame
from piste_gateway import use_cases
from piste_gateway.api.deps import CPRO_REFUSALS, Answer, CallerDep, PageIn, PageOut, Request_, page_out
from piste_gateway.api.invoices import Amount, FrameIn, Status, frame_code
from piste_gateway.domain import cpro_date, cpro_instant

router = APIRouter(prefix="/cpro/facturesTravaux/v1", tags=["facturesTravaux"], responses=CPRO_REFUSALS)


class WorksSearchIn(Request_):
    roleUtilisateur: Literal["FOURNISSEUR", "MOE", "MOA"] = "FOURNISSEUR"
    numeroFactureTravaux: Annotated[str | None, Field(max_length=200)] = None
    statutCourant: list[Status] | Status | None = None
    cadreFacturation: FrameIn | Annotated[str, Field(max_length=100)] | None = None
    pagination: PageIn | None = None


class WorksInvoice(BaseModel):
    idFactureTravaux: int
    numeroFactureTravaux: str
    cadreFacturation: str
    statut: str
    commentaireEtatCourant: str | None
    dateDepot: str | None
    dateHeureEtatCourant: str
    montantHT: Amount | None
    montantTVA: Amount | None
    montantTTC: Amount | None
    devise: str | None
    idFournisseur: int | None
    codeFournisseur: str
    designationFournisseur: str | None
    idMOE: int | None
    codeMOE: str | None
    designationMOE: str | None
    idMOA: int | None
    codeMOA: str | None
    designationMOA: str | None


class WorksSearchOut(Answer):
    listeFacturesTravaux: list[WorksInvoice]
    parametresRetour: PageOut


@router.post(
    "/rechercher",
    response_model=WorksSearchOut,
    summary="Search the works invoices of the technical account's structure, as supplier, MOE or MOA",
)
async def rechercher_factures_travaux(
    caller: CallerDep, uow: PublicUnitOfWorkDep, body: WorksSearchIn | None = None
) -> WorksSearchOut:
    body = body or WorksSearchIn()
    page = body.pagination or PageIn()
    statuses = body.statutCourant
    rows, total, parties = await use_cases.search_works_invoices(
        uow,
        caller,
        body.roleUtilisateur,
        body.numeroFactureTravaux,
        tuple([statuses] if isinstance(statuses, str) else statuses or ()),
        frame_code(body.cadreFacturation),
        page.offset,
        page.nbResultatsParPage,
    )
    return WorksSearchOut(
        listeFacturesTravaux=[
            WorksInvoice(
                idFactureTravaux=row["cpp_id"],
                numeroFactureTravaux=row["number"],
                cadreFacturation=frame(row["billing_frame"]).name,
                statut=row["status"],
                commentaireEtatCourant=row["motif"],
                dateDepot=cpro_date(row["deposited_at"]),
                dateHeureEtatCourant=cpro_instant(row["status_at"]),
                montantHT=row["amount_ht"],
                montantTVA=row["vat_amount"],
                montantTTC=row["amount_ttc"],
                devise=row["currency"],
                idFournisseur=parties.get(row["supplier_id"], "cpp_id"),
                codeFournisseur=row["supplier_id"],
                designationFournisseur=parties.get(row["supplier_id"], "name"),
                idMOE=parties.get(row["moe_id"], "cpp_id"),
                codeMOE=row["moe_id"],
                designationMOE=parties.get(row["moe_id"], "name"),
                idMOA=parties.get(row["moa_id"], "cpp_id"),
                codeMOA=row["moa_id"],
                designationMOA=parties.get(row["moa_id"], "name"),
            )
            for row in rows
        ],
        parametresRetour=page_out(page, total),
    )
