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
from chorus_common.text import control_character
from chorus_common.unit_of_work import UnitOfWork
from support_portal import use_cases
from support_portal.api.deps import ClientAddressDep, PortalDep
from support_portal.api.public import create_signed_out, public_view
from support_portal.api.tickets import SignedOutTicketIn
from support_portal.domain import Action, Status
from support_portal.domain import Environment as TicketEnvironment
from support_portal.guard import CAPTCHA_FIELD, CSRF_COOKIE, CSRF_FIELD
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
    CAPTCHA_FIELD: "Vérification anti-robot",
    "form": "Formulaire",
}

CAPTCHA_MISSING = "Cochez la case « Je ne suis pas un robot » et attendez la vérification."
CAPTCHA_REFUSED = "La vérification anti-robot a expiré ou a échoué : recommencez-la."
FORM_EXPIRED = "Le formulaire a expiré : vérifiez vos informations et envoyez-le à nouveau."
CONTROL_CHARACTER = "Ce champ contient un caractère de contrôle, qui n'est pas accepté."

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


def form_page(
    request: Request, portal: use_cases.Portal, name: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page holding forms: each carries the CSRF token of the visitor's cookie (set here when the
    visitor has none yet)."""
    cookie = request.cookies.get(CSRF_COOKIE) or portal.guard.new_cookie()
    response = page(name, status_code, csrf_token=portal.guard.csrf_token(cookie), **context)
    if request.cookies.get(CSRF_COOKIE) != cookie:
        response.set_cookie(
            CSRF_COOKIE, cookie, httponly=True, samesite="lax", secure=portal.guard.secure_cookie
        )
    return response


def csrf_valid(request: Request, portal: use_cases.Portal, form: Any) -> bool:
    token = form.get(CSRF_FIELD)
    return portal.guard.csrf_valid(
        request.cookies.get(CSRF_COOKIE), token if isinstance(token, str) else None
    )


def _categories(portal: use_cases.Portal) -> list[Category]:
    return portal.referential.active()


def invalid_link() -> HTMLResponse:
    return page(
        "message.html",
        status_code=404,
        title="Lien invalide",
        text="Ce lien de suivi n'est pas ou plus valide.",
    )


def _new_ticket_form(
    request: Request,
    portal: use_cases.Portal,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    return form_page(
        request,
        portal,
        "new_ticket.html",
        status_code,
        categories=_categories(portal),
        environments=list(TicketEnvironment),
        values=values or {},
        errors=errors or {},
        labels=FIELD_LABELS,
    )


def _form_errors(values: dict[str, str]) -> dict[str, str]:
    """What is wrong with the form's fields, each error in French next to its field."""
    errors = {field: CONTROL_CHARACTER for field, value in values.items() if control_character(value)}
    if errors:
        return errors
    try:
        SignedOutTicketIn.model_validate(values)
    except ValidationError as invalid:
        for error in invalid.errors():
            field = str(error["loc"][0]) if error["loc"] else "form"
            errors[field] = CAPTCHA_MISSING if field == CAPTCHA_FIELD else error["msg"]
    return errors


@router.get("/", response_class=HTMLResponse)
async def new_ticket_form(request: Request, portal: PortalDep) -> HTMLResponse:
    return _new_ticket_form(request, portal)


@router.post("/", response_class=HTMLResponse)
async def submit_ticket_form(
    request: Request, uow: PublicUnitOfWorkDep, portal: PortalDep, address: ClientAddressDep
) -> HTMLResponse:
    form = await request.form()
    values = {key: str(value).strip() for key, value in form.items() if isinstance(value, str)}
    values = {key: value for key, value in values.items() if value and key != CSRF_FIELD}
    # What the visitor typed comes back in the form, whatever is refused; the captcha is solved anew.
    typed = {key: value for key, value in values.items() if key != CAPTCHA_FIELD}
    if not csrf_valid(request, portal, form):
        return _new_ticket_form(request, portal, 403, typed, {"form": FORM_EXPIRED})
    errors = _form_errors(values)
    if errors:
        return _new_ticket_form(request, portal, 422, typed, errors)
    body = SignedOutTicketIn.model_validate(values)
    try:
        ticket = await create_signed_out(uow, portal, body, address)
    except Problem as refused:
        if refused.slug == "captcha-refused":
            return _new_ticket_form(request, portal, 422, typed, {CAPTCHA_FIELD: CAPTCHA_REFUSED})
        return page(
            "message.html",
            status_code=refused.status,
            title="Demande refusée",
            text=refused.detail or refused.title,
        )
    return page("created.html", status_code=201, reference=ticket["reference"], email=body.email)


@router.get("/suivi/{token}", response_class=HTMLResponse)
async def follow_page(
    request: Request, uow: PublicUnitOfWorkDep, portal: PortalDep, token: str
) -> HTMLResponse:
    try:
        return await _follow_page(request, uow, portal, token, 200, None)
    except Problem:
        return invalid_link()


ACTIONS = {"COMPLEMENT": Action.COMPLEMENT, "RENVOI": Action.RENVOI, "CLOTURE": Action.CLOTURE}


async def _follow_page(
    request: Request,
    uow: UnitOfWork,
    portal: use_cases.Portal,
    token: str,
    status_code: int,
    error: str | None,
) -> HTMLResponse:
    view = await public_view(uow, token)
    return form_page(
        request,
        portal,
        "follow.html",
        status_code,
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
        if not csrf_valid(request, portal, form):
            return await _follow_page(request, uow, portal, token, 403, FORM_EXPIRED)
        if control_character(message):
            return await _follow_page(request, uow, portal, token, 422, CONTROL_CHARACTER)
        await use_cases.act_signed_out(uow, portal, token, action, message or None)
    except Problem:
        return invalid_link()
    except ActionRefused as refused:
        status_code = 422 if refused.refusal is Refusal.INCOMPLETE else 409
        return await _follow_page(
            request, uow, portal, token, status_code, ACTION_ERRORS[action][refused.refusal]
        )
    if action is Action.CLOTURE:
        return page(
            "message.html",
            title="Sollicitation clôturée",
            text="Votre sollicitation est clôturée. Ce lien de suivi n'est plus valide.",
        )
    return RedirectResponse(f"/suivi/{token}", status_code=303)


@router.post("/suivi/{token}/pieces", response_class=HTMLResponse, response_model=None)
async def attach_page(
    request: Request, uow: PublicUnitOfWorkDep, portal: PortalDep, token: str, upload: UploadDep
) -> HTMLResponse | RedirectResponse:
    """The follow page's form to attach a file."""
    try:
        if not csrf_valid(request, portal, await request.form()):
            return await _follow_page(request, uow, portal, token, 403, FORM_EXPIRED)
        await use_cases.attach_signed_out(uow, token, upload)
    except Problem as refused:
        if refused.status == 404:
            return invalid_link()
        return await _follow_page(
            request, uow, portal, token, refused.status, ATTACHMENT_ERRORS.get(refused.status, refused.title)
        )
    except ActionRefused:
        return await _follow_page(
            request, uow, portal, token, 409, "Aucune pièce ne peut être jointe à une sollicitation clôturée."
        )
    return RedirectResponse(f"/suivi/{token}", status_code=303)


@router.get("/suivi/{token}/pieces/{attachment_id}", response_model=None)
async def download_page(uow: PublicUnitOfWorkDep, token: str, attachment_id: uuid.UUID) -> Response:
    try:
        row, data = await use_cases.signed_out_file(uow, token, attachment_id)
    except Problem:
        return invalid_link()
    return download(row, data)
