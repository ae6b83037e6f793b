"""`/cpro/factures/v1`: the invoices, as Chorus Pro's API deposits and finds them.

`deposer/flux` keeps the file and answers at once; the gateway's flow worker reads it and publishes
its invoice (`flows`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import Field

from chorus_common.dependencies import PublicUnitOfWorkDep
from piste_gateway import flows
from piste_gateway.api.deps import CPRO_REFUSALS, Answer, CallerDep, Request_
from piste_gateway.domain import cpro_date

router = APIRouter(prefix="/cpro/factures/v1", tags=["factures"], responses=CPRO_REFUSALS)


class DepositIn(Request_):
    fichierFlux: Annotated[str, Field(min_length=1, description="the file, in base64")]
    nomFichier: Annotated[str, Field(min_length=1, max_length=200)]
    syntaxeFlux: Annotated[str, Field(min_length=1, max_length=200)]
    avecSignature: bool = False


class DepositOut(Answer):
    numeroFluxDepot: str
    dateDepot: str
    syntaxeFlux: str


@router.post(
    "/deposer/flux",
    response_model=DepositOut,
    summary="Deposit a flow: a Factur-X PDF, a CII or a UBL invoice, in base64",
)
async def deposer_flux(
    request: Request, caller: CallerDep, uow: PublicUnitOfWorkDep, body: DepositIn
) -> DepositOut:
    settings = request.app.state.runtime.settings
    flow = await flows.deposit(
        uow,
        caller,
        flows.Deposit(body.fichierFlux, body.nomFichier, body.syntaxeFlux, body.avecSignature),
        settings.max_flow_bytes,
        request.app.state.flows.wake,
    )
    return DepositOut(
        numeroFluxDepot=flows.flow_number(flow["number"]),
        dateDepot=str(cpro_date(flow["deposited_at"])),
        syntaxeFlux=body.syntaxeFlux,
    )
