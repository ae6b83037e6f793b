"""Every SQL statement of notifications: the recorded decisions, the recipients the read model of the
directory has, and the events waiting for it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.db import fetch_page
from chorus_common.events import CloudEvent
from chorus_common.replica import NO_SERVICE
from notifications.db import awaiting_directory, decisions, replica
from notifications.domain import Attachment, DecisionFilter, DecisionStatus


@dataclass(frozen=True)
class Decision:
    event_id: str
    event_type: str
    event_source: str
    recipient_role: str
    recipient_structure_id: str | None
    recipient_email: str | None
    status: str
    flag_key: str
    reason: str
    subject: str | None
    message_id: str | None
    decided_at: datetime
    message: bytes | None = None  # the mail to send, while PENDING
    next_attempt_at: datetime | None = None
    position: int = 0  # its place among its event's mails (the MOA's before the supplier's)


async def decided(conn: AsyncConnection, event_ids: list[str]) -> set[tuple[str, str, str | None]]:
    """The (event id, recipient role, recipient address) already decided among `event_ids`."""
    rows = await conn.execute(
        sa.select(decisions.c.event_id, decisions.c.recipient_role, decisions.c.recipient_email).where(
            decisions.c.event_id.in_(event_ids)
        )
    )
    return {(event_id, role, email) for event_id, role, email in rows}


_RECORD = insert(decisions).on_conflict_do_nothing(constraint="uq_decision_event_role_recipient")


async def record_decisions(conn: AsyncConnection, recorded: list[Decision]) -> None:
    if recorded:
        await conn.execute(_RECORD, [{"id": uuid.uuid4(), **decision.__dict__} for decision in recorded])


# What operators read of a decision: everything but the message a PENDING or FAILED mail keeps.
SHOWN = [column for column in decisions.c if column.name != "message"]


def _matching(where: DecisionFilter) -> list[sa.ColumnElement[bool]]:
    wanted = {
        decisions.c.event_id: where.event_id,
        decisions.c.event_type: where.event_type,
        decisions.c.status: where.status,
        decisions.c.recipient_email: where.recipient_email,
    }
    return [column == value for column, value in wanted.items() if value is not None]


async def list_decisions(
    conn: AsyncConnection, where: DecisionFilter, offset: int, limit: int
) -> tuple[list[RowMapping], int]:
    order = [decisions.c.decided_at, decisions.c.id]
    return await fetch_page(conn, decisions, _matching(where), order, offset, limit, SHOWN)


async def get_decision(conn: AsyncConnection, decision_id: uuid.UUID) -> RowMapping | None:
    row = await conn.execute(sa.select(*SHOWN).where(decisions.c.id == decision_id))
    return row.mappings().first()


# The structures named, each with its users' attachments (none: a row with NULLs), in one statement:
# one round trip a batch.
_DIRECTORY_OF = (
    sa.select(
        replica.structures.c.structure_id,
        replica.attachments.c.service_code,
        replica.attachments.c.role,
        replica.attachments.c.notifications,
        replica.users.c.sub,
        replica.users.c.email,
        replica.users.c.name,
    )
    .select_from(replica.structures)
    .outerjoin(
        sa.join(replica.attachments, replica.users, replica.users.c.sub == replica.attachments.c.sub),
        replica.attachments.c.structure_id == replica.structures.c.structure_id,
    )
    .where(replica.structures.c.structure_id.in_(sa.bindparam("ids", expanding=True)))
)


async def directory_of(
    conn: AsyncConnection, structure_ids: Iterable[str]
) -> tuple[set[str], dict[str, list[Attachment]]]:
    """Which of the structures the read model of the directory knows, and their users' attachments."""
    ids = sorted(set(structure_ids))
    if not ids:
        return set(), {}
    known: set[str] = set()
    attached: dict[str, list[Attachment]] = {}
    for row in (await conn.execute(_DIRECTORY_OF, {"ids": ids})).mappings():
        known.add(row["structure_id"])
        if row["sub"] is None:
            continue
        attached.setdefault(row["structure_id"], []).append(
            Attachment(
                row["sub"],
                row["email"],
                row["name"],
                None if row["service_code"] == NO_SERVICE else row["service_code"],
                row["role"],
                row["notifications"],
            )
        )
    return known, attached


async def keep_waiting(
    conn: AsyncConnection, envelope: CloudEvent, received_at: datetime, unknown: list[str]
) -> None:
    """Keep an event until the directory knows the structures it names."""
    await conn.execute(
        insert(awaiting_directory)
        .values(
            event_id=envelope.id,
            body=envelope.model_dump_json(),
            received_at=received_at,
            unknown_structures=" ".join(unknown),
        )
        .on_conflict_do_nothing()
    )


async def take_waiting(conn: AsyncConnection, limit: int) -> list[RowMapping]:
    """Up to `limit` waiting events, oldest first, taken out of the table (in this transaction) and
    locked from other replicas of the service."""
    rows = await conn.execute(
        sa.select(awaiting_directory)
        .order_by(awaiting_directory.c.received_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    taken = list(rows.mappings())
    if taken:
        await conn.execute(
            awaiting_directory.delete().where(
                awaiting_directory.c.event_id.in_([r["event_id"] for r in taken])
            )
        )
    return taken


async def waiting_count(conn: AsyncConnection) -> int:
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(awaiting_directory)) or 0)


async def failed_mails(conn: AsyncConnection, limit: int) -> list[RowMapping]:
    """The FAILED mails, oldest first, without their messages."""
    rows = await conn.execute(
        sa.select(*SHOWN)
        .where(decisions.c.status == DecisionStatus.FAILED, decisions.c.recipient_email.is_not(None))
        .order_by(decisions.c.decided_at, decisions.c.id)
        .limit(limit)
    )
    return list(rows.mappings())


async def resend(conn: AsyncConnection, ids: list[uuid.UUID] | None, at: datetime) -> list[uuid.UUID]:
    """Make FAILED mails (these, or all of them) PENDING again, due now, with a new horizon; the ids
    of those made so (a FAILED mail recorded without its message, before this version, cannot be)."""
    statement = (
        decisions.update()
        .where(decisions.c.status == DecisionStatus.FAILED, decisions.c.message.is_not(None))
        .values(status=DecisionStatus.PENDING, attempts=0, next_attempt_at=at, decided_at=at)
        .returning(decisions.c.id)
    )
    if ids is not None:
        statement = statement.where(decisions.c.id.in_(ids))
    return list((await conn.execute(statement)).scalars())
