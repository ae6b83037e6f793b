"""`/cpro/factures/v1` actions: forwarded to received-invoices, which owns the invoices (and, for works
invoices in traiterRejet, to invoicing-works), with a token the gateway signs for the technical
account's structure (`forwarding`); its answer is given at once, and the read model follows with its
status events."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from chorus_common.clock import paris_day
from chorus_common.dependencies import PublicUnitOfWorkDep
from piste_gateway import use_cases
from piste_gateway.api.deps import CPRO_REFUSALS, Answer, CallerDep, ForwarderDep, Request_
from piste_gateway.domain import cpro_date

router = APIRouter(prefix="/cpro/factures/v1", tags=["factures"], responses=CPRO_REFUSALS)

CppId = Annotated[int, Field(ge=1, le=2**63 - 1)]
Text = Annotated[str, Field(min_length=1, max_length=1000)]


def today(uow: Any) -> str:
    return str(cpro_date(paris_day(uow.now())))


class ReceivedIn(Request_):
    idFacture: CppId
    nouveauStatut: Annotated[str, Field(min_length=1, max_length=60)]
    motif: Text | None = None
    numeroDPMandat: Annotated[str | None, Field(min_length=1, max_length=100)] = None


class ReceivedOut(Answer):
    idFacture: int
    numeroFacture: str
    nouveauStatut: str
    dateTraitement: str


@router.post(
    "/traiter/recue",
    response_model=ReceivedOut,
    summary="Move a received invoice to a status (its recipient, or a delegate that processes)",
)
async def traiter_recue(
    forwarder: ForwarderDep, caller: CallerDep, uow: PublicUnitOfWorkDep, body: ReceivedIn
) -> ReceivedOut:
    number, processed = await use_cases.forward(
        forwarder,
        uow,
        caller,
        body.idFacture,
        "processing",
        {"status": body.nouveauStatut, "motif": body.motif, "numero_dp_mandat": body.numeroDPMandat},
    )
    return ReceivedOut(
        idFacture=body.idFacture,
        numeroFacture=number,
        nouveauStatut=processed["status"],
        dateTraitement=today(uow),
    )


class ToValidateIn(Request_):
    idFacture: CppId
    action: Literal["VALIDATION", "REFUS"]
    motifRefus: Text | None = None


class ToValidateOut(Answer):
    idFacture: int
    numeroFacture: str
    statutFacture: str
    dateTraitement: str


DECISIONS = {"VALIDATION": "VALIDEE_1", "REFUS": "REFUSEE_1"}


@router.post(
    "/traiter/factureAValider",
    response_model=ToValidateOut,
    summary="Validate or refuse an invoice awaiting validation (its delegated validator)",
)
async def traiter_facture_a_valider(
    forwarder: ForwarderDep, caller: CallerDep, uow: PublicUnitOfWorkDep, body: ToValidateIn
) -> ToValidateOut:
    number, decided = await use_cases.forward(
        forwarder,
        uow,
        caller,
        body.idFacture,
        "processing",
        {"status": DECISIONS[body.action], "motif": body.motifRefus},
    )
    return ToValidateOut(
        idFacture=body.idFacture,
        numeroFacture=number,
        statutFacture=decided["status"],
        dateTraitement=today(uow),
    )


class CompleteIn(Request_):
    identifiantFactureCPP: CppId
    commentaire: Text


class CompleteOut(Answer):
    identifiantFactureCPP: int
    numeroFacture: str
    dateTraitement: str


@router.post("/completer", response_model=CompleteOut, summary="The supplier completes a suspended invoice")
async def completer(
    forwarder: ForwarderDep, caller: CallerDep, uow: PublicUnitOfWorkDep, body: CompleteIn
) -> CompleteOut:
    number, _ = await use_cases.forward(
        forwarder, uow, caller, body.identifiantFactureCPP, "completion", {"comment": body.commentaire}
    )
    return CompleteOut(
        identifiantFactureCPP=body.identifiantFactureCPP,
        numeroFacture=number,
        dateTraitement=today(uow),
    )


class RecycleRecipient(Request_):
    codeDestinataire: Annotated[str, Field(min_length=1, max_length=100)]
    codeServiceExecutant: Annotated[str | None, Field(min_length=1, max_length=100)] = None


class RecycleReferences(Request_):
    numeroBonCommande: Annotated[str | None, Field(min_length=1, max_length=50)] = None


class RecycleIn(Request_):
    identifiantFactureCPP: CppId
    destinataire: RecycleRecipient
    reference: RecycleReferences | None = None
    commentaire: Annotated[str | None, Field(max_length=1000)] = None


class RecycleOut(Answer):
    identifiantFactureCPP: int
    numeroFacture: str
    statutFacture: str
    dateDepot: str


@router.post("/recycler", response_model=RecycleOut, summary="The supplier sends an invoice to recycle anew")
async def recycler(
    forwarder: ForwarderDep, caller: CallerDep, uow: PublicUnitOfWorkDep, body: RecycleIn
) -> RecycleOut:
    recipient = {
        "structure_id": body.destinataire.codeDestinataire,
        "service_code": body.destinataire.codeServiceExecutant,
    }
    engagement = body.reference.numeroBonCommande if body.reference else None
    number, recycled = await use_cases.forward(
        forwarder,
        uow,
        caller,
        body.identifiantFactureCPP,
        "recycling",
        {"recipient": recipient, "engagement_number": engagement},
    )
    return RecycleOut(
        identifiantFactureCPP=body.identifiantFactureCPP,
        numeroFacture=number,
        statutFacture=recycled["status"],
        dateDepot=today(uow),
    )


class PaymentRequest(Request_):
    idDemandePaiement: CppId


class RejectionIn(Request_):
    listeDemandePaiement: Annotated[list[PaymentRequest], Field(min_length=1, max_length=1000)]
    motifRejet: Annotated[str | None, Field(max_length=1000)] = None
    cpltInfos: Annotated[str | None, Field(max_length=1000)] = None


class RejectionResult(BaseModel):
    idDemandePaiement: int
    resultat: str  # PROCESSED, NOT_FOUND, NOT_REJECTED, ALREADY_PROCESSED
    libelle: str


class RejectionOut(Answer):
    nombreTraites: int
    listeResultats: list[RejectionResult]


@router.post(
    "/traiterRejet",
    response_model=RejectionOut,
    summary="The supplier processes the rejection of several invoices at once",
)
async def traiter_rejet(
    forwarder: ForwarderDep, caller: CallerDep, uow: PublicUnitOfWorkDep, body: RejectionIn
) -> RejectionOut:
    outcomes = await use_cases.process_rejections(
        forwarder, uow, caller, [item.idDemandePaiement for item in body.listeDemandePaiement]
    )
    listed = [
        RejectionResult(idDemandePaiement=o.cpp_id, resultat=o.result, libelle=o.detail) for o in outcomes
    ]
    return RejectionOut(nombreTraites=sum(r.resultat == "PROCESSED" for r in listed), listeResultats=listed)
