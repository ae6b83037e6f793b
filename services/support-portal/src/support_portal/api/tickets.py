"""`/tickets`: signed-in requesters' tickets and the agents' work on them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from chorus_common.attachments import AttachmentOut, UploadDep, download
from chorus_common.dependencies import UnitOfWorkDep
from chorus_common.events import Email
from chorus_common.http import Page, Pagination, PartyRefIn, page_of
from support_portal import use_cases
from support_portal.api.deps import PortalDep
from support_portal.domain import Action, Environment, Role, Status

router = APIRouter(prefix="/tickets", tags=["tickets"])


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Codes of the referential (GET /public/categories), both required.
    category: Annotated[str, Field(min_length=1, max_length=100)]
    subcategory: Annotated[str, Field(min_length=1, max_length=100)]
    title: Annotated[str, Field(min_length=3, max_length=200)]
    description: Annotated[str, Field(min_length=10, max_length=10_000)]
    environment: Environment = Environment.PRODUCTION
    concerned: PartyRefIn | None = Field(
        default=None,
        description="the structure of the directory (and service) the ticket is about, e.g. an invoice's "
        "or an engagement's: a category routed to the concerned structure goes to its managers",
    )

    def new(self) -> use_cases.NewTicket:
        return use_cases.NewTicket(
            self.category,
            self.subcategory,
            self.title,
            self.description,
            self.environment,
            self.concerned.ref() if self.concerned else None,
        )


class SignedInTicketIn(TicketIn):
    structure_id: Annotated[str, Field(min_length=1, max_length=200)]
    submit: bool = False


class SignedOutTicketIn(TicketIn):
    email: Email
    name: Annotated[str, Field(min_length=1, max_length=200)]
    altcha: Annotated[str, Field(min_length=1, max_length=4000)] = Field(
        description="the solved captcha: the base64 payload of a challenge of GET /public/captcha and "
        "its solution, as the ALTCHA widget gives it"
    )


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
    attachments: list[AttachmentOut]


HISTORY_KEYS = ("id", "ticket_id", "action", "from_status", "to_status", "actor", "at")


def ticket_out(details: dict[str, Any]) -> TicketOut:
    history = [{**{key: h[key] for key in HISTORY_KEYS}, "role": h["capacity"]} for h in details["history"]]
    return TicketOut.model_validate({**details, "history": history})


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TicketOut)
async def create_ticket(uow: UnitOfWorkDep, portal: PortalDep, body: SignedInTicketIn) -> TicketOut:
    return ticket_out(await use_cases.open_signed_in(uow, portal, body.new(), body.structure_id, body.submit))


@router.get("", response_model=Page[TicketSummary])
async def list_tickets(
    uow: UnitOfWorkDep,
    pagination: Pagination,
    work_list: Annotated[
        Literal["drafts", "actions-required", "in-progress", "closed", "to-do", "assigned-to-me"],
        Query(alias="list"),
    ],
) -> Page[TicketSummary]:
    rows, total = await use_cases.tickets(uow, work_list, pagination.offset, pagination.page_size)
    return page_of(TicketSummary, rows, total, pagination)


@router.get("/{ticket_id}", response_model=TicketOut)
async def get_ticket(uow: UnitOfWorkDep, ticket_id: uuid.UUID) -> TicketOut:
    return ticket_out(await use_cases.ticket(uow, ticket_id))


@router.post("/{ticket_id}/actions", response_model=TicketOut)
async def act_on_ticket(
    uow: UnitOfWorkDep, portal: PortalDep, ticket_id: uuid.UUID, body: ActionIn
) -> TicketOut:
    return ticket_out(await use_cases.act_on_ticket(uow, portal, ticket_id, body.action, body.message))


@router.post(
    "/{ticket_id}/attachments",
    status_code=status.HTTP_201_CREATED,
    response_model=AttachmentOut,
    summary="Attach a file (PDF, image, XML, office document) to the ticket",
)
async def attach(uow: UnitOfWorkDep, ticket_id: uuid.UUID, upload: UploadDep) -> AttachmentOut:
    return AttachmentOut.model_validate(await use_cases.attach(uow, ticket_id, upload))


@router.get("/{ticket_id}/attachments", response_model=list[AttachmentOut])
async def list_attachments(uow: UnitOfWorkDep, ticket_id: uuid.UUID) -> list[AttachmentOut]:
    return [AttachmentOut.model_validate(dict(row)) for row in await use_cases.attachments_of(uow, ticket_id)]


@router.get(
    "/{ticket_id}/attachments/{attachment_id}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the file"}},
)
async def download_attachment(uow: UnitOfWorkDep, ticket_id: uuid.UUID, attachment_id: uuid.UUID) -> Response:
    row, data = await use_cases.attachment_file(uow, ticket_id, attachment_id)
    return download(row, data)
