"""`/cpro/transverses/v1`: Chorus Pro's cross-cutting services: health, flows' reports, and the
referentials, each from its source (the platform's frames and kinds of works invoice, pycountry's
currencies, received-invoices' lifecycle, support-portal's categories, the directory's structures)."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from chorus_common.dependencies import PublicUnitOfWorkDep
from chorus_common.frames import FRAMES
from piste_gateway import flows, use_cases
from piste_gateway.api.deps import (
    CPRO_REFUSALS,
    Answer,
    CallerDep,
    ForwarderDep,
    PageIn,
    PageOut,
    Request_,
    page_out,
)
from piste_gateway.api.invoices import FrameIn, frame_code
from piste_gateway.domain import (
    VALIDATION_REFUSALS,
    WORKS_INVOICE_TYPES,
    cpro_instant,
    currencies,
)
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
    forwarder: ForwarderDep, caller: CallerDep, body: ProcessingStatesIn
) -> ProcessingStatesOut:
    targets = await use_cases.recipient_targets(forwarder, caller, body.statutCourant)
    return ProcessingStatesOut(
        listeStatutsPossiblesPourTraitement=[
            ProcessingState(statutPossiblePourTraitement=target) for target in targets
        ]
    )


class WorksTypeOut(BaseModel):
    typeFactureTravaux: str


class WorksTypesOut(Answer):
    listeTypeFactureTravaux: list[WorksTypeOut]


@router.post(
    "/recuperer/typefacturetravaux",
    response_model=WorksTypesOut,
    summary="The kinds of works invoice (what the works frames A4 to A25 deposit)",
)
async def recuperer_typefacturetravaux(caller: CallerDep) -> WorksTypesOut:
    return WorksTypesOut(
        listeTypeFactureTravaux=[WorksTypeOut(typeFactureTravaux=t) for t in WORKS_INVOICE_TYPES]
    )


class RefusalsIn(Request_):
    codeCadreFacturationAValider: FrameIn | Annotated[str, Field(max_length=100)] | None = None


class RefusalOut(BaseModel):
    idMotif: int
    codeMotif: str
    libelleMotif: str


class RefusalsOut(Answer):
    listeMotifRefusFactureAValider: list[RefusalOut]


@router.post(
    "/recuperer/motifs/refus/Facture/AValider",
    response_model=RefusalsOut,
    summary="Why a delegated validator may refuse an invoice to validate (traiter/factureAValider)",
)
async def recuperer_motifs_refus(caller: CallerDep, body: RefusalsIn | None = None) -> RefusalsOut:
    frame_code((body or RefusalsIn()).codeCadreFacturationAValider)  # a frame that exists, when named
    return RefusalsOut(
        listeMotifRefusFactureAValider=[
            RefusalOut(idMotif=r.id, codeMotif=r.code, libelleMotif=r.label) for r in VALIDATION_REFUSALS
        ]
    )


Text = Annotated[str, Field(max_length=200)]


class CategoriesIn(Request_):
    codeCategorie: Text | None = None
    libelleCategorie: Text | None = None
    estActif: bool | None = None
    pagination: PageIn | None = None


class CategoryOut(BaseModel):
    idTechniqueCategorie: int
    codeCategorie: str
    libelleCategorie: str


class CategoriesOut(Answer):
    listeCategories: list[CategoryOut]
    parametresRetour: PageOut


def _matches(code: str, label: str, wanted_code: str | None, wanted_label: str | None) -> bool:
    return (not wanted_code or code == wanted_code) and (
        not wanted_label or wanted_label.casefold() in label.casefold()
    )


def _page(items: list[Any], page: PageIn) -> list[Any]:
    return items[page.offset : page.offset + page.nbResultatsParPage]


@router.post(
    "/rechercher/categorieSollicitation",
    response_model=CategoriesOut,
    summary="The categories of a support request (support-portal's referential)",
)
async def rechercher_categorie_sollicitation(
    forwarder: ForwarderDep, caller: CallerDep, uow: PublicUnitOfWorkDep, body: CategoriesIn | None = None
) -> CategoriesOut:
    body = body or CategoriesIn()
    page = body.pagination or PageIn()
    # support-portal offers its active categories only: none is inactive.
    found = [
        c
        for c in await use_cases.categories(forwarder, uow)
        if body.estActif is not False and _matches(c.code, c.label, body.codeCategorie, body.libelleCategorie)
    ]
    return CategoriesOut(
        listeCategories=[
            CategoryOut(idTechniqueCategorie=c.id, codeCategorie=c.code, libelleCategorie=c.label)
            for c in _page(found, page)
        ],
        parametresRetour=page_out(page, len(found)),
    )


class SubcategoriesIn(Request_):
    code: Text | None = None
    libelle: Text | None = None
    estActif: bool | None = None
    idTechniqueCategorie: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None
    pagination: PageIn | None = None


class SubcategoryOut(BaseModel):
    idTechniqueCategorie: int  # the subcategory's category
    idTechniqueSousCategorie: int
    code: str
    libelle: str
    estActif: bool = True
    dateCreation: str | None = None
    dateDerniereModification: str | None = None


class SubcategoriesOfOut(BaseModel):
    categorie: list[CategoryOut]
    ssCategorie: list[SubcategoryOut]


class SubcategoriesOut(Answer):
    listeSousCategories: list[SubcategoriesOfOut]
    parametresRetour: PageOut


@router.post(
    "/rechercher/sousCategorieSollicitation",
    response_model=SubcategoriesOut,
    summary="The subcategories of a support request, by category (support-portal's referential)",
)
async def rechercher_sous_categorie_sollicitation(
    forwarder: ForwarderDep, caller: CallerDep, uow: PublicUnitOfWorkDep, body: SubcategoriesIn | None = None
) -> SubcategoriesOut:
    body = body or SubcategoriesIn()
    page = body.pagination or PageIn()
    found = []
    for c in await use_cases.categories(forwarder, uow):
        if body.idTechniqueCategorie is not None and c.id != body.idTechniqueCategorie:
            continue
        subcategories = [
            s
            for s in c.subcategories
            if body.estActif is not False and _matches(s.code, s.label, body.code, body.libelle)
        ]
        if subcategories:
            found.append(
                SubcategoriesOfOut(
                    categorie=[
                        CategoryOut(idTechniqueCategorie=c.id, codeCategorie=c.code, libelleCategorie=c.label)
                    ],
                    ssCategorie=[
                        SubcategoryOut(
                            idTechniqueCategorie=c.id,
                            idTechniqueSousCategorie=s.id,
                            code=s.code,
                            libelle=s.label,
                        )
                        for s in subcategories
                    ],
                )
            )
    return SubcategoriesOut(
        listeSousCategories=_page(found, page), parametresRetour=page_out(page, len(found))
    )


class SiretIn(Request_):
    siretStructure: Annotated[str, Field(min_length=1, max_length=20)]


class SiretOut(Answer):
    siret: str
    siren: str
    raisonSociale: str
    estActif: bool
    # INSEE's fields (adresse, categorieJuridique, dateCreationEtablissement, ...) are not the
    # directory's: left out rather than guessed.


@router.post(
    "/consulter/information/siret",
    response_model=SiretOut,
    summary="What the directory holds of a SIRET (Chorus Pro asks INSEE)",
)
async def consulter_information_siret(caller: CallerDep, uow: PublicUnitOfWorkDep, body: SiretIn) -> SiretOut:
    row = await use_cases.siret_information(uow, caller, body.siretStructure)
    return SiretOut(
        siret=row["structure_id"],
        siren=row["structure_id"][:9],
        raisonSociale=row["name"],
        estActif=row["active"],
    )


class RecipientsOut(Answer):
    fichierResultat: str  # a ZIP, in base64


@router.post(
    "/telecharger/annuaire/destinataire",
    response_model=RecipientsOut,
    summary="The directory of public recipients and their services, as a CSV in a ZIP",
)
async def telecharger_annuaire_destinataire(caller: CallerDep, uow: PublicUnitOfWorkDep) -> RecipientsOut:
    archive = await use_cases.recipients_directory(uow)
    return RecipientsOut(fichierResultat=base64.b64encode(archive).decode())
