"""Readiness follows the servers: not ready while one is unreachable, ready again by itself."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from chorus_common.db import ensure_database
from chorus_common.runtime import ServiceRuntime, create_app, messaging_tables
from chorus_common.settings import ServiceSettings
from chorus_testing.fixtures import eventually, free_port

metadata = sa.MetaData()
outbox, inbox = messaging_tables(metadata)


def probe_app(
    database_url: str, rabbitmq_url: str, role: str = "all"
) -> tuple[ServiceRuntime, httpx.AsyncClient, FastAPI]:
    settings = ServiceSettings(
        service_name="probe", database_url=database_url, rabbitmq_url=rabbitmq_url, service_role=role
    )
    runtime = ServiceRuntime(settings, outbox, inbox)
    app = create_app(runtime, title="probe", version="1", description="", routers=[])
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe")
    return runtime, client, app


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


def forwarder(
    host: str, port: int
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def forward(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(host, port)
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    return forward


async def test_not_ready_while_postgresql_is_unreachable(rabbitmq_url: str):
    runtime, client, app = probe_app(
        f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none", rabbitmq_url
    )
    async with app.router.lifespan_context(app), client:
        await eventually(lambda: runtime.broker_connected)
        assert (await client.get("/health/live")).status_code == 200
        response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "not-ready", "checks": {"database": "down", "rabbitmq": "up"}}


async def test_not_ready_while_rabbitmq_is_unreachable_then_ready_once_it_answers(
    database_factory: Callable[[str], str], rabbitmq_url: str
):
    database_url = database_factory("probe")
    await ensure_database(database_url)
    real = urlsplit(rabbitmq_url)
    port = free_port()
    via_proxy = rabbitmq_url.replace(f"{real.hostname}:{real.port}", f"127.0.0.1:{port}")
    _, client, app = probe_app(database_url, via_proxy)
    async with app.router.lifespan_context(app), client:
        down = await client.get("/health/ready")
        assert down.status_code == 503
        assert down.json()["checks"] == {"database": "up", "rabbitmq": "down"}

        proxy = await asyncio.start_server(
            forwarder(real.hostname or "127.0.0.1", real.port or 5672), "127.0.0.1", port
        )
        try:

            async def ready() -> bool:
                return (await client.get("/health/ready")).status_code == 200

            await eventually(ready, within=30)
        finally:
            proxy.close()


async def test_the_api_role_is_ready_without_rabbitmq_and_the_worker_role_is_not(
    database_factory: Callable[[str], str], rabbitmq_url: str
):
    database_url = database_factory("probe")
    await ensure_database(database_url)
    nowhere = rabbitmq_url.replace(urlsplit(rabbitmq_url).netloc.split("@")[-1], f"127.0.0.1:{free_port()}")
    answers = {}
    for role in ("api", "worker"):
        _, client, app = probe_app(database_url, nowhere, role)
        async with app.router.lifespan_context(app), client:
            answers[role] = await client.get("/health/ready")
    # What the API publishes waits in its outbox: a broker outage leaves it in its Service.
    assert answers["api"].status_code == 200
    assert answers["api"].json() == {"status": "ready", "checks": {"database": "up"}}
    assert answers["worker"].status_code == 503
    assert answers["worker"].json()["checks"] == {"database": "up", "rabbitmq": "down"}
