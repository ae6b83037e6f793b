"""Durable delivery: the mails recorded PENDING are sent, and each is marked SENT when the relay takes
it, deferred with back-off after a temporary failure, or FAILED.

The schedule is in PostgreSQL, not in memory: a restart resumes it, and several replicas share it.
A sender leases the due mails it takes (their next attempt moved a lease ahead, committed at once, the
rows taken `FOR UPDATE SKIP LOCKED`), so another replica takes others, and a sender that dies leaves
them due again when the lease ends. Each mail is recorded the moment the relay accepts it: a crash
repeats at most the mails accepted and not yet recorded, one per SMTP session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

from chorus_common.clock import Clock
from notifications.db import decisions
from notifications.domain import DecisionStatus
from notifications.mail import SmtpMailer
from notifications.settings import NotificationsSettings
from notifications.smtp import SmtpError

logger = logging.getLogger("notifications.delivery")

MAILS = Gauge("chorus_notification_mails", "Mails by delivery state", ["state"])
OLDEST_PENDING = Gauge("chorus_notification_oldest_pending_seconds", "Age of the oldest mail not yet sent")
OUTCOMES = Counter("chorus_notification_mail_outcomes_total", "Delivery attempts by outcome", ["outcome"])


# The commands of one mail's transaction: a 5xx to one of them refuses that mail. A 5xx while the
# session is set up (EHLO, STARTTLS, AUTH) is about the relay or this service's configuration, which
# someone fixes: the mail waits for it.
MAIL_COMMANDS = frozenset({"MAIL", "RCPT", "DATA", "end of DATA"})


def is_permanent(error: BaseException) -> bool:
    """A refusal of this mail the relay will repeat (5xx to MAIL, RCPT or DATA); anything else (a
    connection refused or dropped, a timeout, a 4xx, a session that cannot be set up) may pass later."""
    return isinstance(error, SmtpError) and error.code >= 500 and error.command in MAIL_COMMANDS


def describe(error: BaseException) -> str:
    if isinstance(error, SmtpError):
        return f"{error.code} {error.reply}"[:2000]
    if isinstance(error, ssl.SSLCertVerificationError):
        why = getattr(error, "verify_message", None) or str(error)
        return f"the relay's certificate was refused: {why}"[:2000]
    return (repr(error) or type(error).__name__)[:2000]


def backoff(settings: NotificationsSettings, attempts: int) -> float:
    """Seconds before attempt `attempts + 1`: doubling from the base delay up to the maximum, with
    jitter (between half and all of it) so that mails deferred together do not all come back at once."""
    delay = min(
        settings.mail_retry_max_delay_seconds, settings.mail_retry_base_delay_seconds * 2 ** (attempts - 1)
    )
    return delay * random.uniform(0.5, 1.0)


@dataclass(frozen=True)
class Due:
    id: uuid.UUID
    event_id: str
    position: int
    recipient_email: str
    message: bytes
    attempts: int
    decided_at: datetime


_DUE = sa.text(
    """
    UPDATE notification_decisions SET next_attempt_at = :lease_until
    WHERE id IN (
        SELECT id FROM notification_decisions
        WHERE status = 'PENDING' AND next_attempt_at <= :now
        ORDER BY next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, event_id, position, recipient_email, message, attempts, decided_at
    """
)


class Delivery:
    def __init__(
        self, settings: NotificationsSettings, engine: AsyncEngine, mailer: SmtpMailer, clock: Clock
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._mailer = mailer
        self._clock = clock
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Mails were recorded PENDING: send them now rather than at the next poll."""
        self._wake.set()

    async def take_due(self) -> list[Due]:
        now = self._clock.now()
        lease_until = now + timedelta(seconds=self._settings.mail_lease_seconds)
        async with self._engine.begin() as conn:
            rows = await conn.execute(
                _DUE, {"now": now, "lease_until": lease_until, "limit": self._settings.mail_send_batch}
            )
            return [Due(**row) for row in rows.mappings()]

    async def send_due(self) -> int:
        """Send the mails due now (up to a batch), several events at once, each event's mails in
        their order (the MOA's before the supplier's); how many were taken."""
        due = await self.take_due()
        by_event: dict[str, list[Due]] = {}
        for mail in sorted(due, key=lambda m: m.position):
            by_event.setdefault(mail.event_id, []).append(mail)
        await asyncio.gather(*(self._send_in_order(mails) for mails in by_event.values()))
        return len(due)

    async def _send_in_order(self, mails: list[Due]) -> None:
        for mail in mails:
            await self._send(mail)

    async def _send(self, mail: Due) -> None:
        try:
            await self._mailer.send(mail.recipient_email, mail.message)
        except Exception as error:
            await self._failed(mail, error)
            return
        now = self._clock.now()
        await self._record(
            mail.id,
            status=DecisionStatus.SENT,
            sent_at=now,
            next_attempt_at=None,
            message=None,
            reason=sa.func.concat(decisions.c.reason, "; accepted by the SMTP relay"),
        )
        OUTCOMES.labels("sent").inc()

    async def _failed(self, mail: Due, error: BaseException) -> None:
        now = self._clock.now()
        attempts = mail.attempts + 1
        reply = describe(error)
        past_horizon = (now - mail.decided_at).total_seconds() >= self._settings.mail_retry_horizon_seconds
        if is_permanent(error) or past_horizon:
            why = "refused by the SMTP relay" if is_permanent(error) else "still not delivered after"
            if past_horizon and not is_permanent(error):
                why = f"{why} {self._settings.mail_retry_horizon_seconds:.0f} s"
            logger.error("mail %s failed after %d attempts: %s", mail.id, attempts, reply)
            await self._record(
                mail.id,
                status=DecisionStatus.FAILED,
                attempts=attempts,
                last_error=reply,
                next_attempt_at=None,
                reason=sa.func.concat(decisions.c.reason, f"; {why}: {reply}"[:2000]),
            )
            OUTCOMES.labels("failed").inc()
            return
        delay = backoff(self._settings, attempts)
        logger.warning("mail %s deferred %.0f s after attempt %d: %s", mail.id, delay, attempts, reply)
        await self._record(
            mail.id, attempts=attempts, last_error=reply, next_attempt_at=now + timedelta(seconds=delay)
        )
        OUTCOMES.labels("deferred").inc()

    async def _record(self, mail_id: uuid.UUID, **changes: object) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                decisions.update()
                .where(decisions.c.id == mail_id, decisions.c.status == DecisionStatus.PENDING)
                .values(**changes)
            )

    async def measure(self) -> None:
        """The gauges: mails pending (due or deferred), failed, and the age of the oldest pending."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        sa.func.count().filter(decisions.c.attempts == 0),
                        sa.func.count().filter(decisions.c.attempts > 0),
                        sa.func.min(decisions.c.decided_at),
                    ).where(decisions.c.status == DecisionStatus.PENDING)
                )
            ).one()
            failed = await conn.scalar(
                sa.select(sa.func.count()).where(decisions.c.status == DecisionStatus.FAILED)
            )
        pending, deferred, oldest = row
        age = (self._clock.now() - oldest).total_seconds() if oldest else 0.0
        MAILS.labels("pending").set(pending)
        MAILS.labels("deferred").set(deferred)
        MAILS.labels("failed").set(failed or 0)
        OLDEST_PENDING.set(age)
        if deferred:
            logger.info("%d mails deferred, the oldest pending for %.0f s", deferred, age)

    async def run(self) -> None:
        """Send what is due, at once when woken, else every CHORUS_MAIL_POLL_INTERVAL_SECONDS; a full batch
        is followed by the next at once."""
        settings = self._settings
        cycles = 0
        while True:
            self._wake.clear()  # a wake from now on is for mails this round may not see
            try:
                taken = await self.send_due()
                cycles += 1
                if cycles % 30 == 1:
                    await self.measure()
            except Exception:
                logger.warning("mail delivery failed", exc_info=True)
                taken = 0
            if taken >= settings.mail_send_batch:
                continue
            # asyncio.timeout, not wait_for: a cancellation arriving as the wait ends is not dropped.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(settings.mail_poll_interval_seconds):
                    await self._wake.wait()
