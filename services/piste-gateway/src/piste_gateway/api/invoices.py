"""`/cpro/factures/v1` searches and consultations: the received invoices as their status events
describe them (the gateway's read model), each seen by its supplier (`fournisseur`), its recipient
(`recipiendaire`) or its delegated validator (`valideur`), as the technical account's structure is."""

from __future__ import annotations

import base64
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, PlainSerializer
from sqlalchemy.engine import RowMapping

from chorus_common.dependencies import PublicUnitOfWorkDep
from chorus_common.frames import frame
from piste_gateway import use_cases
from piste_gateway.access import Caller
from piste_gateway.api.deps import CPRO_REFUSALS, Answer, CallerDep, PageIn, PageOut, Request_, page_out
from piste_gateway.domain import cpro_date, cpro_datetime, cpro_instant, invalid

router = APIRouter(prefix="/cpro/factures/v1", tags=["factures"], responses=CPRO_REFUSALS)

# Chorus Pro's amounts are JSON numbers. The read model keeps them exact (NUMERIC); a two-decimal
# amount of up to 15 digits is the same number as a double, so the answer loses nothing.
Amount = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
CppId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class FrameIn(Request_):
    codeCadreFacturation: Annotated[str, Field(min_length=1, max_length=100)]


def frame_code(value: str | FrameIn | None) -> str | None:
    if value is None:
        return None
    try:
        return frame(value.codeCadreFacturation if isinstance(value, FrameIn) else value).code
    except ValueError as error:
        raise invalid(f"cadreFacturation : {error}") from error


Status = Annotated[str, Field(max_length=60)]


class SearchIn(Request_):
    """The criteria every search reads (each role's own names below)."""

    numeroFacture: Annotated[str | None, Field(max_length=200)] = None
    statutCourant: (
        list[Annotated[str, Field(max_length=60)]] | Annotated[str, Field(max_length=60)] | None
    ) = None
    cadreFacturation: FrameIn | Annotated[str, Field(max_length=100)] | None = None
    periodeDateDepotDu: date | None = None
    periodeDateDepotAu: date | None = None
    periodeDateFactureDu: date | None = None
    periodeDateFactureAu: date | None = None
    numeroBonCommande: Annotated[str | None, Field(max_length=50)] = None


class Counterpart(Request_):
    idDestinataire: CppId | None = None
    idFournisseur: CppId | None = None


class SupplierSearchIn(SearchIn):
    numeroFluxDepot: Annotated[str | None, Field(max_length=100)] = None
    listeDestinataire: list[Counterpart] = []
    rechercheFactureParFournisseur: PageIn | None = None


class RecipientSearchIn(SearchIn):
    listeFournisseurs: list[Counterpart] = []
    paramRecherche: PageIn | None = None


class ValidatorSearchIn(SearchIn):
    idFournisseur: CppId | None = None
    numeroEngagement: Annotated[str | None, Field(max_length=50)] = None
    pagination: PageIn | None = None


class FoundInvoice(BaseModel):
    numeroFacture: str
    dateFacture: str | None
    dateDepot: str | None
    dateHeureEtatCourant: str
    statut: str
    commentaireEtatCourant: str | None
    typeDemandePaiement: str = "FACTURE"
    typeFacture: str = "FACTURE"
    cadreFacturation: str
    montantHT: Amount | None
    montantTTC: Amount | None
    montantAPayer: Amount | None
    devise: str | None
    numeroBonCommande: str | None
    idFournisseur: int | None
    codeFournisseur: str
    designationFournisseur: str | None
    idDestinataire: int | None
    codeDestinataire: str
    designationDestinataire: str | None
    codeServiceExecutant: str | None


class SupplierInvoice(FoundInvoice):
    identifiantFactureCPP: int
    numeroFluxDepot: str | None
    modeDepot: str
    typeIdentifiantFournisseur: str | None


class RecipientInvoice(FoundInvoice):
    idFacture: int
    factureTelechargeeParDestinataire: bool = False


class ValidatorInvoice(FoundInvoice):
    idFacture: int
    idValideur: int | None
    identifiantValideur: str | None
    designationValideur: str | None
    numeroEngagement: str | None


class SupplierSearchOut(Answer):
    listeFactures: list[SupplierInvoice]
    parametresRetour: PageOut


