"""The fault-injection suite's platform: every service as a process, reaching RabbitMQ through a TCP
proxy that the tests can cut, with its own databases, vhost, flag file and SMTP catcher."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from chorus_common.auth import mint_dev_token
from chorus_testing.directory import attached, in_directory, registered
from chorus_testing.events import delegation_routed
from chorus_testing.fixtures import eventually
from chorus_testing.platform import Platform, launched_platform
from chorus_testing.proxy import TcpProxy
from chorus_testing.relay import ControlledRelay
from chorus_testing.servers import TestServers


@pytest.fixture(scope="session")
def rabbitmq_proxy(rabbitmq_url: str) -> Iterator[TcpProxy]:
    target = urlsplit(rabbitmq_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5672).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="session")
def relay(run_dir: Path) -> Iterator[ControlledRelay]:
    """The platform's SMTP relay, writing the Maildir `message_ids_in_catcher` reads."""
    controlled = ControlledRelay(run_dir / "mail").start()
    yield controlled
    controlled.stop()


@pytest.fixture(scope="session")
def faulty_platform(
    servers: TestServers,
    rabbitmq_url: str,
    rabbitmq_proxy: TcpProxy,
    relay: ControlledRelay,
    run_dir: Path,
) -> Iterator[Platform]:
    target = urlsplit(rabbitmq_url)
    netloc = f"{target.username}:{target.password}@127.0.0.1:{rabbitmq_proxy.port}"
    proxied = urlunsplit(target._replace(netloc=netloc))
    env = {
        "RABBITMQ_URL": proxied,
        "SMTP_RELAY": relay.address,
        # Production's schedule (doubling, with jitter) on a shorter scale: 1 s to 8 s instead of 30 s
        # to 30 min, so that the tests of outages measure minutes, not hours.
        "CHORUS_MAIL_RETRY_BASE_DELAY_SECONDS": "1",
        "CHORUS_MAIL_RETRY_MAX_DELAY_SECONDS": "8",
    }
    with launched_platform(servers, rabbitmq_url, run_dir, extra_env=env, name="faults") as platform:
        yield platform


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


def report(test: str, **counts: Any) -> None:
    """Print what a fault test counted (shown by `make test-faults`, which runs pytest with -s)."""
    figures = ", ".join(f"{key.replace('_', ' ')}={value}" for key, value in counts.items())
    print(f"\n[fault] {test}: {figures}", flush=True)


async def query(platform: Platform, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Rows from a service's database, on a new connection (the server may have been restarted)."""
    conn = await asyncpg.connect(platform.database_dsn(service))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def decisions_for(platform: Platform, event_ids: list[str]) -> list[asyncpg.Record]:
    """notifications' decisions on these events."""
    return await _decisions(platform, "event_id", event_ids)


async def decisions_to(platform: Platform, emails: list[str]) -> list[asyncpg.Record]:
    """notifications' decisions on mails to these addresses."""
    return await _decisions(platform, "recipient_email", emails)


async def _decisions(platform: Platform, column: str, values: list[str]) -> list[asyncpg.Record]:
    return await query(
        platform,
        "notifications",
        "SELECT event_id, recipient_role, recipient_email, status, message_id FROM notification_decisions"
        f" WHERE {column} = ANY($1::text[])",
        values,
    )


# What a check may raise while the servers it reads from restart.
RECOVERING = (OSError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError)


async def wait_for(check: Any, within: float, interval: float = 1.0, what: str = "condition") -> Any:
    """`eventually`, polling less often and riding over servers that restart."""
    return await eventually(check, within=within, interval=interval, what=what, tolerate=RECOVERING)


def message_ids_in_catcher(platform: Platform) -> list[str]:
    """The Message-ID of every mail the SMTP catcher received (one entry per mail, duplicates kept)."""
    new = platform.run_dir / "mail" / "new"
    parser = BytesHeaderParser()
    found = []
    for path in new.iterdir() if new.exists() else []:
        with path.open("rb") as mail:
            found.append(str(parser.parse(mail)["Message-ID"]))
    return found


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def postgres_cluster(action: str) -> None:
    version = next(Path("/etc/postgresql").iterdir()).name
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        check=True,
        capture_output=True,
        timeout=120,
    )


class EngagementClient:
    """Creates and validates engagements through the API: each validation publishes one event, whose
    mail goes to the one user of the client's supplier."""

    def __init__(self, http: httpx.AsyncClient, platform: Platform, issuer: str, supplier: str) -> None:
        self.http = http
        self.url = platform.url("engagements") + "/engagements"
        self.issuer, self.supplier = issuer, supplier
        self.supplier_email = f"user-{supplier}@example.fr"
        self.headers = {"authorization": "Bearer " + mint_dev_token("buyer", [self.issuer])}

    @classmethod
    async def for_a_new_ministry(cls, http: httpx.AsyncClient, platform: Platform) -> EngagementClient:
        """A client for a ministry the directory has registered and engagements knows, buying from a
        supplier whose user notifications knows."""
        admin = {"authorization": "Bearer " + mint_dev_token("operator", [], ["admin"])}
        issuer = await registered(http, platform, admin, read_by=["engagements"])
        await attached(http, platform, admin, issuer, "buyer", ["engagements"])
        supplier = await registered(http, platform, admin, ["notifications"], kind="PRIVEE", name="BTP SA")
        await attached(http, platform, admin, supplier, f"user-{supplier}", ["notifications"])
        return cls(http, platform, issuer, supplier)

    async def validate_one(self) -> tuple[int, str]:
        """(status of the last call, the supplier's user's e-mail): its decisions are the client's."""
        supplier_email = self.supplier_email
        body = {
            "number": f"EJ-{uuid.uuid4().hex[:10]}",
            "type": "BON_DE_COMMANDE",
            "issuer": {
                "structure_id": self.issuer,
                "name": "Ministère",
                "email": "achats@min.gouv.fr",
                "kind": "ETAT",
            },
            "supplier": {"structure_id": self.supplier, "name": "BTP SA", "email": "contact@btp.example.fr"},
            "lines": [
                {"description": "Ciment", "quantity": "2.5", "unit_price_ht": "100.10", "vat_rate": "20"}
            ],
        }
        created = await self.http.post(self.url, json=body, headers=self.headers)
        if created.status_code != 201:
            return created.status_code, supplier_email
        validated = await self.http.post(
            f"{self.url}/{created.json()['id']}/actions", json={"action": "VALIDATION"}, headers=self.headers
        )
        return validated.status_code, supplier_email

    async def keep_validating(self, stop: asyncio.Event, pause: float = 0.0) -> list[tuple[int, str]]:
        """Validate engagements one after another until `stop` is set; (0, "") for a lost connection."""
        results = []
        while not stop.is_set():
            try:
                results.append(await self.validate_one())
            except httpx.HTTPError:
                results.append((0, ""))
            await asyncio.sleep(pause)
        return results


async def one_delegates_events(platform: Platform, count: int) -> list[dict[str, Any]]:
    """`count` delegation-routed events (each its own invoice) whose mail goes to one delegate's user,
    a structure of the directory."""
    async with httpx.AsyncClient(timeout=30) as http:
        first = await in_directory(http, platform, delegation_routed())
    events = [first]
    for _ in range(count - 1):
        event = delegation_routed()
        event["data"] = {**first["data"], "invoice_id": event["data"]["invoice_id"]}
        events.append(event)
    return events
