"""Pytest fixtures shared by every service's tests (loaded from the root conftest)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI

from chorus_common.cli import ServiceCli
from chorus_common.db import drop_database
from chorus_common.events import EXTERNAL_PRODUCERS, PRODUCERS
from chorus_common.messaging.accounts import dev_account_url
from chorus_common.migrations import upgrade_async
from chorus_testing.servers import (
    TestServers,
    create_vhost,
    delete_vhost,
    locate_servers,
    unique_name,
    vhost_url,
)

# Tests run the services as development does (HS256 tokens of the dev secret), unless a test says
# otherwise (the security suite runs them with CHORUS_APP_ENV=test): production is the code's default.
os.environ.setdefault("CHORUS_APP_ENV", "dev")

EVENTS_EXCHANGE = "chorus.events"
GUEST = "guest"  # the broker's administrator in tests: reads anything, and produces nothing


@pytest.fixture(scope="session")
def servers() -> Iterator[TestServers]:
    with ExitStack() as stack:
        yield locate_servers(stack)


@pytest.fixture(scope="session")
def rabbitmq_url(servers: TestServers) -> Iterator[str]:
    """A RabbitMQ vhost of this test session's own."""
    vhost = unique_name("chorus-test")
    create_vhost(vhost)
    yield vhost_url(servers.rabbitmq_url, vhost)
    delete_vhost(vhost)


@pytest.fixture(scope="session")
async def database_factory(servers: TestServers) -> AsyncIterator[Callable[[str], str]]:
    """Makes URLs of databases named for this session; they are dropped at the end."""
    created: list[str] = []

    def make(service: str) -> str:
        url = f"{servers.postgres_url}/{unique_name('test_' + service)}"
        created.append(url)
        return url

    yield make
    for url in created:
        await drop_database(url)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class CapturedMail:
    mail_from: str
    recipients: list[str]
    message: EmailMessage

    @property
    def body(self) -> str:
        content: str = self.message.get_content()
        return content


