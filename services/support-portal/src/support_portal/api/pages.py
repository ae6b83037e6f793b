"""The signed-out web pages (French, server-rendered, no build step): create a ticket, follow it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import ValidationError

from chorus_common.actions import ActionRefused, Refusal
from chorus_common.clock import PARIS
from chorus_common.dependencies import PublicUnitOfWorkDep
from chorus_common.problems import Problem
from support_portal import use_cases
from support_portal.api.deps import ClientAddressDep, PortalDep
from support_portal.api.public import create_signed_out, public_view
from support_portal.api.tickets import SignedOutTicketIn
from support_portal.domain import Environment as TicketEnvironment
from support_portal.domain import Status

router = APIRouter(include_in_schema=False)

templates = Environment(loader=PackageLoader("support_portal", "templates"), autoescape=select_autoescape())
templates.filters["paris"] = lambda instant: instant.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")

FIELD_LABELS = {
    "email": "Adresse électronique",
    "name": "Nom",
    "category": "Catégorie",
    "subcategory": "Sous-catégorie",
    "title": "Objet",
    "description": "Description",
    "environment": "Environnement",
}

ANSWER_ERRORS = {
    Refusal.INCOMPLETE: "Votre réponse est vide.",
    Refusal.NOT_NOW: "Aucune question ne vous est posée pour le moment.",
    Refusal.FORBIDDEN: "Vous ne pouvez pas répondre à cette sollicitation.",
}

STATUS_LABELS = {
    Status.BROUILLON: "Brouillon",
    Status.SOUMIS: "Soumise",
    Status.EN_COURS: "En cours de traitement",
    Status.COMPLEMENT_DEMANDE: "Complément demandé",
    Status.COMPLEMENT_APPORTE: "Complément apporté",
    Status.SOLUTION_PROPOSEE: "Solution proposée",
    Status.RENVOYE: "Renvoyée",
    Status.CLOTURE: "Clôturée",
}


def page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(name).render(**context), status_code=status_code)


def _categories(portal: use_cases.Portal) -> list[str]:
    return portal.routing.categories()


def invalid_link() -> HTMLResponse:
    return page(
        "message.html",
        status_code=404,
        title="Lien invalide",
        text="Ce lien de suivi n'est pas ou plus valide.",
    )


@router.get("/", response_class=HTMLResponse)
async def new_ticket_form(portal: PortalDep) -> HTMLResponse:
    return page(
        "new_ticket.html",
        categories=_categories(portal),
        environments=list(TicketEnvironment),
        values={},
        errors={},
    )


@router.post("/", response_class=HTMLResponse)
async def submit_ticket_form(
    request: Request, uow: PublicUnitOfWorkDep, portal: PortalDep, address: ClientAddressDep
) -> HTMLResponse:
    form = await request.form()
    values = {key: str(value).strip() for key, value in form.items() if isinstance(value, str)}
    values = {key: value for key, value in values.items() if value}
    try:
        body = SignedOutTicketIn.model_validate(values)
    except ValidationError as invalid:
        errors = {str(e["loc"][0]) if e["loc"] else "form": e["msg"] for e in invalid.errors()}
        return page(
            "new_ticket.html",
            status_code=422,
            categories=_categories(portal),
            environments=list(TicketEnvironment),
            values=values,
            errors=errors,
            labels=FIELD_LABELS,
        )
    try:
        ticket = await create_signed_out(uow, portal, body, address)
    except Problem as refused:
        return page(
            "message.html",
            status_code=refused.status,
            title="Demande refusée",
            text=refused.detail or refused.title,
        )
    return page("created.html", status_code=201, reference=ticket["reference"], email=body.email)


@router.get("/suivi/{token}", response_class=HTMLResponse)
async def follow_page(uow: PublicUnitOfWorkDep, token: str) -> HTMLResponse:
    try:
        view = await public_view(uow, token)
    except Problem:
        return invalid_link()
    return page("follow.html", ticket=view, status_label=STATUS_LABELS[view.status], token=token, error=None)


@router.post("/suivi/{token}", response_class=HTMLResponse, response_model=None)
async def answer_page(
    request: Request, uow: PublicUnitOfWorkDep, portal: PortalDep, token: str
) -> HTMLResponse | RedirectResponse:
    form = await request.form()
    message = str(form.get("message") or "").strip()
    try:
        await use_cases.answer_signed_out(uow, portal, token, message)
    except Problem:
        return invalid_link()
    except ActionRefused as refused:
        view = await public_view(uow, token)
        error = ANSWER_ERRORS[refused.refusal]
        status_code = 422 if refused.refusal is Refusal.INCOMPLETE else 409
        return page(
            "follow.html",
            status_code=status_code,
            ticket=view,
            status_label=STATUS_LABELS[view.status],
            token=token,
            error=error,
        )
    return RedirectResponse(f"/suivi/{token}", status_code=303)
