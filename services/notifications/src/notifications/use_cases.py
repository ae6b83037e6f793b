"""What notifications does: each event becomes e-mails, or recorded reasons for sending none; the
recorded decisions are read by platform operators."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from chorus_common.auth import require_role
from chorus_common.db import Row
from chorus_common.flags import FeatureFlags, FlagDecision
from chorus_common.messaging.consumer import ReceivedEvent
from chorus_common.problems import not_found
from chorus_common.unit_of_work import UnitOfWork
from notifications import repository
from notifications.domain import DecisionStatus, PlannedMail, message_id, plan_notifications
from notifications.mail import MailRenderer, SmtpMailer, compose_message
from notifications.settings import NotificationsSettings

logger = logging.getLogger("notifications.use_cases")

OPERATOR_ROLE = "admin"


@dataclass
class Outgoing:
    """One recipient's e-mail for an event, rendered, and the decision it is waiting for."""

    event: ReceivedEvent
    mail: PlannedMail
    subject: str
    message_id: str
    flag: FlagDecision
    flag_key: str
    message: bytes | None  # None when it is not sent
    refused: str | None  # why it is not sent whatever the flag says (the plan's refusal)


class Notifier:
    """Turns a batch of events into their decisions, one per (event, recipient role).

    Everything that can refuse an event (planning, rendering) happens before any mail leaves, so
    a bad event fails its batch before anything is sent. Then the mails go out over reused SMTP
    sessions, several events at once, each event's mails in order (the MOA before the supplier);
    the decisions are recorded in the consumer's transaction, which also holds the events' inbox
    claims: once they commit, a redelivery sends nothing again. A crash before the commit repeats
    the batch's mails, with the same Message-IDs.
    """

    def __init__(self, settings: NotificationsSettings, flags: FeatureFlags, mailer: SmtpMailer) -> None:
        self._settings = settings
        self._flags = flags
        self._mailer = mailer
        self._renderer = MailRenderer()

    async def notify(self, events: list[ReceivedEvent], uow: UnitOfWork) -> None:
        """Decide, send and record the mails of `events`, within `uow`'s transaction."""
        already = await repository.decided_roles(uow.conn, [event.envelope.id for event in events])
        per_event = [self._prepare(uow, event, already) for event in events]
        decided = await asyncio.gather(*(self._deliver(uow, outgoing) for outgoing in per_event if outgoing))
        await repository.record_decisions(uow.conn, [decision for batch in decided for decision in batch])

    def _prepare(
        self, uow: UnitOfWork, event: ReceivedEvent, already: set[tuple[str, str]]
    ) -> list[Outgoing]:
        envelope = event.envelope
        plan = plan_notifications(
            envelope.type, envelope.source, event.data, self._settings.support_portal_url
        )
        flag = self._flags.evaluate(plan.flag, envelope.id, plan.flag_attributes)
        now = uow.now()
        prepared = []
        for mail in plan.mails:
            if (envelope.id, mail.role) in already:
                continue  # decided by an earlier delivery that recorded it
            subject, body = self._renderer.render(mail)
            mail_id = message_id(envelope.id, mail.role, self._settings.message_id_domain)
            message = (
                compose_message(self._settings, mail, subject, body, mail_id, envelope.id, now)
                if flag.enabled and plan.refused is None
                else None
            )
            prepared.append(Outgoing(event, mail, subject, mail_id, flag, plan.flag, message, plan.refused))
        return prepared

    async def _deliver(self, uow: UnitOfWork, outgoing: list[Outgoing]) -> list[repository.Decision]:
        decided = []
        for item in outgoing:
            if item.message is None:
                status, reason = DecisionStatus.SUPPRESSED, item.refused or item.flag.reason
            else:
                status, reason = await self._send(item.mail, item.message)
                reason = f"{item.flag.reason}; {reason}"
            envelope = item.event.envelope
            decided.append(
                repository.Decision(
                    event_id=envelope.id,
                    event_type=envelope.type,
                    event_source=envelope.source,
                    recipient_role=item.mail.role,
                    recipient_email=item.mail.to_email,
                    status=status,
                    flag_key=item.flag_key,
                    reason=reason,
                    subject=item.subject,
                    message_id=item.message_id,
                    decided_at=uow.now(),
                )
            )
            logger.debug(
                "notification %s for %s", status, item.mail.role, extra={"event_type": envelope.type}
            )
        return decided

    async def _send(self, mail: PlannedMail, message: bytes) -> tuple[DecisionStatus, str]:
        try:
            await self._mailer.send(mail.to_email, message)
        except Exception as exc:
            logger.error("mail to %s failed: %r", mail.role, exc)
            return DecisionStatus.FAILED, f"SMTP delivery failed: {exc!r}"[:2000]
        return DecisionStatus.SENT, "accepted by the SMTP relay"


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
