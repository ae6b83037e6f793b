"""What notifications does: each event becomes e-mails, or recorded reasons for sending none; the
recorded decisions are read by platform operators."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from chorus_common.auth import require_role
from chorus_common.db import Row, after_commit
from chorus_common.events import parse_event
from chorus_common.flags import FeatureFlags, FlagDecision
from chorus_common.messaging.consumer import ReceivedEvent
from chorus_common.problems import Problem, not_found
from chorus_common.runtime import ServiceRuntime
from chorus_common.unit_of_work import UnitOfWork
from notifications import repository
from notifications.delivery import Delivery
from notifications.domain import (
    Attachment,
    DecisionStatus,
    NotificationPlan,
    PlannedMail,
    message_id,
    nobody_reason,
    plan_notifications,
    recipients,
    unknown_reason,
)
from notifications.mail import MailRenderer, compose_message
from notifications.settings import NotificationsSettings

logger = logging.getLogger("notifications.use_cases")

OPERATOR_ROLE = "admin"
RETRY_BATCH = 200  # events waiting for the directory decided again per transaction


@dataclass
class Outgoing:
    """One recipient's e-mail for an event, rendered, and the decision it is waiting for; or the
    decision that nobody of a structure is mailed (`mail` None), with its reason."""

    event: ReceivedEvent
    role: str
    structure_id: str | None
    mail: PlannedMail | None
    subject: str | None
    message_id: str | None
    flag: FlagDecision
    flag_key: str
    message: bytes | None  # None when it is not sent
    refused: str | None  # why it is not sent whatever the flag says


@dataclass(frozen=True)
class Pending:
    """An event to decide, and when it first came (to bound its wait for the directory)."""

    event: ReceivedEvent
    received_at: datetime


class Notifier:
    """Turns a batch of events into their decisions, one per (event, recipient role, recipient).

    The recipients are resolved from the service's read model of the directory: for a structure (and
    service) an event names, its principal manager and every user with notifications on (see
    `domain.recipients`); a ticket's requester is the address the event carries. An event naming a
    structure the read model does not know yet waits (`awaiting_directory`) and is decided again
    every CHORUS_DIRECTORY_RETRY_INTERVAL_SECONDS, until the structure is known or
    CHORUS_DIRECTORY_WAIT_SECONDS have passed; then what cannot be sent is recorded with the reason.

    Decide first, send after: the decisions are recorded in the consumer's transaction, which also
    holds the events' inbox claims, each mail to send as PENDING with its message and Message-ID;
    nothing is sent before they commit, so a bad event (one PostgreSQL refuses to store) fails its
    batch before any mail leaves, and is dead-lettered unsent while its batch-mates are decided
    again one by one. Once committed, `Delivery` sends the mails, each event's in order (the MOA
    before the supplier), and a redelivery of the event sends nothing again. A flag that cannot be
    evaluated makes the event wait, as for the directory, up to CHORUS_MAIL_RETRY_HORIZON_SECONDS.
    """

    def __init__(self, settings: NotificationsSettings, flags: FeatureFlags, delivery: Delivery) -> None:
        self._settings = settings
        self._flags = flags
        self._delivery = delivery
        self._renderer = MailRenderer()

    async def notify(self, events: list[ReceivedEvent], uow: UnitOfWork) -> None:
        """Decide, send and record the mails of `events`, within `uow`'s transaction."""
        now = uow.now()
        await self._decide(uow, [Pending(event, now) for event in events])

    async def retry_waiting(self, uow: UnitOfWork, limit: int = 200) -> tuple[int, int]:
        """Decide again the events waiting for the directory: (how many were taken, how many of them
        still wait)."""
        async with uow:
            rows = await repository.take_waiting(uow.conn, limit)
            pending = []
            for row in rows:
                envelope, data = parse_event(row["body"].encode())
                pending.append(Pending(ReceivedEvent(envelope, data, 0), row["received_at"]))
            still_waiting = await self._decide(uow, pending)
        return len(rows), still_waiting

    async def _decide(self, uow: UnitOfWork, pending: list[Pending]) -> int:
        """Decide `pending` within `uow`'s transaction; how many wait for the directory instead."""
        portal = self._settings.support_portal_url
        plans = []
        for item in pending:
            envelope = item.event.envelope
            plan = plan_notifications(envelope.type, envelope.source, item.event.data, portal)
            flag = self._flags.evaluate(plan.flag, envelope.id, plan.flag_attributes)
            plans.append((item, plan, flag))
        named = {m.party.structure_id for _, plan, _ in plans for m in plan.mails if m.party is not None}
        known, attached = await repository.directory_of(uow.conn, named)
        already = await repository.decided(uow.conn, [item.event.envelope.id for item in pending])
        now = uow.now()
        per_event = []
        waiting = 0
        for item, plan, flag in plans:
            unknown = sorted(
                {m.party.structure_id for m in plan.mails if m.party and m.party.structure_id not in known}
            )
            waited = (now - item.received_at).total_seconds()
            if flag.error is not None and waited < self._settings.mail_retry_horizon_seconds:
                # The flag provider cannot answer: decide when it can, rather than suppress.
                await repository.keep_waiting(uow.conn, item.event.envelope, item.received_at, [])
                waiting += 1
                continue
            # Only a mail that would be sent waits for the directory; one suppressed is decided now.
            sendable = flag.enabled and plan.refused is None
            if unknown and sendable and waited < self._settings.directory_wait_seconds:
                await repository.keep_waiting(uow.conn, item.event.envelope, item.received_at, unknown)
                waiting += 1
                continue
            prepared = self._prepare(uow, item.event, plan, flag, known, attached, already, waited)
            per_event.append(prepared)
        recorded = [
            self._decision(uow, outgoing, position)
            for batch in per_event
            for position, outgoing in enumerate(batch)
        ]
        await repository.record_decisions(uow.conn, recorded)
        if any(decision.status == DecisionStatus.PENDING for decision in recorded):
            after_commit(uow.conn, self._delivery.wake)
        return waiting

    def _prepare(
        self,
        uow: UnitOfWork,
        event: ReceivedEvent,
        plan: NotificationPlan,
        flag: FlagDecision,
        known: set[str],
        attached: dict[str, list[Attachment]],
        already: set[tuple[str, str, str | None]],
        waited: float,
    ) -> list[Outgoing]:
        envelope = event.envelope
        sendable = flag.enabled and plan.refused is None
        now = uow.now()
        prepared = []
        for addressing in plan.mails:
            party = addressing.party
            structure_id = party.structure_id if party else None
            # Why nobody is mailed in this role, when nobody is (the flag's reason when it is off).
            nobody = plan.refused
            if party is None:
                mails = [addressing.to_address()]
            elif party.structure_id not in known:
                mails = []
                if sendable:
                    nobody = unknown_reason(party.structure_id, waited)
            else:
                found = recipients(attached.get(party.structure_id, []), party.service_code)
                mails = [addressing.to(recipient) for recipient in found]
                if sendable:
                    nobody = nobody_reason(party)
            if not mails and (envelope.id, addressing.role, None) not in already:
                role = addressing.role
                prepared.append(
                    Outgoing(event, role, structure_id, None, None, None, flag, plan.flag, None, nobody)
                )
            for mail in mails:
                if (envelope.id, mail.role, mail.to_email) in already:
                    continue  # decided by an earlier delivery that recorded it
                subject, body = self._renderer.render(mail)
                mail_id = message_id(envelope.id, mail.role, mail.to_email, self._settings.message_id_domain)
                message = (
                    compose_message(self._settings, mail, subject, body, mail_id, envelope.id, now)
                    if sendable
                    else None
                )
                refused = plan.refused
                prepared.append(
                    Outgoing(
                        event,
                        mail.role,
                        structure_id,
                        mail,
                        subject,
                        mail_id,
                        flag,
                        plan.flag,
                        message,
                        refused,
                    )
                )
        return prepared

    def _decision(self, uow: UnitOfWork, item: Outgoing, position: int) -> repository.Decision:
        """What is recorded for one outgoing mail: PENDING with its message (the sender's to send),
        or SUPPRESSED with the reason."""
        envelope = item.event.envelope
        now = uow.now()
        pending = item.message is not None and item.mail is not None
        return repository.Decision(
            event_id=envelope.id,
            event_type=envelope.type,
            event_source=envelope.source,
            recipient_role=item.role,
            recipient_structure_id=item.structure_id,
            recipient_email=item.mail.to_email if item.mail else None,
            status=DecisionStatus.PENDING if pending else DecisionStatus.SUPPRESSED,
            flag_key=item.flag_key,
            reason=item.flag.reason if pending else (item.refused or item.flag.reason),
            subject=item.subject,
            message_id=item.message_id,
            decided_at=now,
            message=item.message if pending else None,
            next_attempt_at=now if pending else None,
            position=position,
        )


