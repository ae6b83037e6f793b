import base64
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from chorus_common.passwords import hash_password
from chorus_testing.auth import bearer
from chorus_testing.directory import service_snapshot, structure_snapshot
from chorus_testing.events import cloud_event
from chorus_testing.fixtures import BusProbe, eventually, serving
from chorus_testing.identifiers import new_siret
from piste_gateway.__main__ import cli
from piste_gateway.app import build_app
from piste_gateway.db import replica, technical_accounts
from piste_gateway.settings import PisteGatewaySettings


@dataclass
class RunningGateway:
    app: FastAPI
    client: httpx.AsyncClient


@pytest.fixture(scope="module")
async def gateway(database_factory: Callable[[str], str], rabbitmq_url: str) -> AsyncIterator[RunningGateway]:
    settings = PisteGatewaySettings(
        database_url=database_factory("piste_gateway"),
        rabbitmq_url=rabbitmq_url,
        outbox_poll_interval_seconds=0.2,
        token_ttl_seconds=600,
        flow_poll_interval_seconds=0.2,
        max_flow_bytes=300_000,
    )
    app = build_app(settings)
    async with serving(cli, app) as client:
        yield RunningGateway(app, client)


ADMIN = bearer("operator", roles=["admin"])


def structure_event(kind: str, name: str) -> dict[str, Any]:
    snapshot = structure_snapshot(new_siret(), kind=kind, name=name).model_dump(mode="json")
    snapshot["cpp_id"] = random.randint(10**7, 10**9)
    return cloud_event("structure-registered", snapshot, source="/services/directory")


def account_event(
    structure_id: str, login: str, password: str, version: int = 1, active: bool = True
) -> dict:
    data = {
        "login": login,
        "structure_id": structure_id,
        "password_hash": hash_password(password),
        "active": active,
        "version": version,
        "updated_at": datetime.now(UTC).isoformat(),
    }
    return cloud_event("technical-account-updated", data, source="/services/directory")


class World:
    """A ministry with a service, two companies each with a technical account, and an application
    connected to the first company."""

    def __init__(self, ministry: dict, company: dict, other: dict) -> None:
        self.ministry, self.company, self.other = ministry["data"], company["data"], other["data"]
        self.login, self.password = f"TECH_{self.company['cpp_id']}_A", "mot-de-passe-de-test-1"
        self.other_login, self.other_password = f"TECH_{self.other['cpp_id']}_B", "mot-de-passe-de-test-2"
        self.client_id = self.client_secret = ""

    def account(self, login: str | None = None, password: str | None = None) -> str:
        return base64.b64encode(f"{login or self.login}:{password or self.password}".encode()).decode()


@pytest.fixture(scope="module")
async def world(gateway: RunningGateway, bus: BusProbe) -> World:
    ministry, company, other = (
        structure_event("PUBLIQUE", "Ministère de la Culture"),
        structure_event("PRIVEE", "BTP SA"),
        structure_event("PRIVEE", "Autre SARL"),
    )
    built = World(ministry, company, other)
    service = service_snapshot(built.ministry["structure_id"], "SERV-ACHATS").model_dump(mode="json")
    events = [
        ("structure-registered", ministry),
        ("structure-registered", company),
        ("structure-registered", other),
        ("service-updated", cloud_event("service-updated", service, source="/services/directory")),
        (
            "technical-account-updated",
            account_event(built.company["structure_id"], built.login, built.password),
        ),
        (
            "technical-account-updated",
            account_event(built.other["structure_id"], built.other_login, built.other_password),
        ),
    ]
    await bus.publish_many(events, as_="directory")

    async def known() -> bool:
        async with gateway.app.state.runtime.engine.connect() as conn:
            accounts = await conn.scalar(
                sa.select(sa.func.count()).where(
                    technical_accounts.c.login.in_([built.login, built.other_login])
                )
            )
            services = await conn.scalar(
                sa.select(sa.func.count()).where(
                    replica.services.c.structure_id == built.ministry["structure_id"]
                )
            )
        return accounts == 2 and services == 1

    await eventually(known, within=15)
    registered = await gateway.client.post(
        "/admin/clients",
        json={"name": "ERP de BTP SA", "structure_id": built.company["structure_id"]},
        headers=ADMIN,
    )
    assert registered.status_code == 201, registered.text
    built.client_id, built.client_secret = registered.json()["client_id"], registered.json()["client_secret"]
    return built


async def token(client: httpx.AsyncClient, world: World) -> str:
    answer = await client.post(
        "/api/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": world.client_id,
            "client_secret": world.client_secret,
            "scope": "openid",
        },
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


async def call(
    gateway: RunningGateway, world: World, path: str, body: Any = None, **headers: str
) -> httpx.Response:
    sent = {
        "authorization": "Bearer " + await token(gateway.client, world),
        "cpro-account": world.account(),
        **{key.replace("_", "-"): value for key, value in headers.items()},
    }
    return await gateway.client.post(path, json=body if body is not None else {}, headers=sent)