class RecipientSearchOut(Answer):
    listeFactures: list[RecipientInvoice]
    nbResultatsParPage: int
    pageCourante: int
    pages: int
    total: int


class ValidatorSearchOut(Answer):
    listeFactures: list[ValidatorInvoice]
    parametresRetour: PageOut


async def _search(
    uow: Any,
    caller: Caller,
    role: str,
    body: SearchIn,
    page: PageIn,
    counterparts: list[int],
    **more: Any,
) -> tuple[list[dict[str, Any]], int]:
    statuses = body.statutCourant
    search = use_cases.InvoiceSearch(
        number=body.numeroFacture,
        external_id=more.get("external_id"),
        statuses=tuple([statuses] if isinstance(statuses, str) else statuses or ()),
        frame=frame_code(body.cadreFacturation),
        counterparts=tuple(counterparts),
        deposited_from=body.periodeDateDepotDu,
        deposited_to=body.periodeDateDepotAu,
        issued_from=body.periodeDateFactureDu,
        issued_to=body.periodeDateFactureAu,
        engagement_number=body.numeroBonCommande or more.get("engagement_number"),
    )
    rows, total, parties = await use_cases.search_invoices(
        uow, caller, role, search, page.offset, page.nbResultatsParPage
    )
    return [described(row, parties) for row in rows], total


def described(row: RowMapping, parties: use_cases.Parties) -> dict[str, Any]:
    """The fields every answer about an invoice gives, its parties named as the directory names them."""
    return {
        "row": row,
        "numeroFacture": row["number"],
        "dateFacture": cpro_date(row["issue_date"]),
        "dateDepot": cpro_date(row["deposited_at"]),
        "dateHeureEtatCourant": cpro_instant(row["status_at"]),
        "statut": row["status"],
        "commentaireEtatCourant": row["motif"],
        "cadreFacturation": frame(row["billing_frame"]).name,
        "montantHT": row["amount_ht"],
        "montantTTC": row["amount_ttc"],
        "montantAPayer": row["amount_ttc"],
        "devise": row["currency"],
        "numeroBonCommande": row["engagement_number"],
        "idFournisseur": parties.get(row["supplier_id"], "cpp_id"),
        "codeFournisseur": row["supplier_id"],
        "designationFournisseur": parties.get(row["supplier_id"], "name"),
        "idDestinataire": parties.get(row["recipient_id"], "cpp_id"),
        "codeDestinataire": row["recipient_id"],
        "designationDestinataire": parties.get(row["recipient_id"], "name"),
        "codeServiceExecutant": row["service_code"],
        "supplier_identifier_type": parties.get(row["supplier_id"], "identifier_type"),
        "validator": {
            "idValideur": parties.get(row["delegate_id"], "cpp_id"),
            "identifiantValideur": row["delegate_id"],
            "designationValideur": parties.get(row["delegate_id"], "name"),
        },
    }


def _common(found: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in found.items() if k not in ("row", "validator", "supplier_identifier_type")}


@router.post(
    "/rechercher/fournisseur",
    response_model=SupplierSearchOut,
    summary="Search the invoices the technical account's structure deposited, as their supplier",
)
async def rechercher_fournisseur(
    caller: CallerDep, uow: PublicUnitOfWorkDep, body: SupplierSearchIn | None = None
) -> SupplierSearchOut:
    body = body or SupplierSearchIn()
    page = body.rechercheFactureParFournisseur or PageIn()
    recipients = [c.idDestinataire for c in body.listeDestinataire if c.idDestinataire]
    found, total = await _search(
        uow, caller, "fournisseur", body, page, recipients, external_id=body.numeroFluxDepot
    )
    return SupplierSearchOut(
        listeFactures=[
            SupplierInvoice(
                **_common(f),
                identifiantFactureCPP=f["row"]["cpp_id"],
                numeroFluxDepot=use_cases.flow_of(f["row"]),
                modeDepot=use_cases.deposit_mode(f["row"]),
                typeIdentifiantFournisseur=f["supplier_identifier_type"],
            )
            for f in found
        ],
        parametresRetour=page_out(page, total),
    )


