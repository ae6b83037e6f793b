import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chorus_common.clock import FixedClock
from chorus_testing.directory import user
from chorus_testing.fixtures import serving
from support_portal.__main__ import cli
from support_portal.app import build_app
from support_portal.settings import SupportPortalSettings

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
DGFIP = "11000000000015"


@dataclass
class RunningSupportPortal:
    app: FastAPI
    client: httpx.AsyncClient
    clock: FixedClock

    async def user(self, sub: str, *structures: str, **attachment: Any) -> dict[str, str]:
        """Bearer headers of `sub`, a user the directory attaches to `structures`."""
        return await user(self.app.state.runtime.engine, sub, *structures, **attachment)

    async def act(
        self, headers: dict[str, str], ticket_id: str, action: str, message: str | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {"action": action}
        if message is not None:
            body["message"] = message
        return await self.client.post(f"/tickets/{ticket_id}/actions", json=body, headers=headers)


CONCERNED = {"kind": "STRUCTURE", "name": "La structure concernée"}
# Invoices and engagements go to the managers of the structure concerned; delegations to a business
# service of the DGFiP; accounts, and the rest, to the support team.
ROUTING = {
    "default": {"kind": "SUPPORT", "name": "Support Chorus Pro"},
    "routes": [
        {
            "category": "FACTURATION",
            "subcategory": "DELEGATION",
            "recipient": {
                "kind": "SERVICE",
                "name": "Cellule délégations (DGFiP)",
                "structure_id": DGFIP,
                "service_code": "DELEG",
            },
        },
        {
            "category": "FACTURATION",
            "subcategory": "*",
            "recipient": {"kind": "STRUCTURE", "name": "Concernée"},
        },
        {
            "category": "ENGAGEMENTS",
            "subcategory": "*",
            "recipient": {"kind": "STRUCTURE", "name": "Concernée"},
        },
    ],
}


@pytest.fixture(scope="module")
async def service(
    database_factory: Callable[[str], str], rabbitmq_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningSupportPortal]:
    routing = tmp_path_factory.mktemp("routing") / "routing.json"
    routing.write_text(json.dumps(ROUTING), encoding="utf-8")
    settings = SupportPortalSettings(
        database_url=database_factory("support_portal"),
        rabbitmq_url=rabbitmq_url,
        signed_out_limit_per_hour=3,
        captcha_cost=10,  # the real proof of work, made light: the tests solve hundreds
        captcha_max_counter=50,
        outbox_poll_interval_seconds=0.2,
        public_base_url="https://support.example",
        routing_table_path=routing,
    )
    clock = FixedClock(NOW)
    app = build_app(settings, clock)
    async with serving(cli, app) as client:
        yield RunningSupportPortal(app, client, clock)