async def retry_periodically(runtime: ServiceRuntime, notifier: Notifier, interval: float) -> None:
    """The in-service retry of the events waiting for the directory, once per interval."""
    while True:
        try:
            # A full batch of which some were decided: take the next ones at once; the rest wait.
            taken, still_waiting = await notifier.retry_waiting(runtime.unit_of_work(), RETRY_BATCH)
            while taken == RETRY_BATCH and still_waiting < taken:
                taken, still_waiting = await notifier.retry_waiting(runtime.unit_of_work(), RETRY_BATCH)
        except Exception:
            logger.warning("retrying the events waiting for the directory failed", exc_info=True)
        await asyncio.sleep(interval)


async def decisions(
    uow: UnitOfWork, where: repository.DecisionFilter, offset: int, limit: int
) -> tuple[list[Row], int]:
    """The recorded decisions matching `where`, for the platform's operators."""
    require_role(uow.caller, OPERATOR_ROLE)
    async with uow.reading() as conn:
        return await repository.list_decisions(conn, where, offset, limit)


async def decision(uow: UnitOfWork, notification_id: uuid.UUID) -> Row:
    require_role(uow.caller, OPERATOR_ROLE)
    async with uow.reading() as conn:
        row = await repository.get_decision(conn, notification_id)
    if row is None:
        raise not_found("Notification")
    return row


async def resend(uow: UnitOfWork, notification_id: uuid.UUID) -> Row:
    """An operator sends a FAILED mail again (after the relay or the address was fixed): it is
    PENDING, due now (the sender's next poll takes it), with a new horizon."""
    require_role(uow.caller, OPERATOR_ROLE)
    async with uow:
        row = await repository.get_decision(uow.conn, notification_id)
        if row is None:
            raise not_found("Notification")
        if not await repository.resend(uow.conn, [notification_id], uow.now()):
            raise Problem(
                409,
                "not-failed",
                "Nothing to send again",
                f"the notification is {row['status']}: only a FAILED mail is sent again",
            )
        resent = await repository.get_decision(uow.conn, notification_id)
    assert resent is not None
    return resent