@router.post(
    "/rechercher/recipiendaire",
    response_model=RecipientSearchOut,
    summary="Search the invoices addressed to the technical account's structure",
)
async def rechercher_recipiendaire(
    caller: CallerDep, uow: PublicUnitOfWorkDep, body: RecipientSearchIn | None = None
) -> RecipientSearchOut:
    body = body or RecipientSearchIn()
    page = body.paramRecherche or PageIn()
    suppliers = [c.idFournisseur for c in body.listeFournisseurs if c.idFournisseur]
    found, total = await _search(uow, caller, "recipiendaire", body, page, suppliers)
    out = page_out(page, total)
    return RecipientSearchOut(
        listeFactures=[RecipientInvoice(**_common(f), idFacture=f["row"]["cpp_id"]) for f in found],
        nbResultatsParPage=out.nbResultatsParPage,
        pageCourante=out.pageCourante,
        pages=out.pages,
        total=out.total,
    )


@router.post(
    "/rechercher/valideur",
    response_model=ValidatorSearchOut,
    summary="Search the invoices the technical account's structure validates by delegation",
)
async def rechercher_valideur(
    caller: CallerDep, uow: PublicUnitOfWorkDep, body: ValidatorSearchIn | None = None
) -> ValidatorSearchOut:
    body = body or ValidatorSearchIn()
    page = body.pagination or PageIn()
    suppliers = [body.idFournisseur] if body.idFournisseur else []
    found, total = await _search(
        uow, caller, "valideur", body, page, suppliers, engagement_number=body.numeroEngagement
    )
    return ValidatorSearchOut(
        listeFactures=[
            ValidatorInvoice(
                **_common(f),
                **f["validator"],
                idFacture=f["row"]["cpp_id"],
                numeroEngagement=f["row"]["engagement_number"],
            )
            for f in found
        ],
        parametresRetour=page_out(page, total),
    )


# --- Consultations -----------------------------------------------------------------------------------


class ConsultIn(Request_):
    identifiantFactureCPP: CppId


class Recipient(BaseModel):
    idDestinataire: int | None
    codeDestinataire: str
    libelleDestinataire: str | None
    codeServiceExecutant: str | None


class Supplier(BaseModel):
    idFournisseur: int | None
    codeFournisseur: str
    designationFournisseur: str | None


class Totals(BaseModel):
    montantHtTotal: Amount | None
    montantTVA: Amount | None
    montantTtcTotal: Amount | None
    montantAPayer: Amount | None


class References(BaseModel):
    codeDeviseFacture: str | None
    dateDepot: str | None
    dateFacture: str | None
    numeroBonCommande: str | None
    typeFacture: str = "FACTURE"


class Frame(BaseModel):
    codeCadreFacturation: str
    idValideur1: int | None = None
    codeValideur1: str | None = None
    raisonSocialeValideur1: str | None = None


class ConsultedInvoice(BaseModel):
    identifiantFactureCPP: int
    numeroFacture: str
    statutFacture: str
    commentaire: str | None
    modeDepot: str
    cadreDeFacturation: Frame
    destinataire: Recipient
    fournisseur: Supplier
    montantTotal: Totals
    references: References


class ConsultOut(Answer):
    facture: ConsultedInvoice


async def _consult(uow: Any, caller: Caller, role: str, cpp_id: int) -> ConsultOut:
    row, parties = await use_cases.invoice_for(uow, caller, cpp_id, role)
    found = described(row, parties)
    validator = found["validator"]
    return ConsultOut(
        facture=ConsultedInvoice(
            identifiantFactureCPP=row["cpp_id"],
            numeroFacture=row["number"],
            statutFacture=row["status"],
            commentaire=row["motif"],
            modeDepot=use_cases.deposit_mode(row),
            cadreDeFacturation=Frame(
                codeCadreFacturation=found["cadreFacturation"],
                idValideur1=validator["idValideur"],
                codeValideur1=validator["identifiantValideur"],
                raisonSocialeValideur1=validator["designationValideur"],
            ),
            destinataire=Recipient(
                idDestinataire=found["idDestinataire"],
                codeDestinataire=row["recipient_id"],
                libelleDestinataire=found["designationDestinataire"],
                codeServiceExecutant=row["service_code"],
            ),
            fournisseur=Supplier(
                idFournisseur=found["idFournisseur"],
                codeFournisseur=row["supplier_id"],
                designationFournisseur=found["designationFournisseur"],
            ),
            montantTotal=Totals(
                montantHtTotal=row["amount_ht"],
                montantTVA=row["vat_amount"],
                montantTtcTotal=row["amount_ttc"],
                montantAPayer=row["amount_ttc"],
            ),
            references=References(
                codeDeviseFacture=row["currency"],
                dateDepot=found["dateDepot"],
                dateFacture=found["dateFacture"],
                numeroBonCommande=row["engagement_number"],
            ),
        )
    )


