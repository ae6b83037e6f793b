"""`/public`: signed-out requesters create a ticket, follow it and answer through their follow link."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel

from chorus_common.db import Row
from chorus_common.dependencies import PublicUnitOfWorkDep
from chorus_common.unit_of_work import UnitOfWork
from support_portal import use_cases
from support_portal.api.deps import ClientAddressDep, PortalDep
from support_portal.api.tickets import MessageIn, MessageOut, PublicTicketOut, SignedOutTicketIn
from support_portal.domain import Status

router = APIRouter(prefix="/public", tags=["signed out"])


class SignedOutCreated(BaseModel):
    reference: str
    status: Status
    detail: str


async def create_signed_out(
    uow: UnitOfWork, portal: use_cases.Portal, body: SignedOutTicketIn, address: str
) -> Row:
    return await use_cases.open_signed_out(uow, portal, body.new(), body.email, body.name, address)


async def public_view(uow: UnitOfWork, token: str) -> PublicTicketOut:
    ticket, messages = await use_cases.ticket_for_token(uow, token)
    return PublicTicketOut(
        reference=ticket["reference"],
        title=ticket["title"],
        status=ticket["status"],
        recipient_name=ticket["recipient"]["name"],
        messages=[MessageOut.model_validate(dict(m)) for m in messages],
    )


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
    await use_cases.answer_signed_out(uow, portal, token, body.message)
    return await public_view(uow, token)
