"""`/cpro/transverses/v1`: Chorus Pro's cross-cutting services (health, referentials)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from chorus_common.frames import FRAMES
from piste_gateway.api.deps import CPRO_REFUSALS, Answer, CallerDep, Request_
from piste_gateway.domain import currencies

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
