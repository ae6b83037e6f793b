"""The signed-out web pages (French, server-rendered, no build step): create a ticket, follow it."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import ValidationError

from chorus_common.actions import ActionRefused, Refusal
from chorus_common.attachments import UploadDep, download
from chorus_common.clock import PARIS
from chorus_common.dependencies import PublicUnitOfWorkDep
from chorus_common.labels import TICKET_STATUS_LABELS
from chorus_common.problems import Problem
from chorus_common.unit_of_work import UnitOfWork
from support_portal import use_cases
from support_portal.api.deps import ClientAddressDep, PortalDep
from support_portal.api.public import create_signed_out, public_view
from support_portal.api.tickets import SignedOutTicketIn
from support_portal.domain import Action, Status
from support_portal.domain import Environment as TicketEnvironment
from support_portal.referential import Category

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

ACTION_ERRORS = {
    Action.COMPLEMENT: {
        Refusal.INCOMPLETE: "Votre réponse est vide.",
        Refusal.NOT_NOW: "Aucune question ne vous est posée pour le moment.",
        Refusal.FORBIDDEN: "Vous ne pouvez pas répondre à cette sollicitation.",
    },
    Action.RENVOI: {
        Refusal.INCOMPLETE: "Dites pourquoi la solution proposée ne vous convient pas.",
        Refusal.NOT_NOW: "Aucune solution ne vous est proposée pour le moment.",
        Refusal.FORBIDDEN: "Vous ne pouvez pas renvoyer cette sollicitation.",
    },
    Action.CLOTURE: {
        Refusal.INCOMPLETE: "Votre sollicitation ne peut pas être clôturée.",
        Refusal.NOT_NOW: "Votre sollicitation est déjà clôturée.",
        Refusal.FORBIDDEN: "Vous ne pouvez pas clôturer cette sollicitation.",
    },
}

ATTACHMENT_ERRORS = {
    409: "Aucune pièce ne peut être jointe à une sollicitation clôturée.",
    413: "Le fichier est trop volumineux.",
    415: "Ce type de fichier n'est pas accepté : joignez un PDF, une image, un fichier XML ou un document "
    "bureautique.",
}

STATUS_LABELS = {status: TICKET_STATUS_LABELS[status] for status in Status}


def page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(name).render(**context), status_code=status_code)


def _categories(portal: use_cases.Portal) -> list[Category]:
    return portal.referential.active()


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


ACTIONS = {"COMPLEMENT": Action.COMPLEMENT, "RENVOI": Action.RENVOI, "CLOTURE": Action.CLOTURE}


async def _follow_page(uow: UnitOfWork, token: str, status_code: int, error: str | None) -> HTMLResponse:
    view = await public_view(uow, token)
    return page(
        "follow.html",
        status_code=status_code,
        ticket=view,
        status_label=STATUS_LABELS[view.status],
        token=token,
        error=error,
    )


@router.post("/suivi/{token}", response_class=HTMLResponse, response_model=None)
async def answer_page(
    request: Request, uow: PublicUnitOfWorkDep, portal: PortalDep, token: str
) -> HTMLResponse | RedirectResponse:
    """The follow page's forms: answer a question, re-send a solution, close the ticket."""
    form = await request.form()
    message = str(form.get("message") or "").strip()
    action = ACTIONS.get(str(form.get("action") or "COMPLEMENT"), Action.COMPLEMENT)
    try:
        await use_cases.act_signed_out(uow, portal, token, action, message or None)
    except Problem:
        return invalid_link()
    except ActionRefused as refused:
        status_code = 422 if refused.refusal is Refusal.INCOMPLETE else 409
        return await _follow_page(uow, token, status_code, ACTION_ERRORS[action][refused.refusal])
    if action is Action.CLOTURE:
        return page(
            "message.html",
            title="Sollicitation clôturée",
            text="Votre sollicitation est clôturée. Ce lien de suivi n'est plus valide.",
        )
    return RedirectResponse(f"/suivi/{token}", status_code=303)


@router.post("/suivi/{token}/pieces", response_class=HTMLResponse, response_model=None)
async def attach_page(
    uow: PublicUnitOfWorkDep, token: str, upload: UploadDep
) -> HTMLResponse | RedirectResponse:
    """The follow page's form to attach a file."""
    try:
        await use_cases.attach_signed_out(uow, token, upload)
    except Problem as refused:
        if refused.status == 404:
            return invalid_link()
        return await _follow_page(
            uow, token, refused.status, ATTACHMENT_ERRORS.get(refused.status, refused.title)
        )
    except ActionRefused:
        return await _follow_page(
            uow, token, 409, "Aucune pièce ne peut être jointe à une sollicitation clôturée."
        )
    return RedirectResponse(f"/suivi/{token}", status_code=303)


@router.get("/suivi/{token}/pieces/{attachment_id}", response_model=None)
async def download_page(uow: PublicUnitOfWorkDep, token: str, attachment_id: uuid.UUID) -> Response:
    try:
        row, data = await use_cases.signed_out_file(uow, token, attachment_id)
    except Problem:
        return invalid_link()
    return download(row, data)