@router.post("/consulter/fournisseur", response_model=ConsultOut, summary="An invoice, as its supplier")
async def consulter_fournisseur(caller: CallerDep, uow: PublicUnitOfWorkDep, body: ConsultIn) -> ConsultOut:
    return await _consult(uow, caller, "fournisseur", body.identifiantFactureCPP)


@router.post("/consulter/recipiendaire", response_model=ConsultOut, summary="An invoice, as its recipient")
async def consulter_recipiendaire(caller: CallerDep, uow: PublicUnitOfWorkDep, body: ConsultIn) -> ConsultOut:
    return await _consult(uow, caller, "recipiendaire", body.identifiantFactureCPP)


@router.post(
    "/consulter/valideur", response_model=ConsultOut, summary="An invoice, as its delegated validator"
)
async def consulter_valideur(caller: CallerDep, uow: PublicUnitOfWorkDep, body: ConsultIn) -> ConsultOut:
    return await _consult(uow, caller, "valideur", body.identifiantFactureCPP)


class HistoryIn(Request_):
    idFacture: CppId


class StatusEntry(BaseModel):
    histoStatutId: int
    histoStatutCode: str
    histoStatutDatePassage: str | None
    histoStatutCommentaire: str | None


class Statuses(BaseModel):
    histoStatut: list[StatusEntry]
    nbResultatsParPageHistoStatut: int
    pageCouranteHistoStatut: int = 1
    pagesHistoStatut: int = 1
    totalHistoStatut: int


class LastAction(BaseModel):
    derniereActionCode: str
    derniereActionId: int


class HistoryOut(Answer):
    idFacture: int
    numeroFacture: str
    statutCourantCode: str
    modeDepot: str
    derniereAction: LastAction | None
    historiquesDesStatuts: Statuses


@router.post(
    "/consulter/historique",
    response_model=HistoryOut,
    summary="The statuses an invoice went through, for any of its parties",
)
async def consulter_historique(caller: CallerDep, uow: PublicUnitOfWorkDep, body: HistoryIn) -> HistoryOut:
    row, history = await use_cases.invoice_history(uow, caller, body.idFacture)
    entries = [
        StatusEntry(
            histoStatutId=entry["sequence"],
            histoStatutCode=entry["to_status"],
            histoStatutDatePassage=cpro_datetime(entry["at"]),
            histoStatutCommentaire=entry["motif"],
        )
        for entry in history
    ]
    last = history[-1] if history else None
    return HistoryOut(
        idFacture=row["cpp_id"],
        numeroFacture=row["number"],
        statutCourantCode=row["status"],
        modeDepot=use_cases.deposit_mode(row),
        derniereAction=LastAction(derniereActionCode=last["step"], derniereActionId=last["sequence"])
        if last
        else None,
        historiquesDesStatuts=Statuses(
            histoStatut=entries, nbResultatsParPageHistoStatut=len(entries), totalHistoStatut=len(entries)
        ),
    )


# --- Downloads ---------------------------------------------------------------------------------------


class InvoiceRef(Request_):
    idFacture: CppId


class DownloadIn(Request_):
    listeFacture: Annotated[list[InvoiceRef], Field(min_length=1, max_length=100)]
    format: Annotated[str | None, Field(max_length=20)] = None
    avecPiecesJointesComplementaires: Annotated[str | None, Field(max_length=10)] = None


class DownloadOut(Answer):
    fichierResultat: str  # a ZIP, in base64


@router.post(
    "/telecharger/groupe",
    response_model=DownloadOut,
    summary="Download invoices' main documents (the files their flows carried), as one ZIP",
)
async def telecharger_groupe(caller: CallerDep, uow: PublicUnitOfWorkDep, body: DownloadIn) -> DownloadOut:
    files = await use_cases.main_documents(uow, caller, [ref.idFacture for ref in body.listeFacture])
    return DownloadOut(fichierResultat=base64.b64encode(use_cases.zipped(files)).decode())
