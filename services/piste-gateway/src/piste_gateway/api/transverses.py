"""`/cpro/transverses/v1`: Chorus Pro's cross-cutting services (health, referentials)."""

from __future__ import annotations

import base64
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from chorus_common.dependencies import PublicUnitOfWorkDep
from chorus_common.frames import FRAMES
from piste_gateway import flows
from piste_gateway.api.deps import CPRO_REFUSALS, Answer, CallerDep, Request_
from piste_gateway.domain import cpro_instant, currencies, invalid
from piste_gateway.reports import flow_report

router = APIRouter(prefix="/cpro/transverses/v1", tags=["transverses"], responses=CPRO_REFUSALS)


class HealthCheckOut(BaseModel):
    body: str
    statusCodeValue: int
    statusCode: str


@router.get("/health-check", response_model=HealthCheckOut, summary="Whether the API answers")
async def health_check(caller: CallerDep) -> HealthCheckOut:
    return HealthCheckOut(body="OK", statusCodeValue=200, statusCode="OK")


class LanguageIn(Request_):
    codeLangue: Literal["FR", "EN", "fr", "en"] = "FR"


class Currency(BaseModel):
    codeDevise: str
    libelleDevise: str


class CurrenciesOut(Answer):
    listeDevises: list[Currency]


@router.post("/recuperer/devises", response_model=CurrenciesOut, summary="The currencies (ISO 4217)")
async def recuperer_devises(caller: CallerDep, body: LanguageIn | None = None) -> CurrenciesOut:
    language = (body or LanguageIn()).codeLangue
    return CurrenciesOut(
        listeDevises=[Currency(codeDevise=code, libelleDevise=name) for code, name in currencies(language)]
    )


class FramesIn(Request_):
    typeDemandePaiement: Literal["FACTURE", "FACTURE_TRAVAUX"] | None = None


class FrameOut(BaseModel):
    codeCadreFacturation: str


class FramesOut(Answer):
    listeCadreFacturation: list[FrameOut]


@router.post(
    "/recuperer/cadrefacturation",
    response_model=FramesOut,
    summary="The billing frames (cadres de facturation), of invoices or of works invoices",
)
async def recuperer_cadrefacturation(caller: CallerDep, body: FramesIn | None = None) -> FramesOut:
    kind = (body or FramesIn()).typeDemandePaiement
    chosen = [
        frame for frame in FRAMES.values() if kind is None or frame.works == (kind == "FACTURE_TRAVAUX")
    ]
    return FramesOut(listeCadreFacturation=[FrameOut(codeCadreFacturation=f.name) for f in chosen])


class FlowIn(Request_):
    numeroFluxDepot: Annotated[str, Field(min_length=1, max_length=100)]
    dateDepot: str | None = None
    syntaxeFlux: str | None = None


class ReportOut(Answer):
    numeroFluxDepot: str
    nomFichierFlux: str
    codeInterfaceFlux: str
    codeAppliPartenaire: str
    dateDepotFlux: str
    dateHeureEtatCourantFlux: str
    etatCourantFlux: str
    fichierCR: str


@router.post(
    "/consulterCR",
    response_model=ReportOut,
    response_model_exclude_none=True,
    summary="A flow's state, with its report (compte rendu) as a PDF",
)
async def consulter_cr(caller: CallerDep, uow: PublicUnitOfWorkDep, body: FlowIn) -> ReportOut:
    flow = await flows.flow_of(uow, caller, body.numeroFluxDepot)
    numero = flows.flow_number(flow["number"])
    return ReportOut(
        numeroFluxDepot=numero,
        nomFichierFlux=flow["file_name"],
        codeInterfaceFlux=flow["syntax"],
        codeAppliPartenaire=flow["client_id"],
        dateDepotFlux=cpro_instant(flow["deposited_at"]),
        dateHeureEtatCourantFlux=cpro_instant(flow["status_at"]),
        etatCourantFlux=flow["status"],
        fichierCR=base64.b64encode(flow_report(flow, numero)).decode(),
    )


class InvoiceError(BaseModel):
    numeroDP: str | None = None
    identifiantFournisseur: str | None = None
    identifiantDestinataire: str | None = None
    libelleErreurDP: str


class TechnicalError(BaseModel):
    codeErreur: str
    natureErreur: str
    libelleErreur: str


class DetailedReportOut(Answer):
    numeroFluxDepot: str
    nomFichier: str
    codeInterfaceDepotFlux: str
    dateDepotFlux: str
    dateHeureEtatCourantFlux: str
    etatCourantDepotFlux: str
    listeErreurDP: list[InvoiceError]
    listeErreurTechnique: list[TechnicalError]


@router.post(
    "/consulterCRDetaille",
    response_model=DetailedReportOut,
    response_model_exclude_none=True,
    summary="A flow's state with each invoice refused and its reason",
)
async def consulter_cr_detaille(
    caller: CallerDep, uow: PublicUnitOfWorkDep, body: FlowIn
) -> DetailedReportOut:
    flow = await flows.flow_of(uow, caller, body.numeroFluxDepot)
    return DetailedReportOut(
        numeroFluxDepot=flows.flow_number(flow["number"]),
        nomFichier=flow["file_name"],
        codeInterfaceDepotFlux=flow["syntax"],
        dateDepotFlux=cpro_instant(flow["deposited_at"]),
        dateHeureEtatCourantFlux=cpro_instant(flow["status_at"]),
        etatCourantDepotFlux=flow["status"],
        listeErreurDP=[InvoiceError(**error) for error in flow["invoice_errors"]],
        listeErreurTechnique=[TechnicalError(**error) for error in flow["technical_errors"]],
    )


class ProcessingStatesIn(Request_):
    statutCourant: Annotated[str, Field(min_length=1, max_length=60)]


class ProcessingState(BaseModel):
    statutPossiblePourTraitement: str


class ProcessingStatesOut(Answer):
    listeStatutsPossiblesPourTraitement: list[ProcessingState]


@router.post(
    "/recuperer/etats/traitement",
    response_model=ProcessingStatesOut,
    summary="The statuses a recipient may move a received invoice to from a status (received-invoices')",
)
async def recuperer_etats_traitement(
    request: Request, caller: CallerDep, body: ProcessingStatesIn
) -> ProcessingStatesOut:
    steps = await request.app.state.forwarder.lifecycle(caller)
    step = next((s for s in steps if s["status"] == body.statutCourant), None)
    if step is None:
        raise invalid(f"statutCourant : {body.statutCourant[:60]} n'est pas un statut de facture")
    return ProcessingStatesOut(
        listeStatutsPossiblesPourTraitement=[
            ProcessingState(statutPossiblePourTraitement=target)
            for target in step["targets"].get("RECIPIENT", [])
        ]
    )
