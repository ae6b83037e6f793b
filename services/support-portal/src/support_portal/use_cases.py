"""What the support portal does: tickets opened signed in or signed out, followed, answered, and
handled by the agents of their recipient.

Each use case takes a unit of work and plain values, decides with the domain, and stores through the
repository; who is a ticket's requester or agent is decided here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chorus_common.actions import ActionRefused, Refusal
from chorus_common.attachments import Upload
from chorus_common.auth import Principal
from chorus_common.clock import PARIS
from chorus_common.db import Row
from chorus_common.events import EventType
from chorus_common.history import HistoryEntry
from chorus_common.problems import Problem, field_problem, not_found
from chorus_common.replica import PartyRef
from chorus_common.unit_of_work import UnitOfWork
from support_portal import events, repository
from support_portal.db import attachments
from support_portal.domain import (
    NOTIFIED,
    RATE_LIMIT_WINDOW,
    TO_DO,
    Action,
    Creation,
    Role,
    Status,
    decide,
    handles,
    reference,
)
from support_portal.guard import CAPTCHA_FIELD, FormGuard
from support_portal.referential import Referential
from support_portal.routing import Recipient, RoutingTable

SUPPORT_AGENT_ROLE = "support-agent"


@dataclass(frozen=True)
class Portal:
    """The portal's configuration that its rules depend on."""

    routing: RoutingTable
    public_base_url: str  # follow links in e-mails start with it
    signed_out_limit_per_hour: int
    referential: Referential
    guard: FormGuard  # CSRF tokens and the captcha of the signed-out forms


@dataclass(frozen=True)
class NewTicket:
    category: str
    subcategory: str
    title: str
    description: str
    environment: str
    concerned: PartyRef | None = None  # the structure of the directory the ticket is about


Handled = frozenset[tuple[str, str | None]]


def agent_role(service_code: str) -> str:
    """The token role of an agent of a business service (with the structure in `structures`)."""
    return f"agent:{service_code}"


def is_agent(principal: Principal, handled: Handled, ticket: Row) -> bool:
    """Whether the caller is an agent of the ticket's recipient: the support team's, a business
    service's (by token role), or a manager of the structure concerned (`handled`)."""
    if ticket["recipient_kind"] == "SUPPORT":
        return principal.has_role(SUPPORT_AGENT_ROLE)
    if ticket["recipient_kind"] == "STRUCTURE":
        structure_id = ticket["recipient_structure_id"]
        return principal.acts_for(structure_id) and handles(
            handled, structure_id, ticket["recipient_service_code"]
        )
    return principal.acts_for(ticket["recipient_structure_id"]) and principal.has_role(
        agent_role(ticket["recipient_service_code"])
    )


async def _handled(uow: UnitOfWork) -> Handled:
    """What the caller handles as a manager of structures of the directory."""
    async with uow.reading() as conn:
        handled = await repository.handled_by(conn, uow.caller.sub)
    return frozenset(item for item in handled if uow.caller.acts_for(item[0]))


def is_requester(principal: Principal, ticket: Row) -> bool:
    return not ticket["signed_out"] and ticket["requester_sub"] == principal.sub


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def follow_url(portal: Portal, ticket_id: uuid.UUID, secret: str) -> str:
    return f"{portal.public_base_url.rstrip('/')}/suivi/{ticket_id}.{secret}"


