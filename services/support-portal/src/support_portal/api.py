"""JSON API of the support portal: signed-in requesters, agents, and signed-out requesters."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import RowMapping

from chorus_common.auth import CurrentPrincipal, Principal
from chorus_common.db import fetch_page
from chorus_common.events import Email
from chorus_common.http import Page, Pagination, page_of
from chorus_common.problems import Problem, not_found
from chorus_common.runtime import runtime_of
from support_portal import tickets as service
from support_portal.db import tickets
from support_portal.domain import TO_DO, Action, Environment, Role, RoutingTable, Status
from support_portal.settings import SupportPortalSettings

router = APIRouter(prefix="/tickets", tags=["tickets"])
public = APIRouter(prefix="/public", tags=["signed out"])


def _routing(request: Request) -> RoutingTable:
    routing: RoutingTable = request.app.state.routing
    return routing


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Annotated[str, Field(min_length=1, max_length=100)]
    subcategory: Annotated[str | None, Field(max_length=100)] = None
    title: Annotated[str, Field(min_length=3, max_length=200)]
    description: Annotated[str, Field(min_length=10, max_length=10_000)]
    environment: Environment = Environment.PRODUCTION

    def new(self) -> service.NewTicket:
        return service.NewTicket(
            self.category, self.subcategory, self.title, self.description, self.environment
        )


class SignedInTicketIn(TicketIn):
    structure_id: Annotated[str, Field(min_length=1, max_length=200)]
    submit: bool = False


class SignedOutTicketIn(TicketIn):
    email: Email
    name: Annotated[str, Field(min_length=1, max_length=200)]


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Action
    message: Annotated[str | None, Field(max_length=10_000)] = None


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: Annotated[str, Field(min_length=1, max_length=10_000)]


class MessageOut(BaseModel):
    author_role: Role
    body: str
    at: datetime


class TicketSummary(BaseModel):
    id: uuid.UUID
    reference: str
    category: str
    subcategory: str | None
    title: str
    environment: Environment
    status: Status
    recipient: dict[str, str | None]
    assigned_to: str | None
    created_at: datetime
    updated_at: datetime


class TicketOut(TicketSummary):
    description: str
    requester_email: str
    messages: list[MessageOut]
    history: list[dict[str, Any]]


class PublicTicketOut(BaseModel):
    """What a signed-out requester sees: its own ticket, nothing of any account."""

    reference: str
    title: str
    status: Status
    recipient_name: str
    messages: list[MessageOut]


async def ticket_out(request: Request, ticket: RowMapping) -> TicketOut:
    async with runtime_of(request).engine.connect() as conn:
        messages, history = await service.thread(conn, ticket["id"])
    return TicketOut.model_validate(
        {**ticket, "messages": [dict(m) for m in messages], "history": [dict(h) for h in history]}
    )


def _visible(principal: Principal, ticket: RowMapping) -> bool:
    return service.is_requester(principal, ticket) or service.is_agent(principal, ticket)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TicketOut)
async def create_ticket(request: Request, principal: CurrentPrincipal, body: SignedInTicketIn) -> TicketOut:
    if not principal.acts_for(body.structure_id):
        raise Problem(403, "not-your-structure", "Forbidden", "structure_id must be one you act for")
    if not principal.email:
        raise Problem(422, "email-required", "Your token carries no e-mail address to answer you at")
    requester = {
        "signed_out": False,
        "requester_sub": principal.sub,
        "requester_structure_id": body.structure_id,
        "requester_email": principal.email,
        "requester_name": None,
    }
    ticket = await service.create(runtime_of(request), _routing(request), body.new(), requester, body.submit)
    return await ticket_out(request, ticket)


REQUESTER_LISTS = {
    "drafts": [Status.BROUILLON],
    "actions-required": [Status.COMPLEMENT_DEMANDE, Status.SOLUTION_PROPOSEE],
    "in-progress": [Status.SOUMIS, Status.EN_COURS, Status.COMPLEMENT_APPORTE, Status.RENVOYE],
    "closed": [Status.CLOTURE],
}


def _agent_scope(principal: Principal) -> sa.ColumnElement[bool]:
    services = [role.removeprefix("agent:") for role in principal.roles if role.startswith("agent:")]
    scopes = [
        sa.and_(
            tickets.c.recipient_kind == "SERVICE",
            tickets.c.recipient_structure_id.in_(list(principal.structures)),
            tickets.c.recipient_service_code.in_(services),
        )
    ]
    if principal.has_role(service.SUPPORT_AGENT_ROLE):
        scopes.append(tickets.c.recipient_kind == "SUPPORT")
    return sa.or_(*scopes)


@router.get("", response_model=Page[TicketSummary])
async def list_tickets(
    request: Request,
    principal: CurrentPrincipal,
    pagination: Pagination,
    work_list: Annotated[
        Literal["drafts", "actions-required", "in-progress", "closed", "to-do", "assigned-to-me"],
        Query(alias="list"),
    ],
) -> Page[TicketSummary]:
    if work_list == "to-do":
        conditions = [_agent_scope(principal), tickets.c.status.in_(list(TO_DO))]
    elif work_list == "assigned-to-me":
        conditions = [
            _agent_scope(principal),
            tickets.c.assigned_to == principal.sub,
            tickets.c.status != Status.CLOTURE,
        ]
    else:
        conditions = [
            tickets.c.signed_out.is_(False),
            tickets.c.requester_sub == principal.sub,
            tickets.c.status.in_(REQUESTER_LISTS[work_list]),
        ]
    order = [tickets.c.updated_at.desc(), tickets.c.id]
    async with runtime_of(request).engine.connect() as conn:
        rows, total = await fetch_page(
            conn, tickets, conditions, order, pagination.offset, pagination.page_size
        )
    return page_of(TicketSummary, rows, total, pagination)


@router.get("/{ticket_id}", response_model=TicketOut)
async def get_ticket(request: Request, principal: CurrentPrincipal, ticket_id: uuid.UUID) -> TicketOut:
    async with runtime_of(request).engine.connect() as conn:
        ticket = await service.get_ticket(conn, ticket_id)
    if ticket is None or not _visible(principal, ticket):
        raise not_found("Ticket")
    return await ticket_out(request, ticket)


REQUESTER_ACTIONS = {Action.SOUMISSION, Action.COMPLEMENT, Action.RENVOI, Action.CLOTURE}


@router.post("/{ticket_id}/actions", response_model=TicketOut)
async def act_on_ticket(
    request: Request, principal: CurrentPrincipal, ticket_id: uuid.UUID, body: ActionIn
) -> TicketOut:
    async with runtime_of(request).engine.connect() as conn:
        found = await service.get_ticket(conn, ticket_id)
    if found is None or not _visible(principal, found):
        raise not_found("Ticket")
    as_requester = body.action in REQUESTER_ACTIONS and service.is_requester(principal, found)
    role = Role.REQUESTER if as_requester else Role.AGENT

    def holds_role(ticket: RowMapping) -> bool:
        return (
            service.is_requester(principal, ticket) if as_requester else service.is_agent(principal, ticket)
        )

    if not holds_role(found):
        raise Problem(
            403,
            "action-forbidden",
            "Action not permitted to the caller",
            f"{body.action} is not yours to take",
        )
    ticket = await service.act(
        runtime_of(request),
        _routing(request),
        ticket_id,
        body.action,
        role,
        principal.sub,
        body.message,
        holds_role,
    )
    return await ticket_out(request, ticket)


# --- Signed out ----------------------------------------------------------------------------------


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def create_signed_out(request: Request, body: SignedOutTicketIn) -> RowMapping:
    runtime = runtime_of(request)
    settings: SupportPortalSettings = request.app.state.settings
    await service.check_rate_limit(runtime, settings, body.email.lower(), client_address(request))
    requester = {
        "signed_out": True,
        "requester_sub": None,
        "requester_structure_id": None,
        "requester_email": body.email,
        "requester_name": body.name,
    }
    return await service.create(
        runtime,
        _routing(request),
        body.new(),
        requester,
        submit=True,
        follow_secret=service.new_follow_secret(),
    )


class SignedOutCreated(BaseModel):
    reference: str
    status: Status
    detail: str


@public.post("/tickets", status_code=status.HTTP_201_CREATED, response_model=SignedOutCreated)
async def create_public_ticket(request: Request, body: SignedOutTicketIn) -> SignedOutCreated:
    ticket = await create_signed_out(request, body)
    return SignedOutCreated(
        reference=ticket["reference"],
        status=ticket["status"],
        detail="The reference and a personal follow link have been sent to your e-mail address.",
    )


async def public_view(request: Request, token: str) -> tuple[RowMapping, PublicTicketOut]:
    async with runtime_of(request).engine.connect() as conn:
        ticket = await service.ticket_for_token(conn, token)
        if ticket is None:
            raise not_found("Ticket")
        messages, _ = await service.thread(conn, ticket["id"])
    view = PublicTicketOut(
        reference=ticket["reference"],
        title=ticket["title"],
        status=ticket["status"],
        recipient_name=ticket["recipient"]["name"],
        messages=[MessageOut.model_validate(dict(m)) for m in messages],
    )
    return ticket, view


@public.get("/follow/{token}", response_model=PublicTicketOut)
async def follow(request: Request, token: str) -> PublicTicketOut:
    return (await public_view(request, token))[1]


async def answer_signed_out(request: Request, token: str, message: str) -> None:
    ticket, _ = await public_view(request, token)
    secret_holder = ticket["requester_email"]

    def holds_token(row: RowMapping) -> bool:
        return row["id"] == ticket["id"]

    await service.act(
        runtime_of(request),
        _routing(request),
        ticket["id"],
        Action.COMPLEMENT,
        Role.REQUESTER,
        secret_holder,
        message,
        holds_token,
    )


@public.post("/follow/{token}/messages", response_model=PublicTicketOut)
async def answer(request: Request, token: str, body: MessageIn) -> PublicTicketOut:
    await answer_signed_out(request, token, body.message)
    return (await public_view(request, token))[1]
