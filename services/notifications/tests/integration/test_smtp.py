"""The SMTP client and its reused sessions against a real SMTP server (aiosmtpd)."""

import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from pydantic import ValidationError

from chorus_testing.fixtures import free_port
from chorus_testing.proxy import TcpProxy
from chorus_testing.tls import ServerCertificate, issue
from notifications.mail import SmtpConnections
from notifications.settings import NotificationsSettings
from notifications.smtp import SmtpEndpoint, SmtpError, SmtpSession

UNKNOWN = "nobody@example.fr"


@dataclass
class Relay:
    """Records each session's mails; refuses UNKNOWN; offers PIPELINING or not."""

    port: int
    pipelining: bool
    sessions: list[list[bytes]] = field(default_factory=list)
    commands_seen: int = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ):
        session.host_name = hostname
        self.sessions.append([])
        session.mails = self.sessions[-1]
        return [*responses[:-1], "250-PIPELINING", responses[-1]] if self.pipelining else responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]):
        if address == UNKNOWN:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        session.mails.append(envelope.content)
        return "250 accepted"


@pytest.fixture(params=[True, False], ids=["pipelining", "one-command-at-a-time"])
def relay(request: pytest.FixtureRequest) -> Iterator[Relay]:
    relay = Relay(port=free_port(), pipelining=request.param)
    controller = Controller(relay, hostname="127.0.0.1", port=relay.port)
    controller.start()
    yield relay
    controller.stop()


def endpoint(port: int) -> SmtpEndpoint:
    return SmtpEndpoint(host="127.0.0.1", port=port, timeout=5)


MESSAGE = b"Subject: test\r\n\r\nFirst line\r\n.a line starting with a dot\r\n.\r\nlast line, no line break"


async def test_one_session_carries_several_mails_intact(relay: Relay):
    session = await SmtpSession.open(endpoint(relay.port))
    assert session.pipelining is relay.pipelining
    for n in range(3):
        await session.send("sender@example.fr", f"r{n}@example.fr", MESSAGE)
    await session.quit()
    assert len(relay.sessions) == 1 and len(relay.sessions[0]) == 3
    received = message_from_bytes(relay.sessions[0][2], policy=policy.default)
    assert received.get_payload() == (
        "First line\r\n.a line starting with a dot\r\n.\r\nlast line, no line break\r\n"
    )


async def test_a_refused_recipient_is_an_error_naming_the_command_and_the_next_session_works(relay: Relay):
    connections = SmtpConnections(
        NotificationsSettings(smtp_port=relay.port, smtp_local_hostname="tests"), size=1
    )
    with pytest.raises(SmtpError) as refused:
        await connections.send(UNKNOWN, MESSAGE)
    assert refused.value.code == 550 and "RCPT" in str(refused.value)
    await connections.send("someone@example.fr", MESSAGE)
    await connections.close()
    assert [len(mails) for mails in relay.sessions] == [0, 1], "the refused session was not reused"


async def test_a_session_the_relay_dropped_while_idle_is_replaced_without_an_error(relay: Relay):
    proxy = TcpProxy("127.0.0.1", relay.port).start()
    try:
        connections = SmtpConnections(
            NotificationsSettings(smtp_port=proxy.port, smtp_local_hostname="tests"), size=1
        )
        await connections.send("a@example.fr", MESSAGE)
        await connections.send("b@example.fr", MESSAGE)
        assert proxy.cut() == 1
        await connections.send("c@example.fr", MESSAGE)
        await connections.close()
    finally:
        proxy.stop()
    assert [len(mails) for mails in relay.sessions] == [2, 1]


# --- TLS: the relay's certificate and name are checked; credentials never go in clear --------------

RELAY_NAME = "smtp.chorus.test"


@dataclass
class Authenticated(Relay):
    logins: list[str] = field(default_factory=list)

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        self.logins.append(data.login.decode())
        return AuthResult(success=data.login == b"chorus" and data.password == b"s3cret")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> ServerCertificate:
    return issue(tmp_path_factory.mktemp("tls"), RELAY_NAME)


@pytest.fixture(params=["starttls", "implicit"])
def tls_relay(
    request: pytest.FixtureRequest, certificate: ServerCertificate
) -> Iterator[tuple[Authenticated, bool]]:
    relay = Authenticated(port=free_port(), pipelining=True)
    implicit = request.param == "implicit"
    tls: dict[str, Any] = {"tls_context": certificate.server_context(), "require_starttls": True}
    if implicit:
        # TLS from the first byte: aiosmtpd does not count it as TLS for AUTH, so it is told not to ask.
        tls = {"ssl_context": certificate.server_context(), "auth_require_tls": False}
    controller = Controller(relay, hostname="127.0.0.1", port=relay.port, authenticator=relay, **tls)
    controller.start()
    yield relay, implicit
    controller.stop()


def tls_endpoint(
    relay: Relay, implicit: bool, certificate: ServerCertificate, **overrides: Any
) -> SmtpEndpoint:
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": relay.port,
        "timeout": 5,
        "tls": implicit,
        "starttls": not implicit,
        "server_name": RELAY_NAME,
        "ca_file": str(certificate.ca_file),
        "username": "chorus",
        "password": "s3cret",
        **overrides,
    }
    return SmtpEndpoint(**settings)


async def test_over_tls_the_relay_is_checked_then_authenticated(
    tls_relay: tuple[Authenticated, bool], certificate: ServerCertificate
):
    relay, implicit = tls_relay
    session = await SmtpSession.open(tls_endpoint(relay, implicit, certificate))
    await session.send("sender@example.fr", "r@example.fr", MESSAGE)
    await session.quit()
    assert relay.logins == ["chorus"] and len(relay.sessions[-1]) == 1


@pytest.mark.parametrize(
    "overrides",
    [
        {"server_name": "other.example.org"},  # a certificate for another host name
        {"server_name": None},  # reached as 127.0.0.1, which the certificate does not name
        {"ca_file": None},  # signed by a CA the system does not trust
    ],
    ids=["another-name", "the-address", "unknown-ca"],
)
async def test_a_relay_whose_certificate_does_not_match_is_refused_before_any_credential(
    tls_relay: tuple[Authenticated, bool], certificate: ServerCertificate, overrides: dict[str, Any]
):
    relay, implicit = tls_relay
    with pytest.raises(ssl.SSLCertVerificationError):
        await SmtpSession.open(tls_endpoint(relay, implicit, certificate, **overrides))
    assert relay.logins == []


async def test_credentials_are_never_sent_without_tls(relay: Relay):
    plain = SmtpEndpoint(host="127.0.0.1", port=relay.port, timeout=5, username="chorus", password="s3cret")
    with pytest.raises(SmtpError) as refused:
        await SmtpSession.open(plain)
    assert refused.value.code == 530
    with pytest.raises(ValidationError, match="only over TLS"):
        NotificationsSettings(smtp_username="chorus", smtp_password="s3cret")
    with pytest.raises(ValidationError, match="refused when CHORUS_APP_ENV=prod"):
        NotificationsSettings(
            app_env="prod",
            smtp_allow_plain_auth=True,
            database_url="postgresql+asyncpg://db/x",
            auth_jwks_url="https://idp/jwks",
            auth_issuer="https://idp/",
            auth_audience="chorus",
        )
