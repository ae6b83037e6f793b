from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chorus_common.clock import FixedClock
from chorus_testing.fixtures import serving
from support_portal.__main__ import cli
from support_portal.app import build_app
from support_portal.settings import SupportPortalSettings

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@dataclass
class RunningSupportPortal:
    app: FastAPI
    client: httpx.AsyncClient
    clock: FixedClock

    async def act(
        self, headers: dict[str, str], ticket_id: str, action: str, message: str | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {"action": action}
        if message is not None:
            body["message"] = message
        return await self.client.post(f"/tickets/{ticket_id}/actions", json=body, headers=headers)


@pytest.fixture(scope="module")
async def service(
    database_factory: Callable[[str], str], rabbitmq_url: str
) -> AsyncIterator[RunningSupportPortal]:
    settings = SupportPortalSettings(
        database_url=database_factory("support_portal"),
        rabbitmq_url=rabbitmq_url,
        signed_out_limit_per_hour=3,
        outbox_poll_interval_seconds=0.2,
        public_base_url="https://support.example",
    )
    clock = FixedClock(NOW)
    app = build_app(settings, clock)
    async with serving(cli, app) as client:
        yield RunningSupportPortal(app, client, clock)
