"""A small SMTP client for long-lived sessions: EHLO, STARTTLS or implicit TLS, AUTH, and mail
transactions sent in one round trip before the message when the relay offers PIPELINING (RFC 2920).

A general-purpose client answers each command before writing the next: four round trips and as many
wake-ups per mail. Here MAIL, RCPT and DATA go out together, then the message: two.
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
from dataclasses import dataclass

LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


class SmtpError(Exception):
    """The relay refused a command (`code` 4xx: try again later; 5xx: it will not take it)."""

    def __init__(self, code: int, reply: str, command: str) -> None:
        super().__init__(f"{command}: {code} {reply}")
        self.code = code
        self.reply = reply
        self.command = command


class SmtpDisconnected(ConnectionError):
    """The relay closed the session."""


@dataclass(frozen=True)
class SmtpEndpoint:
    host: str
    port: int
    timeout: float
    tls: bool = False  # TLS from the first byte (submissions port 465)
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    local_hostname: str = "localhost"
    # The name the relay's certificate must carry, when it is reached by another (an IP address, an
    # internal alias); by default the host itself.
    server_name: str | None = None
    ca_file: str | None = None  # a private CA to trust instead of the system's (PEM)
    allow_plain_auth: bool = False  # credentials without TLS: development only

    def tls_context(self) -> ssl.SSLContext:
        """Certificate and host name checked (`create_default_context`), against the CA given or the
        system's."""
        return ssl.create_default_context(cafile=self.ca_file)

    @property
    def certificate_name(self) -> str:
        return self.server_name or self.host


class SmtpSession:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> None:
        self._reader = reader
        self._writer = writer
        self._timeout = timeout
        self.extensions: set[str] = set()

    @classmethod
    async def open(cls, endpoint: SmtpEndpoint) -> SmtpSession:
        async with asyncio.timeout(endpoint.timeout):
            if endpoint.tls:
                reader, writer = await asyncio.open_connection(
                    endpoint.host,
                    endpoint.port,
                    ssl=endpoint.tls_context(),
                    server_hostname=endpoint.certificate_name,
                )
            else:
                reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
            session = cls(reader, writer, endpoint.timeout)
            try:
                await session._expect("connect", 220)
                await session._ehlo(endpoint.local_hostname)
                if endpoint.starttls:
                    if "STARTTLS" not in session.extensions:
                        raise SmtpError(502, "the relay does not offer STARTTLS", "STARTTLS")
                    await session._command(b"STARTTLS", 220)
                    await writer.start_tls(endpoint.tls_context(), server_hostname=endpoint.certificate_name)
                    await session._ehlo(endpoint.local_hostname)
                if endpoint.username is not None:
                    if not (endpoint.tls or endpoint.starttls or endpoint.allow_plain_auth):
                        raise SmtpError(530, "credentials are sent only over TLS", "AUTH")
                    credentials = f"\0{endpoint.username}\0{endpoint.password or ''}".encode()
                    await session._command(b"AUTH PLAIN " + base64.b64encode(credentials), 235, "AUTH")
            except BaseException:
                session.close()
                raise
        return session

    @property
    def pipelining(self) -> bool:
        return "PIPELINING" in self.extensions

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        """One mail transaction. Raises `SmtpError` when the relay refuses it, after which the
        session is in no known state and must be closed."""
        envelope = [f"MAIL FROM:<{sender}>".encode(), f"RCPT TO:<{recipient}>".encode(), b"DATA"]
        async with asyncio.timeout(self._timeout):
            if self.pipelining:
                self._writer.write(b"\r\n".join(envelope) + b"\r\n")
                replies = [await self._reply() for _ in envelope]
            else:
                replies = []
                for line in envelope:
                    self._writer.write(line + b"\r\n")
                    replies.append(await self._reply())
                    if replies[-1][0] >= 400:
                        break
            # Without pipelining, `replies` stops at the first refusal.
            expected = (("MAIL", 250), ("RCPT", 250), ("DATA", 354))
            for (code, reply), (command, wanted) in zip(replies, expected, strict=False):
                if code != wanted and not (command == "RCPT" and code == 251):
                    # The session is left mid-transaction: the caller discards it.
                    raise SmtpError(code, reply, command)
            body = LEADING_DOT.sub(b"..", message)
            self._writer.write(body + (b".\r\n" if body.endswith(b"\r\n") else b"\r\n.\r\n"))
            code, reply = await self._reply()
            if code != 250:
                raise SmtpError(code, reply, "end of DATA")

    async def quit(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._command(b"QUIT", 221)
        finally:
            self.close()

    def close(self) -> None:
        self._writer.close()

    async def _ehlo(self, hostname: str) -> None:
        self._writer.write(f"EHLO {hostname}\r\n".encode())
        code, reply = await self._reply()
        if code != 250:
            raise SmtpError(code, reply, "EHLO")
        self.extensions = {line.split(" ", 1)[0].upper() for line in reply.splitlines()[1:]}

    async def _command(self, command: bytes, expected: int, name: str | None = None) -> str:
        self._writer.write(command + b"\r\n")
        return await self._expect(name or command.decode(), expected)

    async def _expect(self, name: str, expected: int) -> str:
        code, reply = await self._reply()
        if code != expected:
            raise SmtpError(code, reply, name)
        return reply

    async def _reply(self) -> tuple[int, str]:
        lines = []
        while True:
            line = await self._reader.readline()
            if not line.endswith(b"\n"):
                raise SmtpDisconnected("the relay closed the session")
            lines.append(line[4:].rstrip(b"\r\n").decode("utf-8", "replace"))
            if line[3:4] != b"-":
                try:
                    return int(line[:3]), "\n".join(lines)
                except ValueError:
                    raise SmtpError(0, line.decode("utf-8", "replace"), "reply") from None
