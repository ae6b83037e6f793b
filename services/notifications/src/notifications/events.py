"""Subscribers: each event becomes e-mails, or recorded reasons for sending none."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.events import EventType
from chorus_common.flags import FeatureFlags
from chorus_common.messaging.consumer import ReceivedEvent
from chorus_common.runtime import ServiceRuntime
from notifications import repository
from notifications.domain import DecisionStatus, PlannedMail, message_id, plan_notifications
from notifications.mail import MailRenderer, SmtpMailer, build_message
from notifications.settings import NotificationsSettings

logger = logging.getLogger("notifications.events")

SUBSCRIBED_EVENTS = (
    EventType.DEADLINE_EXCEEDED,
    EventType.DELEGATION_ROUTED,
    EventType.ENGAGEMENT_VALIDATED,
    EventType.TICKET_SUBMITTED,
    EventType.TICKET_UPDATED,
)


class NotificationHandler:
    """Turns one event into its decisions, one per recipient role, each committed on its own.

    The consumer holds the event's inbox claim while this runs, so a duplicate waits; a role
    already decided (the process died after deciding it) is not decided or mailed again. Each
    decision commits right after its mail is accepted, so a crash can repeat at most that mail.
    """

    def __init__(
        self,
        runtime: ServiceRuntime,
        settings: NotificationsSettings,
        flags: FeatureFlags,
        mailer: SmtpMailer,
    ) -> None:
        self._runtime = runtime
        self._settings = settings
        self._flags = flags
        self._mailer = mailer
        self._renderer = MailRenderer()

    async def __call__(self, event: ReceivedEvent, conn: AsyncConnection) -> None:
        envelope = event.envelope
        plan = plan_notifications(envelope.type, envelope.source, event.data)
        flag = self._flags.evaluate(plan.flag, envelope.id, plan.flag_attributes)
        already = await repository.decided_roles(conn, envelope.id)
        for mail in plan.mails:
            if mail.role in already:
                continue
            subject, body = self._renderer.render(mail)
            mail_id = message_id(envelope.id, mail.role, self._settings.message_id_domain)
            if flag.enabled:
                status, reason = await self._send(mail, subject, body, mail_id, envelope.id)
                reason = f"{flag.reason}; {reason}"
            else:
                status, reason = DecisionStatus.SUPPRESSED, flag.reason
            decision = repository.Decision(
                event_id=envelope.id,
                event_type=envelope.type,
                event_source=envelope.source,
                recipient_role=mail.role,
                recipient_email=mail.to_email,
                status=status,
                flag_key=plan.flag,
                reason=reason,
                subject=subject,
                message_id=mail_id,
                decided_at=self._runtime.clock.now(),
            )
            async with self._runtime.engine.begin() as record:
                await repository.record_decision(record, decision)
            logger.info("notification %s for %s", status, mail.role, extra={"event_type": envelope.type})

    async def _send(
        self, mail: PlannedMail, subject: str, body: str, mail_id: str, event_id: str
    ) -> tuple[DecisionStatus, str]:
        message = build_message(
            self._settings, mail, subject, body, mail_id, event_id, self._runtime.clock.now()
        )
        try:
            await self._mailer.send(message)
        except Exception as exc:
            logger.error("mail to %s failed: %r", mail.role, exc)
            return DecisionStatus.FAILED, f"SMTP delivery failed: {exc!r}"[:2000]
        return DecisionStatus.SENT, "accepted by the SMTP relay"


def register_subscribers(runtime: ServiceRuntime, handler: NotificationHandler) -> None:
    for event_type in SUBSCRIBED_EVENTS:
        runtime.subscribe(event_type, handler)
