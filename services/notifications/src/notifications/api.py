"""HTTP API: the recorded decisions, for platform operators."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from chorus_common.auth import CurrentPrincipal, require_role
from chorus_common.http import Page, Pagination, page_of
from chorus_common.problems import not_found
from chorus_common.runtime import runtime_of
from notifications import repository
from notifications.domain import DecisionStatus

router = APIRouter(prefix="/notifications", tags=["notifications"])

OPERATOR_ROLE = "admin"


class NotificationOut(BaseModel):
    id: uuid.UUID
    event_id: str
    event_type: str
    event_source: str
    recipient_role: str
    recipient_email: str
    status: DecisionStatus
    flag_key: str
    reason: str
    subject: str | None
    message_id: str
    decided_at: datetime


@router.get("", response_model=Page[NotificationOut])
async def list_notifications(
    request: Request,
    principal: CurrentPrincipal,
    pagination: Pagination,
    event_id: Annotated[str | None, Query(max_length=200)] = None,
    event_type: Annotated[str | None, Query(max_length=200)] = None,
    status: DecisionStatus | None = None,
    recipient_email: Annotated[str | None, Query(max_length=320)] = None,
) -> Page[NotificationOut]:
    require_role(principal, OPERATOR_ROLE)
    where = repository.DecisionFilter(event_id, event_type, status, recipient_email)
    async with runtime_of(request).engine.connect() as conn:
        rows, total = await repository.list_decisions(conn, where, pagination.offset, pagination.page_size)
    return page_of(NotificationOut, rows, total, pagination)


@router.get("/{notification_id}", response_model=NotificationOut)
async def get_notification(
    request: Request, principal: CurrentPrincipal, notification_id: uuid.UUID
) -> NotificationOut:
    require_role(principal, OPERATOR_ROLE)
    async with runtime_of(request).engine.connect() as conn:
        row = await repository.get_decision(conn, notification_id)
    if row is None:
        raise not_found("Notification")
    return NotificationOut.model_validate(dict(row))