async def _create(
    uow: UnitOfWork,
    portal: Portal,
    new: NewTicket,
    requester: dict[str, Any],
    submit: bool,
    follow_secret: str | None = None,
) -> Row:
    """A draft, or a submitted ticket routed to its recipient (and `ticket-submitted` published)."""
    conn = uow.conn
    now = uow.now()
    portal.referential.check(new.category, new.subcategory)
    recipient = portal.routing.recipient_for(new.category, new.subcategory)
    if recipient.kind == "STRUCTURE":
        # To the managers of the structure the ticket concerns; without one, to the support team.
        if new.concerned is None:
            recipient = portal.routing.default
        else:
            concerned = await repository.concerned_structure(conn, new.concerned)
            recipient = Recipient(
                kind="STRUCTURE",
                name=concerned.name,
                structure_id=concerned.structure_id,
                service_code=concerned.service_code,
            )
    ticket_id = uuid.uuid4()
    year = now.astimezone(PARIS).year  # references are numbered per Paris year
    values = {
        "id": ticket_id,
        "reference": reference(year, await repository.next_sequence(conn, year)),
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
    await repository.insert_ticket(conn, values)
    actor = requester.get("requester_sub") or requester["requester_email"]
    await repository.add_message(conn, ticket_id, actor, Role.REQUESTER, new.description, now)

    def entry(action: str, source: Status | None, target: Status) -> HistoryEntry:
        return HistoryEntry(
            action=action,
            from_status=source,
            to_status=target,
            actor=actor,
            actor_structure_id=requester.get("requester_structure_id"),
            capacity=Role.REQUESTER,
            at=now,
        )

    await repository.add_history(conn, ticket_id, entry(Creation.CREATION, None, Status.BROUILLON))
    if submit:
        await repository.add_history(
            conn, ticket_id, entry(Action.SOUMISSION, Status.BROUILLON, Status.SOUMIS)
        )
    ticket = await repository.get_ticket(conn, ticket_id)
    assert ticket is not None
    if submit:
        follow = follow_url(portal, ticket_id, follow_secret) if follow_secret else None
        event = events.ticket_event(
            EventType.TICKET_SUBMITTED, ticket, portal.referential, uow.source, now, follow_url=follow
        )
        await uow.publish(event, erase_after_publish=follow is not None)
    return ticket


async def open_signed_in(
    uow: UnitOfWork, portal: Portal, new: NewTicket, structure_id: str, submit: bool
) -> dict[str, Any]:
    caller = uow.caller
    if not caller.acts_for(structure_id):
        raise Problem(403, "not-your-structure", "Forbidden", "structure_id must be one you act for")
    if not caller.email:
        raise Problem(422, "email-required", "Your token carries no e-mail address to answer you at")
    requester = {
        "signed_out": False,
        "requester_sub": caller.sub,
        "requester_structure_id": structure_id,
        "requester_email": caller.email,
        "requester_name": None,
    }
    async with uow:
        created = await _create(uow, portal, new, requester, submit)
    return await _details(uow, created)


def normalised_address(email: str) -> str:
    """The mailbox an address reaches, as the limit counts it: case aside, and a `+tag` dropped
    (`Victim+1@Example.fr` is `victim@example.fr`)."""
    local, _, domain = email.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def captcha_refused(message: str) -> Problem:
    return field_problem(CAPTCHA_FIELD, "captcha-refused", "Captcha not solved", message)


async def open_signed_out(
    uow: UnitOfWork,
    portal: Portal,
    new: NewTicket,
    email: str,
    name: str,
    client_address: str,
    captcha: str,
) -> Row:
    """A ticket submitted without an account; the requester gets its reference and a follow link.

    Only with a solved captcha, each solution used once (422), and at most `signed_out_limit_per_hour`
    an hour per e-mail address and per client address (429)."""
    solved = portal.guard.verify(captcha)
    if solved is None:
        raise captcha_refused("the captcha's solution is missing, expired or wrong: solve a new challenge")
    now = uow.now()
    requester = {
        "signed_out": True,
        "requester_sub": None,
        "requester_structure_id": None,
        "requester_email": email,
        "requester_name": name,
    }
    async with uow:
        if not await repository.spend_captcha(uow.conn, solved.signature, solved.expires_at):
            raise captcha_refused("this captcha's solution was used already: solve a new challenge")
        counts = await repository.count_and_record_creation(
            uow.conn, normalised_address(email), client_address, now - RATE_LIMIT_WINDOW, now
        )
        if max(counts) >= portal.signed_out_limit_per_hour:
            raise Problem(
                429,
                "too-many-requests",
                "Too many tickets",
                f"At most {portal.signed_out_limit_per_hour} tickets an hour may be created signed out",
                headers={"Retry-After": "3600"},
            )
        return await _create(uow, portal, new, requester, True, follow_secret=secrets.token_urlsafe(32))


REQUESTER_LISTS = {
    "drafts": [Status.BROUILLON],
    "actions-required": [Status.COMPLEMENT_DEMANDE, Status.SOLUTION_PROPOSEE],
    "in-progress": [Status.SOUMIS, Status.EN_COURS, Status.COMPLEMENT_APPORTE, Status.RENVOYE],
    "closed": [Status.CLOTURE],
}


async def tickets(uow: UnitOfWork, work_list: str, offset: int, limit: int) -> tuple[list[Row], int]:
    """One of the caller's lists: a requester's (drafts, ...), or an agent's (to-do, assigned-to-me)."""
    caller = uow.caller
    if work_list in REQUESTER_LISTS:
        async with uow.reading() as conn:
            return await repository.requesters_tickets(
                conn, caller.sub, REQUESTER_LISTS[work_list], offset, limit
            )
    services = [role.removeprefix("agent:") for role in caller.roles if role.startswith("agent:")]
    to_do = work_list == "to-do"
    handled = await _handled(uow)
    async with uow.reading() as conn:
        return await repository.agents_tickets(
            conn,
            caller.structures,
            services,
            caller.has_role(SUPPORT_AGENT_ROLE),
            handled,
            TO_DO if to_do else None,
            None if to_do else caller.sub,
            offset,
            limit,
        )


async def _details(uow: UnitOfWork, ticket: Row) -> dict[str, Any]:
    async with uow.reading() as conn:
        messages, history = await repository.thread(conn, ticket["id"])
    return {**ticket, "messages": [dict(m) for m in messages], "history": [dict(h) for h in history]}


def _visible(principal: Principal, handled: Handled, ticket: Row) -> bool:
    return is_requester(principal, ticket) or is_agent(principal, handled, ticket)


async def _visible_ticket(uow: UnitOfWork, ticket_id: uuid.UUID, handled: Handled) -> Row:
    async with uow.reading() as conn:
        ticket = await repository.get_ticket(conn, ticket_id)
    if ticket is None or not _visible(uow.caller, handled, ticket):
        raise not_found("Ticket")
    return ticket


async def ticket(uow: UnitOfWork, ticket_id: uuid.UUID) -> dict[str, Any]:
    return await _details(uow, await _visible_ticket(uow, ticket_id, await _handled(uow)))


async def _act(
    uow: UnitOfWork,
    portal: Portal,
    ticket_id: uuid.UUID,
    action: Action,
    role: Role,
    actor: str,
    message: str | None,
    can_act: Callable[[Row], bool],
) -> Row:
    """Apply `action` for `actor` in `role`; `can_act(ticket)` says whether the actor holds that role."""
    now = uow.now()
    async with uow:
        conn = uow.conn
        ticket = await repository.get_ticket(conn, ticket_id, lock=True)
        if ticket is None or not can_act(ticket):
            raise not_found("Ticket")
        current = Status(ticket["status"])
        target = decide(action, role, current, message, ticket["assigned_to"] == actor)
        changes: dict[str, Any] = {"status": target, "updated_at": now}
        if action is Action.PRISE_EN_CHARGE:
            changes["assigned_to"] = actor
        if action is Action.TRANSFERT_SUPPORT:
            support = portal.routing.default
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
        await repository.update_ticket(conn, ticket_id, changes)
        if message and message.strip():
            await repository.add_message(conn, ticket_id, actor, role, message.strip(), now)
        acting_for = (
            ticket["requester_structure_id"] if role is Role.REQUESTER else ticket["recipient_structure_id"]
        )
        entry = HistoryEntry(
            action=action,
            from_status=current,
            to_status=target,
            actor=actor,
            actor_structure_id=acting_for,
            capacity=role,
            at=now,
        )
        await repository.add_history(conn, ticket_id, entry)
        updated = await repository.get_ticket(conn, ticket_id)
        assert updated is not None
        if action in NOTIFIED:
            await uow.publish(
                events.ticket_event(
                    EventType.TICKET_UPDATED, updated, portal.referential, uow.source, now, message=message
                )
            )
        elif action is Action.SOUMISSION:
            submitted = events.ticket_event(
                EventType.TICKET_SUBMITTED, updated, portal.referential, uow.source, now
            )
            await uow.publish(submitted)
    return updated


REQUESTER_ACTIONS = {Action.SOUMISSION, Action.COMPLEMENT, Action.RENVOI, Action.CLOTURE}


async def act_on_ticket(
    uow: UnitOfWork, portal: Portal, ticket_id: uuid.UUID, action: Action, message: str | None
) -> dict[str, Any]:
    """The caller's action, as the ticket's requester for a requester's action, else as its agent."""
    caller = uow.caller
    handled = await _handled(uow)
    found = await _visible_ticket(uow, ticket_id, handled)
    as_requester = action in REQUESTER_ACTIONS and is_requester(caller, found)
    role = Role.REQUESTER if as_requester else Role.AGENT

    def holds_role(ticket: Row) -> bool:
        return is_requester(caller, ticket) if as_requester else is_agent(caller, handled, ticket)

    if not holds_role(found):
        raise Problem(
            403, "action-forbidden", "Action not permitted to the caller", f"{action} is not yours to take"
        )
    updated = await _act(uow, portal, ticket_id, action, role, caller.sub, message, holds_role)
    return await _details(uow, updated)


async def ticket_for_token(uow: UnitOfWork, token: str) -> tuple[Row, list[Row]]:
    """The ticket a follow token opens and its messages (404 unless the token is right and not
    revoked; the check takes the same time either way)."""
    raw_id, _, secret = token.partition(".")
    try:
        ticket_id = uuid.UUID(raw_id)
    except ValueError:
        raise not_found("Ticket") from None
    async with uow.reading() as conn:
        ticket = await repository.get_ticket(conn, ticket_id)
        expected = ticket["follow_token_hash"] if ticket is not None else None
        matches = hmac.compare_digest(_hash(secret), expected or "0" * 64)
        if ticket is None or expected is None or not matches or ticket["follow_token_revoked"]:
            raise not_found("Ticket")
        messages, _ = await repository.thread(conn, ticket_id)
    return ticket, messages


SIGNED_OUT_ACTIONS = frozenset({Action.COMPLEMENT, Action.RENVOI, Action.CLOTURE})


async def act_signed_out(
    uow: UnitOfWork, portal: Portal, token: str, action: Action, message: str | None
) -> tuple[Row, list[Row]]:
    """The signed-out requester's action through its follow link: answer a question, re-send an
    unsatisfactory solution, or close the ticket (which revokes the link); the ticket then, and its
    messages."""
    ticket, _ = await ticket_for_token(uow, token)
    if action not in SIGNED_OUT_ACTIONS:
        raise ActionRefused(f"{action} is not the requester's", Refusal.FORBIDDEN)

    def holds_token(row: Row) -> bool:
        return bool(row["id"] == ticket["id"]) and not row["follow_token_revoked"]

    updated = await _act(
        uow, portal, ticket["id"], action, Role.REQUESTER, ticket["requester_email"], message, holds_token
    )
    async with uow.reading() as conn:
        messages, _ = await repository.thread(conn, ticket["id"])
    return updated, list(messages)


async def attach(uow: UnitOfWork, ticket_id: uuid.UUID, upload: Upload) -> dict[str, Any]:
    """The requester or an agent of the ticket attaches a file to it (not once it is closed)."""
    ticket = await _visible_ticket(uow, ticket_id, await _handled(uow))
    return await _attach(uow, ticket, upload, uow.caller.sub)


async def _attach(uow: UnitOfWork, ticket: Row, upload: Upload, by: str) -> dict[str, Any]:
    if ticket["status"] == Status.CLOTURE:
        raise ActionRefused("nothing is attached to a closed ticket", Refusal.NOT_NOW)
    async with uow:
        return await attachments.add(uow.conn, ticket["id"], upload, by, uow.now())


async def attachments_of(uow: UnitOfWork, ticket_id: uuid.UUID) -> list[Row]:
    ticket = await _visible_ticket(uow, ticket_id, await _handled(uow))
    async with uow.reading() as conn:
        return list(await attachments.of(conn, ticket["id"]))


async def attachment_file(
    uow: UnitOfWork, ticket_id: uuid.UUID, attachment_id: uuid.UUID
) -> tuple[Row, bytes]:
    ticket = await _visible_ticket(uow, ticket_id, await _handled(uow))
    async with uow.reading() as conn:
        return await attachments.fetch(conn, ticket["id"], attachment_id)


async def attach_signed_out(uow: UnitOfWork, token: str, upload: Upload) -> dict[str, Any]:
    ticket, _ = await ticket_for_token(uow, token)
    return await _attach(uow, ticket, upload, ticket["requester_email"])


async def signed_out_attachments(uow: UnitOfWork, ticket_id: uuid.UUID) -> list[Row]:
    async with uow.reading() as conn:
        return list(await attachments.of(conn, ticket_id))


async def signed_out_file(uow: UnitOfWork, token: str, attachment_id: uuid.UUID) -> tuple[Row, bytes]:
    ticket, _ = await ticket_for_token(uow, token)
    async with uow.reading() as conn:
        return await attachments.fetch(conn, ticket["id"], attachment_id)