@dataclass
class SmtpCatcher:
    """A real SMTP server (aiosmtpd) keeping what it accepts in memory."""

    port: int
    messages: list[CapturedMail] = field(default_factory=list)
    # While set, every message is refused with this reply (e.g. "451 4.3.0 try again later").
    refusal: str | None = None
    refused: int = 0
    # Recipients refused at RCPT, with the reply (e.g. "550 5.1.1 no such mailbox").
    refused_recipients: dict[str, str] = field(default_factory=dict)
    # Offer PIPELINING (RFC 2920), as most relays do; aiosmtpd reads pipelined commands in order.
    pipelining: bool = True

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            return [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refused_recipients:
            return self.refused_recipients[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refusal is not None:
            self.refused += 1
            return self.refusal
        self.messages.append(
            CapturedMail(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                message_from_bytes(envelope.content, _class=EmailMessage, policy=policy.default),
            )
        )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[CapturedMail]:
        return [m for m in self.messages if address in m.recipients]


@pytest.fixture(scope="session")
def smtp_catcher() -> Iterator[SmtpCatcher]:
    catcher = SmtpCatcher(port=free_port())
    controller = Controller(catcher, hostname="127.0.0.1", port=catcher.port)
    controller.start()
    yield catcher
    controller.stop()


def producer_for(event_type: str) -> str:
    """Who a test (or a benchmark) publishes `event_type` as, like the real producer would: an external
    system the catalogue allows for it when there is one (`edi-depot` for `invoice-submitted`), else
    the service that publishes it; `guest`, which the catalogue allows for nothing, for an unknown type."""
    allowed = PRODUCERS.get(event_type, frozenset())
    external = sorted(allowed & set(EXTERNAL_PRODUCERS))
    return (external or sorted(allowed) or [GUEST])[0]


class BusProbe:
    """Publishes raw messages to, and reads messages from, the bus of a test's vhost.

    A message is published as a producer the catalogue allows for its routing key (an external
    system when one is, e.g. `edi-depot` for `invoice-submitted`), over that account's own
    connection and with its name as `user_id`, as the real producer would; `as_` names another
    account (or `guest`, which the catalogue allows for nothing). Taps and drains read as guest.
    """

    def __init__(self, connection: aio_pika.abc.AbstractRobustConnection, rabbitmq_url: str) -> None:
        self._connection = connection
        self._url = rabbitmq_url
        self._producers: dict[str, aio_pika.abc.AbstractRobustConnection] = {}

    async def _as(self, producer: str) -> aio_pika.abc.AbstractRobustConnection:
        if producer == GUEST:
            return self._connection
        if producer not in self._producers:
            self._producers[producer] = await aio_pika.connect_robust(dev_account_url(self._url, producer))
        return self._producers[producer]

    async def publish(
        self,
        routing_key: str,
        body: bytes | dict[str, Any],
        exchange: str = EVENTS_EXCHANGE,
        as_: str | None = None,
    ) -> None:
        await self.publish_many([(routing_key, body)], exchange, as_=as_)

    async def publish_many(
        self,
        messages: list[tuple[str, bytes | dict[str, Any]]],
        exchange: str = EVENTS_EXCHANGE,
        window: int = 200,
        as_: str | None = None,
    ) -> None:
        """Publish (routing key, body) pairs, each producer's on one confirming channel of its own
        connection, `window` confirms in flight; in order for each producer."""
        by_producer: dict[str, list[tuple[str, bytes | dict[str, Any]]]] = {}
        for routing_key, body in messages:
            by_producer.setdefault(as_ or producer_for(routing_key), []).append((routing_key, body))
        for producer, batch in by_producer.items():
            channel = await (await self._as(producer)).channel(publisher_confirms=True)
            try:
                target = await channel.get_exchange(exchange, ensure=False)
                for start in range(0, len(batch), window):
                    await asyncio.gather(
                        *(
                            target.publish(
                                aio_pika.Message(
                                    json.dumps(body).encode() if isinstance(body, dict) else body,
                                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                    content_type="application/cloudevents+json",
                                    user_id=producer,
                                ),
                                routing_key=routing_key,
                                mandatory=len(batch) == 1,
                            )
                            for routing_key, body in batch[start : start + window]
                        )
                    )
            finally:
                await channel.close()

    async def close(self) -> None:
        for connection in self._producers.values():
            await connection.close()

    async def tap(self, routing_key: str, exchange: str = EVENTS_EXCHANGE) -> aio_pika.abc.AbstractQueue:
        """An exclusive queue receiving copies of what is published with `routing_key`."""
        channel = await self._connection.channel()
        target = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(target, routing_key)
        return queue

    async def drain(
        self, queue_name: str, expected: int, within: float = 15.0
    ) -> list[aio_pika.abc.AbstractIncomingMessage]:
        """Take (and ack) messages from a named queue until `expected` arrived or time runs out."""
        channel = await self._connection.channel()
        try:
            queue = await channel.get_queue(queue_name)
            return await take(queue, expected, within)
        finally:
            await channel.close()


async def take(
    queue: aio_pika.abc.AbstractQueue, expected: int, within: float = 15.0
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    messages: list[aio_pika.abc.AbstractIncomingMessage] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while len(messages) < expected and loop.time() < deadline:
        message = await queue.get(no_ack=False, fail=False)
        if message is None:
            await asyncio.sleep(0.05)
            continue
        await message.ack()
        messages.append(message)
    return messages


@pytest.fixture(scope="session")
async def bus(rabbitmq_url: str) -> AsyncIterator[BusProbe]:
    connection = await aio_pika.connect_robust(rabbitmq_url)
    channel = await connection.channel()
    await channel.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    await channel.close()
    probe = BusProbe(connection, rabbitmq_url)
    yield probe
    await probe.close()
    await connection.close()


async def take_where(
    queue: aio_pika.abc.AbstractQueue, wanted: Callable[[dict[str, Any]], bool], within: float = 15.0
) -> aio_pika.abc.AbstractIncomingMessage:
    """The first message whose event `data` is `wanted`, the others taken and passed over: an event of
    an earlier test, retried by its outbox until some queue took it, may come before the one awaited."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        for message in await take(queue, 1, within=max(deadline - loop.time(), 0.1)):
            if wanted(json.loads(message.body)["data"]):
                return message
    raise AssertionError(f"no wanted message within {within}s")


async def eventually(
    check: Callable[[], Any],
    within: float = 15.0,
    interval: float = 0.1,
    what: str = "condition",
    tolerate: tuple[type[BaseException], ...] = (),
) -> Any:
    """Poll an (async) check until it returns something truthy; fail with its last value.

    Errors of the `tolerate` types count as a falsy value (e.g. while a server restarts).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            value = check()
            if asyncio.iscoroutine(value):
                value = await value
        except tolerate as exc:
            value = None
            last_error: BaseException | None = exc
        else:
            last_error = None
        if value or loop.time() > deadline:
            assert value, f"{what} not met within {within}s (last: {last_error or value!r})"
            return value
        await asyncio.sleep(interval)


def write_flags(path: Path, overrides: dict[str, bool]) -> None:
    """Write a flagd flag file from `deploy/flags/flags.json`, with default variants overridden."""
    base = Path(__file__).resolve().parents[4] / "deploy" / "flags" / "flags.json"
    document = json.loads(base.read_text())
    for key, enabled in overrides.items():
        document["flags"][key]["defaultVariant"] = "on" if enabled else "off"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=2))
    tmp.replace(path)


@asynccontextmanager
async def serving(cli: ServiceCli, app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A service's app, migrated and started against real servers, with a client for its API."""
    runtime = app.state.runtime
    await upgrade_async(
        cli.migrations_dir, runtime.settings.database_url, cli.version_table(runtime.settings)
    )
    async with app.router.lifespan_context(app):
        await eventually(lambda: runtime.broker_connected)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client
