"""Rendering the French e-mails and handing them to the SMTP relay."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import socket
from datetime import date, datetime
from decimal import Decimal
from email.utils import format_datetime, formataddr, parseaddr
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from chorus_common.clock import PARIS
from chorus_common.labels import ticket_status_label
from notifications.domain import PlannedMail
from notifications.settings import NotificationsSettings
from notifications.smtp import SmtpEndpoint, SmtpSession

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
    env.filters["statut_sollicitation"] = ticket_status_label
    return env


class MailRenderer:
    def __init__(self) -> None:
        self._env = template_environment()

    def render(self, mail: PlannedMail) -> tuple[str, str]:
        subject = self._env.get_template(f"{mail.template}.subject.j2").render(mail.context)
        body = self._env.get_template(f"{mail.template}.body.j2").render(mail.context)
        return " ".join(subject.split()), body


def encoded_words(value: str) -> str:
    """A header value as RFC 2047 encoded words when it is not plain ASCII, folded between words."""
    if value.isascii():
        return value
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    for char in value:
        width = len(char.encode())
        # 39 bytes make 52 base64 characters: with its header name, each line stays within 78.
        if size + width > 39:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += width
    words.append("".join(chunk))
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(word.encode()).decode()}?=" for word in words)


def _one_line(value: str) -> str:
    # A line break inside a header value would start a header of the sender's choosing.
    return " ".join(value.split())


def address(name: str, email: str) -> str:
    """`Name <email>` for an address header; a non-ASCII name as encoded words, folded."""
    name = _one_line(name)
    if not name:
        return email
    if name.isascii():
        return formataddr((name, email))
    return f"{encoded_words(name)}\r\n <{email}>"


@cache
def from_header(mail_from: str) -> str:
    return address(*parseaddr(mail_from))


def compose_message(
    settings: NotificationsSettings,
    mail: PlannedMail,
    subject: str,
    body: str,
    message_id: str,
    event_id: str,
    sent_at: datetime,
) -> bytes:
    """The e-mail as RFC 5322 bytes: UTF-8 text, quoted-printable, French subject in encoded words.

    Written directly rather than through `email.message.EmailMessage`, whose header machinery costs
    ~0.8 ms a message: the most expensive step of a notification.
    """
    headers = (
        f"From: {from_header(settings.mail_from)}\r\n"
        f"To: {address(mail.to_name, mail.to_email)}\r\n"
        f"Subject: {encoded_words(_one_line(subject))}\r\n"
        f"Message-ID: {message_id}\r\n"
        f"Date: {format_datetime(sent_at)}\r\n"
        f"X-Chorus-Event-Id: {_one_line(event_id)}\r\n"
        f"X-Chorus-Recipient-Role: {mail.role}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
    )
    text = body.replace("\r\n", "\n").replace("\n", "\r\n").encode()
    return headers.encode() + binascii.b2a_qp(text, istext=True)


class SmtpConnections:
    """Up to `size` SMTP sessions kept open and reused, one mail transaction at a time on each."""

    def __init__(self, settings: NotificationsSettings, size: int) -> None:
        self._endpoint = SmtpEndpoint(
            host=settings.smtp_host,
            port=settings.smtp_port,
            timeout=settings.smtp_timeout_seconds,
            tls=settings.smtp_tls,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password,
            local_hostname=settings.smtp_local_hostname or socket.getfqdn(),
            server_name=settings.smtp_tls_server_name,
            ca_file=settings.smtp_ca_file,
            allow_plain_auth=settings.smtp_allow_plain_auth,
        )
        self._sender = settings.envelope_sender
        self._idle: list[SmtpSession] = []
        self._slots = asyncio.Semaphore(size)

    async def send(self, recipient: str, message: bytes) -> None:
        """One mail; a session the relay closed while idle is replaced once, at no cost."""
        async with self._slots:
            while True:
                reused = bool(self._idle)
                session = self._idle.pop() if reused else await SmtpSession.open(self._endpoint)
                try:
                    await session.send(self._sender, recipient, message)
                except ConnectionError:
                    session.close()
                    if reused:
                        continue
                    raise
                except BaseException:
                    session.close()
                    raise
                self._idle.append(session)
                return

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for session in idle:
            with contextlib.suppress(Exception):
                await session.quit()


class SmtpMailer:
    """Sends one mail over the reused SMTP sessions: one attempt (a session the relay dropped while
    idle is replaced at no cost); what to do after a failure is the delivery schedule's."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self._connections = SmtpConnections(settings, settings.smtp_connections)

    async def send(self, recipient: str, message: bytes) -> None:
        await self._connections.send(recipient, message)

    async def close(self) -> None:
        await self._connections.close()
