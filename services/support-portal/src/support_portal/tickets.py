"""What happens to tickets, shared by the JSON API and the signed-out web pages."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.actions import ActionRefused, Refusal
from chorus_common.auth import Principal
from chorus_common.clock import PARIS
from chorus_common.events import EventType, TicketRecipient, TicketSubmitted, TicketUpdated, build_event
from chorus_common.problems import Problem
from chorus_common.runtime import ServiceRuntime
from support_portal.db import (
    reference_counters,
    signed_out_creations,
    ticket_history,
    ticket_messages,
    tickets,
)
from support_portal.domain import NOTIFIED, Action, Role, RoutingTable, Status, decide, reference
from support_portal.settings import SupportPortalSettings

SUPPORT_AGENT_ROLE = "support-agent"


def agent_role(service_code: str) -> str:
    """The token role of an agent of a business service (with the structure in `structures`)."""
    return f"agent:{service_code}"


def is_agent(principal: Principal, ticket: RowMapping) -> bool:
    if ticket["recipient_kind"] == "SUPPORT":
        return principal.has_role(SUPPORT_AGENT_ROLE)
    return principal.acts_for(ticket["recipient_structure_id"]) and principal.has_role(
        agent_role(ticket["recipient_service_code"])
    )


def is_requester(principal: Principal, ticket: RowMapping) -> bool:
    return not ticket["signed_out"] and ticket["requester_sub"] == principal.sub


@dataclass(frozen=True)
class NewTicket:
    category: str
    subcategory: str | None
    title: str
    description: str
    environment: str


async def _next_reference(conn: AsyncConnection, now: datetime) -> str:
    year = now.astimezone(PARIS).year
    counter = await conn.execute(
        insert(reference_counters)
        .values(year=year, last=1)
        .on_conflict_do_update(index_elements=["year"], set_={"last": reference_counters.c.last + 1})
        .returning(reference_counters.c.last)
    )
    return reference(year, int(counter.scalar_one()))


async def _record(
    conn: AsyncConnection,
    ticket_id: uuid.UUID,
    action: str,
    source: str | None,
    target: str,
    actor: str,
    role: Role,
    at: datetime,
) -> None:
    await conn.execute(
        ticket_history.insert(),
        {
            "ticket_id": ticket_id,
            "action": action,
            "from_status": source,
            "to_status": target,
            "actor": actor,
            "role": role,
            "at": at,
        },
    )


async def _message(
    conn: AsyncConnection, ticket_id: uuid.UUID, author: str, role: Role, body: str, at: datetime
) -> None:
    await conn.execute(
        ticket_messages.insert(),
        {"ticket_id": ticket_id, "author": author, "author_role": role, "body": body, "at": at},
    )


def _event_recipient(ticket: RowMapping) -> TicketRecipient:
    return TicketRecipient.model_validate(ticket["recipient"])


async def _publish(
    runtime: ServiceRuntime, conn: AsyncConnection, event_type: EventType, ticket: RowMapping, **extra: Any
) -> None:
    model = TicketSubmitted if event_type is EventType.TICKET_SUBMITTED else TicketUpdated
    data = model(
        ticket_id=str(ticket["id"]),
        reference=ticket["reference"],
        category=ticket["category"],
        status=ticket["status"],
        requester_email=ticket["requester_email"],
        recipient=_event_recipient(ticket),
        **extra,
    )
    event = build_event(
        event_type, runtime.settings.event_source, data, runtime.clock.now(), subject=str(ticket["id"])
    )
    await runtime.publish(conn, event, erase_after_publish=extra.get("follow_url") is not None)


async def get_ticket(conn: AsyncConnection, ticket_id: uuid.UUID, lock: bool = False) -> RowMapping | None:
    query = sa.select(tickets).where(tickets.c.id == ticket_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).mappings().first()


async def create(
    runtime: ServiceRuntime,
    routing: RoutingTable,
    new: NewTicket,
    requester: dict[str, Any],
    submit: bool,
    follow_secret: str | None = None,
) -> RowMapping:
    """A draft, or a submitted ticket routed to its recipient (and `ticket-submitted` published)."""
    now = runtime.clock.now()
    recipient = routing.recipient_for(new.category, new.subcategory)
    ticket_id = uuid.uuid4()
    async with runtime.engine.begin() as conn:
        values = {
            "id": ticket_id,
            "reference": await _next_reference(conn, now),
            **new.__dict__,
            "status": Status.SOUMIS if submit else Status.BROUILLON,
            **requester,
            "recipient": recipient.model_dump(),
            "recipient_kind": recipient.kind,
            "recipient_structure_id": recipient.structure_id,
            "recipient_service_code": recipient.service_code,
            "follow_token_hash": _hash(follow_secret) if follow_secret else None,
            "created_at": now,
            "updated_at": now,
        }
        await conn.execute(tickets.insert(), values)
        actor = requester.get("requester_sub") or requester["requester_email"]
        await _message(conn, ticket_id, actor, Role.REQUESTER, new.description, now)
        await _record(conn, ticket_id, "CREATION", None, Status.BROUILLON, actor, Role.REQUESTER, now)
        if submit:
            await _record(
                conn,
                ticket_id,
                Action.SOUMISSION,
                Status.BROUILLON,
                Status.SOUMIS,
                actor,
                Role.REQUESTER,
                now,
            )
        ticket = await get_ticket(conn, ticket_id)
        assert ticket is not None
        if submit:
            follow = follow_url(runtime.settings, ticket_id, follow_secret) if follow_secret else None
            await _publish(runtime, conn, EventType.TICKET_SUBMITTED, ticket, follow_url=follow)
    runtime.events_committed()
    return ticket


async def act(
    runtime: ServiceRuntime,
    routing: RoutingTable,
    ticket_id: uuid.UUID,
    action: Action,
    role: Role,
    actor: str,
    message: str | None,
    can_act: Callable[[RowMapping], bool],
) -> RowMapping:
    """Apply `action` for `actor` in `role`; `can_act(ticket)` says whether the actor holds that role."""
    now = runtime.clock.now()
    async with runtime.engine.begin() as conn:
        ticket = await get_ticket(conn, ticket_id, lock=True)
        if ticket is None or not can_act(ticket):
            raise Problem(404, "not-found", "Resource not found", "Ticket not found")
        current = Status(ticket["status"])
        target = decide(action, role, current, message, ticket["assigned_to"] == actor)
        changes: dict[str, Any] = {"status": target, "updated_at": now}
        if action is Action.PRISE_EN_CHARGE:
            changes["assigned_to"] = actor
        if action is Action.TRANSFERT_SUPPORT:
            support = routing.default
            if support.kind != "SUPPORT":
                raise ActionRefused("no support team is configured to transfer to", Refusal.NOT_NOW)
            changes.update(
                assigned_to=None,
                recipient=support.model_dump(),
                recipient_kind="SUPPORT",
                recipient_structure_id=None,
                recipient_service_code=None,
            )
        if target is Status.CLOTURE:
            changes["follow_token_revoked"] = True
        await conn.execute(tickets.update().where(tickets.c.id == ticket_id).values(**changes))
        if message and message.strip():
            await _message(conn, ticket_id, actor, role, message.strip(), now)
        await _record(conn, ticket_id, action, current, target, actor, role, now)
        updated = await get_ticket(conn, ticket_id)
        assert updated is not None
        if action in NOTIFIED:
            await _publish(runtime, conn, EventType.TICKET_UPDATED, updated, message=message)
        elif action is Action.SOUMISSION:
            await _publish(runtime, conn, EventType.TICKET_SUBMITTED, updated)
    runtime.events_committed()
    return updated


async def thread(conn: AsyncConnection, ticket_id: uuid.UUID) -> tuple[list[RowMapping], list[RowMapping]]:
    messages = await conn.execute(
        sa.select(ticket_messages)
        .where(ticket_messages.c.ticket_id == ticket_id)
        .order_by(ticket_messages.c.id)
    )
    history = await conn.execute(
        sa.select(ticket_history).where(ticket_history.c.ticket_id == ticket_id).order_by(ticket_history.c.id)
    )
    return list(messages.mappings()), list(history.mappings())


# --- Signed out ----------------------------------------------------------------------------------


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_follow_secret() -> str:
    return secrets.token_urlsafe(32)


def follow_token(ticket_id: uuid.UUID, secret: str) -> str:
    return f"{ticket_id}.{secret}"


def follow_url(settings: SupportPortalSettings, ticket_id: uuid.UUID, secret: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/suivi/{follow_token(ticket_id, secret)}"


async def ticket_for_token(conn: AsyncConnection, token: str) -> RowMapping | None:
    """The ticket a follow token opens, if the token is right and not revoked (constant-time check)."""
    raw_id, _, secret = token.partition(".")
    try:
        ticket_id = uuid.UUID(raw_id)
    except ValueError:
        return None
    ticket = await get_ticket(conn, ticket_id)
    expected = ticket["follow_token_hash"] if ticket is not None else None
    matches = hmac.compare_digest(_hash(secret), expected or "0" * 64)
    if ticket is None or expected is None or not matches or ticket["follow_token_revoked"]:
        return None
    return ticket


async def check_rate_limit(
    runtime: ServiceRuntime, settings: SupportPortalSettings, email: str, address: str
) -> None:
    """Count this creation; 429 past the hourly limit for the e-mail or the client address."""
    now = runtime.clock.now()
    since = now - timedelta(hours=1)
    async with runtime.engine.begin() as conn:
        counts = await conn.execute(
            sa.select(
                sa.func.count().filter(signed_out_creations.c.email == email),
                sa.func.count().filter(signed_out_creations.c.client_address == address),
            ).where(
                signed_out_creations.c.at > since,
                sa.or_(
                    signed_out_creations.c.email == email, signed_out_creations.c.client_address == address
                ),
            )
        )
        by_email, by_address = counts.one()
        if max(by_email, by_address) >= settings.signed_out_limit_per_hour:
            raise Problem(
                429,
                "too-many-requests",
                "Too many tickets",
                f"At most {settings.signed_out_limit_per_hour} tickets an hour may be created signed out",
                headers={"Retry-After": "3600"},
            )
        await conn.execute(
            signed_out_creations.insert(), {"email": email, "client_address": address, "at": now}
        )
