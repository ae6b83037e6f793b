"""Every SQL statement of the support portal: tickets, their messages and history, the rate limit, and
what its read model of the directory says of a ticket's structures and their managers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.db import fetch_page
from chorus_common.events import Party
from chorus_common.history import HistoryEntry
from chorus_common.replica import NO_SERVICE, PartyRef, resolve_parties
from support_portal.db import (
    captcha_spent,
    reference_counters,
    replica,
    signed_out_creations,
    ticket_history,
    ticket_messages,
    tickets,
)
from support_portal.domain import HANDLING_ROLES, Role, Status


async def concerned_structure(conn: AsyncConnection, ref: PartyRef) -> Party:
    """The structure (and service) a ticket concerns, as the read model of the directory has it; a
    422 naming the `concerned` field when it does not know it."""
    return (await resolve_parties(conn, replica, {"concerned": ref}))["concerned"]


async def handled_by(conn: AsyncConnection, sub: str) -> frozenset[tuple[str, str | None]]:
    """The (structure, service or None) whose tickets user `sub` handles: those it manages."""
    rows = await conn.execute(
        sa.select(replica.attachments.c.structure_id, replica.attachments.c.service_code)
        .join(replica.structures, replica.structures.c.structure_id == replica.attachments.c.structure_id)
        .where(
            replica.attachments.c.sub == sub,
            replica.attachments.c.role.in_(sorted(HANDLING_ROLES)),
            replica.structures.c.active,
        )
    )
    return frozenset((structure, None if code == NO_SERVICE else code) for structure, code in rows)


async def next_sequence(conn: AsyncConnection, year: int) -> int:
    """The next ticket number of `year`, incremented under its row's lock (never issued twice)."""
    counter = await conn.execute(
        insert(reference_counters)
        .values(year=year, last=1)
        .on_conflict_do_update(index_elements=["year"], set_={"last": reference_counters.c.last + 1})
        .returning(reference_counters.c.last)
    )
    return int(counter.scalar_one())


async def insert_ticket(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(tickets.insert(), values)


async def get_ticket(conn: AsyncConnection, ticket_id: uuid.UUID, lock: bool = False) -> RowMapping | None:
    query = sa.select(tickets).where(tickets.c.id == ticket_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).mappings().first()


async def update_ticket(conn: AsyncConnection, ticket_id: uuid.UUID, changes: dict[str, Any]) -> None:
    await conn.execute(tickets.update().where(tickets.c.id == ticket_id).values(**changes))


async def add_message(
    conn: AsyncConnection, ticket_id: uuid.UUID, author: str, role: Role, body: str, at: datetime
) -> None:
    await conn.execute(
        ticket_messages.insert(),
        {"ticket_id": ticket_id, "author": author, "author_role": role, "body": body, "at": at},
    )


async def add_history(conn: AsyncConnection, ticket_id: uuid.UUID, entry: HistoryEntry) -> None:
    await conn.execute(ticket_history.insert(), {"ticket_id": ticket_id, **entry.as_row()})


async def thread(conn: AsyncConnection, ticket_id: uuid.UUID) -> tuple[list[RowMapping], list[RowMapping]]:
    """A ticket's messages and history, oldest first."""
    messages = await conn.execute(
        sa.select(ticket_messages)
        .where(ticket_messages.c.ticket_id == ticket_id)
        .order_by(ticket_messages.c.id)
    )
    history = await conn.execute(
        sa.select(ticket_history).where(ticket_history.c.ticket_id == ticket_id).order_by(ticket_history.c.id)
    )
    return list(messages.mappings()), list(history.mappings())


def _agent_scope(
    structures: frozenset[str],
    services: list[str],
    support_agent: bool,
    handled: frozenset[tuple[str, str | None]],
) -> sa.ColumnElement[bool]:
    scopes = [
        sa.and_(
            tickets.c.recipient_kind == "SERVICE",
            tickets.c.recipient_structure_id.in_(list(structures)),
            tickets.c.recipient_service_code.in_(services),
        )
    ]
    whole = sorted(structure for structure, code in handled if code is None)
    parts = sorted((structure, code) for structure, code in handled if code is not None)
    if whole:
        scopes.append(
            sa.and_(tickets.c.recipient_kind == "STRUCTURE", tickets.c.recipient_structure_id.in_(whole))
        )
    if parts:
        scopes.append(
            sa.and_(
                tickets.c.recipient_kind == "STRUCTURE",
                sa.tuple_(tickets.c.recipient_structure_id, tickets.c.recipient_service_code).in_(parts),
            )
        )
    if support_agent:
        scopes.append(tickets.c.recipient_kind == "SUPPORT")
    return sa.or_(*scopes)


async def agents_tickets(
    conn: AsyncConnection,
    structures: frozenset[str],
    services: list[str],
    support_agent: bool,
    handled: frozenset[tuple[str, str | None]],
    statuses: frozenset[Status] | None,
    assigned_to: str | None,
    offset: int,
    limit: int,
) -> tuple[list[RowMapping], int]:
    """Tickets for the agents of `services` of `structures` (and of the support team), and for the
    managers of `handled`: those in `statuses`, or those open and assigned to `assigned_to`."""
    conditions = [_agent_scope(structures, services, support_agent, handled)]
    if statuses is not None:
        conditions.append(tickets.c.status.in_(list(statuses)))
    if assigned_to is not None:
        conditions += [tickets.c.assigned_to == assigned_to, tickets.c.status != Status.CLOTURE]
    order = [tickets.c.updated_at.desc(), tickets.c.id]
    return await fetch_page(conn, tickets, conditions, order, offset, limit)


async def requesters_tickets(
    conn: AsyncConnection, sub: str, statuses: list[Status], offset: int, limit: int
) -> tuple[list[RowMapping], int]:
    conditions = [
        tickets.c.signed_out.is_(False),
        tickets.c.requester_sub == sub,
        tickets.c.status.in_(statuses),
    ]
    order = [tickets.c.updated_at.desc(), tickets.c.id]
    return await fetch_page(conn, tickets, conditions, order, offset, limit)


async def count_and_record_creation(
    conn: AsyncConnection, email: str, address: str, since: datetime, at: datetime
) -> tuple[int, int]:
    """Signed-out creations since `since` by `email` and by `address`; then records this one.

    Two transaction locks, taken in a fixed order, serialise the creations of one address or one
    e-mail: a burst of them cannot all count the same past and all pass."""
    for key in sorted({f"signed-out e-mail {email}", f"signed-out address {address}"}):
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})
    counts = await conn.execute(
        sa.select(
            sa.func.count().filter(signed_out_creations.c.email == email),
            sa.func.count().filter(signed_out_creations.c.client_address == address),
        ).where(
            signed_out_creations.c.at > since,
            sa.or_(signed_out_creations.c.email == email, signed_out_creations.c.client_address == address),
        )
    )
    by_email, by_address = counts.one()
    await conn.execute(signed_out_creations.insert(), {"email": email, "client_address": address, "at": at})
    return int(by_email), int(by_address)


async def spend_captcha(conn: AsyncConnection, signature: str, expires_at: datetime) -> bool:
    """Records a captcha solution as used; False when it was already. Solutions past their expiry
    (refused anyway) are forgotten on the way."""
    await conn.execute(sa.delete(captcha_spent).where(captcha_spent.c.expires_at < sa.func.now()))
    spent = await conn.execute(
        insert(captcha_spent)
        .values(signature=signature, expires_at=expires_at)
        .on_conflict_do_nothing()
        .returning(captcha_spent.c.signature)
    )
    return spent.first() is not None
