"""What the gateway's routes depend on: the caller (token and technical account), Chorus Pro's answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pydantic import BaseModel, ConfigDict, Field

from chorus_common.dependencies import PublicUnitOfWorkDep
from piste_gateway.access import Access, Caller
from piste_gateway.domain import SUCCESS_CODE, SUCCESS_LABEL
from piste_gateway.forwarding import Forwarder


def access(request: Request) -> Access:
    found: Access = request.app.state.access
    return found


async def _caller(
    request: Request,
    uow: PublicUnitOfWorkDep,
    authorization: Annotated[
        str | None, Header(description="Bearer and the token of /api/oauth/token")
    ] = None,
    cpro_account: Annotated[
        str | None, Header(alias="cpro-account", description="base64 of a technical account's login:password")
    ] = None,
) -> Caller:
    return await access(request).caller(uow, authorization, cpro_account)


CallerDep = Annotated[Caller, Depends(_caller)]


def _forwarder(request: Request) -> Forwarder:
    found: Forwarder = request.app.state.forwarder
    return found


# What reaches the other services' HTTP APIs: the owners of the invoices, and the referentials' sources.
ForwarderDep = Annotated[Forwarder, Depends(_forwarder)]


class Request_(BaseModel):
    """A request body: Chorus Pro's clients send fields the gateway does not read (idUtilisateurCourant,
    ...); they are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Answer(BaseModel):
    """Every answer: `codeRetour` 0 and `libelle` GCU_MSG_01_000 when the call worked."""

    codeRetour: int = SUCCESS_CODE
    libelle: str = SUCCESS_LABEL


class PageIn(Request_):
    nbResultatsParPage: Annotated[int, Field(ge=1, le=1000)] = 50
    pageResultatDemandee: Annotated[int, Field(ge=1, le=1_000_000)] = 1

    @property
    def offset(self) -> int:
        return (self.pageResultatDemandee - 1) * self.nbResultatsParPage


class PageOut(BaseModel):
    nbResultatsParPage: int
    pageCourante: int
    pages: int
    total: int


def page_out(page: PageIn | None, total: int) -> PageOut:
    page = page or PageIn()
    return PageOut(
        nbResultatsParPage=page.nbResultatsParPage,
        pageCourante=page.pageResultatDemandee,
        pages=-(-total // page.nbResultatsParPage),
        total=total,
    )


def fields(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(exclude_none=True)


class Refused(BaseModel):
    """A refused call, as Chorus Pro answers it (the README's table of codes)."""

    codeRetour: int
    libelle: str


# What every `/cpro/...` route may answer besides its 200.
CPRO_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": Refused, "description": "a field missing or invalid (20001), an object not found (20002)"},
    401: {"model": Refused, "description": "no valid access token (20005) or cpro-account (20006)"},
    403: {"model": Refused, "description": "a technical account of another structure (20006)"},
    413: {"model": Refused, "description": "a flow's file beyond the gateway's limit (20001)"},
}
