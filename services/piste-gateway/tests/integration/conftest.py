from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from chorus_testing.fixtures import serving
from piste_gateway.__main__ import cli
from piste_gateway.app import build_app
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
    )
    app = build_app(settings)
    async with serving(cli, app) as client:
        yield RunningGateway(app, client)
