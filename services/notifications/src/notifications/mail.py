"""Rendering the French e-mails and handing them to the SMTP relay."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib
from jinja2 import Environment, PackageLoader, StrictUndefined

from chorus_common.clock import PARIS
from notifications.domain import PlannedMail
from notifications.settings import NotificationsSettings

logger = logging.getLogger("notifications.mail")


def montant(value: Decimal) -> str:
    """French money format: `1234567.5` → `1 234 567,50`."""
    quantized = Decimal(value).quantize(Decimal("0.01"))
    units, _, cents = f"{quantized:,.2f}".partition(".")
    return units.replace(",", "\u202f") + "," + cents


def date_fr(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")
    return value.strftime("%d/%m/%Y")


def template_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("notifications", "templates"),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters["montant"] = montant
    env.filters["date_fr"] = date_fr
    return env


class MailRenderer:
    def __init__(self) -> None:
        self._env = template_environment()

    def render(self, mail: PlannedMail) -> tuple[str, str]:
        subject = self._env.get_template(f"{mail.template}.subject.j2").render(mail.context)
        body = self._env.get_template(f"{mail.template}.body.j2").render(mail.context)
        return " ".join(subject.split()), body


def build_message(
    settings: NotificationsSettings,
    mail: PlannedMail,
    subject: str,
    body: str,
    message_id: str,
    event_id: str,
    sent_at: datetime,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = formataddr((mail.to_name, mail.to_email)) if mail.to_name else mail.to_email
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(sent_at)
    message["X-Chorus-Event-Id"] = event_id
    message["X-Chorus-Recipient-Role"] = mail.role
    message.set_content(body, charset="utf-8")
    return message


class SmtpMailer:
    """Sends one message, retrying with exponential back-off before giving up."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings

    async def send(self, message: EmailMessage) -> None:
        settings = self._settings
        attempt = 0
        while True:
            attempt += 1
            try:
                await aiosmtplib.send(
                    message,
                    hostname=settings.smtp_host,
                    port=settings.smtp_port,
                    start_tls=settings.smtp_starttls,
                    use_tls=settings.smtp_tls,
                    username=settings.smtp_username,
                    password=settings.smtp_password,
                    timeout=settings.smtp_timeout_seconds,
                )
                return
            except (aiosmtplib.SMTPException, OSError) as exc:
                if attempt >= settings.smtp_retry_attempts:
                    raise
                delay = settings.smtp_retry_base_delay_seconds * 2 ** (attempt - 1)
                logger.warning("SMTP attempt %d failed (%r), retrying in %.1fs", attempt, exc, delay)
                await asyncio.sleep(delay)
