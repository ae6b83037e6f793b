from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chorus_testing.directory import public_structure, user
from chorus_testing.fixtures import serving
from engagements.__main__ import cli
from engagements.app import build_app
from engagements.settings import EngagementsSettings


@dataclass
class RunningEngagements:
    app: FastAPI
    client: httpx.AsyncClient

    async def create(self, headers: dict[str, str], body: dict[str, Any]) -> httpx.Response:
        return await self.client.post("/engagements", json=body, headers=headers)

    async def act(
        self, headers: dict[str, str], engagement_id: str, action: str, reason: str | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {"action": action}
        if reason is not None:
            body["reason"] = reason
        return await self.client.post(f"/engagements/{engagement_id}/actions", json=body, headers=headers)

    async def user(self, sub: str, *structures: str, roles: list[str] | None = None) -> dict[str, str]:
        """Bearer headers of `sub`, a user the directory attaches to `structures`."""
        return await user(self.app.state.runtime.engine, sub, *structures, roles=roles or ())

    async def public_issuer(self, category: str = "ETAT") -> str:
        """A new public structure, as the directory has made it known to this service."""
        return await public_structure(self.app.state.runtime.engine, category)


@pytest.fixture(scope="module")
async def engagements(
    database_factory: Callable[[str], str], rabbitmq_url: str
) -> AsyncIterator[RunningEngagements]:
    settings = EngagementsSettings(database_url=database_factory("engagements"), rabbitmq_url=rabbitmq_url)
    app = build_app(settings)
    async with serving(cli, app) as client:
        yield RunningEngagements(app, client)
