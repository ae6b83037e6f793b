"""The SMTP client and its reused sessions against a real SMTP server (aiosmtpd)."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from chorus_testing.fixtures import free_port
from chorus_testing.proxy import TcpProxy
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
