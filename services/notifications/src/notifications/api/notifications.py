"""`/notifications`: the recorded decisions, for platform operators."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from chorus_common.dependencies import UnitOfWorkDep
from chorus_common.http import Page, Pagination, page_of
from notifications import use_cases
from notifications.domain import DecisionFilter, DecisionStatus

router = APIRouter(prefix="/notifications", tags=["notifications"])


class NotificationOut(BaseModel):
    id: uuid.UUID
    event_id: str
    event_type: str
    event_source: str
    recipient_role: str
    recipient_structure_id: str | None
    recipient_email: str | None
    status: DecisionStatus
    flag_key: str
    reason: str
    subject: str | None
    message_id: str | None
    decided_at: datetime
    attempts: int  # failed attempts so far (a deferred mail has some)
    next_attempt_at: datetime | None  # when a PENDING mail is tried next
    last_error: str | None  # the relay's last answer to a failed attempt
    sent_at: datetime | None


@router.get("", response_model=Page[NotificationOut])
async def list_notifications(
    uow: UnitOfWorkDep,
    pagination: Pagination,
    event_id: Annotated[str | None, Query(max_length=200)] = None,
    event_type: Annotated[str | None, Query(max_length=200)] = None,
    status: DecisionStatus | None = None,
    recipient_email: Annotated[str | None, Query(max_length=320)] = None,
) -> Page[NotificationOut]:
    where = DecisionFilter(event_id, event_type, status, recipient_email)
    rows, total = await use_cases.decisions(uow, where, pagination.offset, pagination.page_size)
    return page_of(NotificationOut, rows, total, pagination)


@router.get("/{notification_id}", response_model=NotificationOut)
async def get_notification(uow: UnitOfWorkDep, notification_id: uuid.UUID) -> NotificationOut:
    return NotificationOut.model_validate(dict(await use_cases.decision(uow, notification_id)))


@router.post("/{notification_id}/resend", response_model=NotificationOut, summary="Send a FAILED mail again")
async def resend(uow: UnitOfWorkDep, notification_id: uuid.UUID) -> NotificationOut:
    return NotificationOut.model_validate(dict(await use_cases.resend(uow, notification_id)))
