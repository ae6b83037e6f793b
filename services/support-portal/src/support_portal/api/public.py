"""`/public`: signed-out requesters create a ticket, follow it and answer through their follow link."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from chorus_common.attachments import AttachmentOut, UploadDep, download
from chorus_common.db import Row
from chorus_common.dependencies import PublicUnitOfWorkDep
from chorus_common.unit_of_work import UnitOfWork
from support_portal import use_cases
from support_portal.api.deps import ClientAddressDep, PortalDep
from support_portal.api.tickets import MessageIn, MessageOut, PublicTicketOut, SignedOutTicketIn
from support_portal.domain import Action, Status
from support_portal.referential import Category

router = APIRouter(prefix="/public", tags=["signed out"])


class SignedOutCreated(BaseModel):
    reference: str
    status: Status
    detail: str


async def create_signed_out(
    uow: UnitOfWork, portal: use_cases.Portal, body: SignedOutTicketIn, address: str
) -> Row:
    return await use_cases.open_signed_out(
        uow, portal, body.new(), body.email, body.name, address, body.altcha
    )


async def public_view(uow: UnitOfWork, token: str) -> PublicTicketOut:
    ticket, messages = await use_cases.ticket_for_token(uow, token)
    return await view_of(uow, ticket, messages)


async def view_of(uow: UnitOfWork, ticket: Row, messages: list[Row]) -> PublicTicketOut:
    attached = await use_cases.signed_out_attachments(uow, ticket["id"])
    return PublicTicketOut(
        reference=ticket["reference"],
        title=ticket["title"],
        status=ticket["status"],
        recipient_name=ticket["recipient"]["name"],
        messages=[MessageOut.model_validate(dict(m)) for m in messages],
        attachments=[AttachmentOut.model_validate(dict(a)) for a in attached],
    )


class SignedOutActionIn(BaseModel):
    """What a signed-out requester does besides answering: re-send an unsatisfactory solution (with
    why), or close its ticket."""

    model_config = ConfigDict(extra="forbid")

    action: Literal[Action.RENVOI, Action.CLOTURE]
    message: Annotated[str | None, Field(max_length=10_000)] = None


@router.get("/categories", response_model=list[Category], summary="The active categories and subcategories")
async def categories(portal: PortalDep) -> list[Category]:
    return portal.referential.active()


class CaptchaChallenge(BaseModel):
    """An ALTCHA challenge (its v2 form), as the widget fetches it."""

    parameters: dict[str, Any] = Field(
        description="what to derive: algorithm, nonce, salt, cost, key prefix, expiry"
    )
    signature: str = Field(description="the portal's HMAC of the parameters")


@router.get(
    "/captcha",
    response_model=CaptchaChallenge,
    summary="A captcha challenge to solve before creating a ticket signed out",
    description="ALTCHA's proof of work: find the counter whose PBKDF2 key starts with `keyPrefix`; the "
    "base64 payload of the challenge and its solution goes in the ticket's `altcha` field. A challenge "
    "is good once, until `expiresAt`.",
)
async def captcha(portal: PortalDep, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "no-store"
    return portal.guard.challenge()


@router.post("/tickets", status_code=status.HTTP_201_CREATED, response_model=SignedOutCreated)
async def create_public_ticket(
    uow: PublicUnitOfWorkDep, portal: PortalDep, address: ClientAddressDep, body: SignedOutTicketIn
) -> SignedOutCreated:
    ticket = await create_signed_out(uow, portal, body, address)
    return SignedOutCreated(
        reference=ticket["reference"],
        status=ticket["status"],
        detail="The reference and a personal follow link have been sent to your e-mail address.",
    )


@router.get("/follow/{token}", response_model=PublicTicketOut)
async def follow(uow: PublicUnitOfWorkDep, token: str) -> PublicTicketOut:
    return await public_view(uow, token)


@router.post("/follow/{token}/messages", response_model=PublicTicketOut)
async def answer(uow: PublicUnitOfWorkDep, portal: PortalDep, token: str, body: MessageIn) -> PublicTicketOut:
    ticket, messages = await use_cases.act_signed_out(uow, portal, token, Action.COMPLEMENT, body.message)
    return await view_of(uow, ticket, messages)


@router.post("/follow/{token}/actions", response_model=PublicTicketOut)
async def act_through_link(
    uow: PublicUnitOfWorkDep, portal: PortalDep, token: str, body: SignedOutActionIn
) -> PublicTicketOut:
    """Re-send (RENVOI, with a message) or close (CLOTURE) the ticket; a closed ticket's link no longer
    opens it."""
    ticket, messages = await use_cases.act_signed_out(uow, portal, token, body.action, body.message)
    return await view_of(uow, ticket, messages)


@router.post("/follow/{token}/attachments", status_code=status.HTTP_201_CREATED, response_model=AttachmentOut)
async def attach_through_link(uow: PublicUnitOfWorkDep, token: str, upload: UploadDep) -> AttachmentOut:
    return AttachmentOut.model_validate(await use_cases.attach_signed_out(uow, token, upload))


@router.get(
    "/follow/{token}/attachments/{attachment_id}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the file"}},
)
async def download_through_link(uow: PublicUnitOfWorkDep, token: str, attachment_id: uuid.UUID) -> Response:
    row, data = await use_cases.signed_out_file(uow, token, attachment_id)
    return download(row, data)
