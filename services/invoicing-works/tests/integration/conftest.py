from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chorus_common.clock import FixedClock
from chorus_common.runtime import ServiceRuntime
from chorus_testing.fixtures import serving
from invoicing_works.__main__ import cli
from invoicing_works.app import build_app
from invoicing_works.settings import InvoicingWorksSettings

# Made available on Monday 2 November 2026, 10:00 in Paris: the MOE's deadline is 9 November.
DEPOSIT_INSTANT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass
class RunningInvoicingWorks:
    app: FastAPI
    client: httpx.AsyncClient
    clock: FixedClock

    @property
    def runtime(self) -> ServiceRuntime:
        runtime: ServiceRuntime = self.app.state.runtime
        return runtime

    async def deposit(self, headers: dict[str, str], body: dict[str, Any]) -> httpx.Response:
        return await self.client.post("/works-invoices", json=body, headers=headers)

    async def act(
        self, headers: dict[str, str], invoice_id: str, action: str, **extra: Any
    ) -> httpx.Response:
        return await self.client.post(
            f"/works-invoices/{invoice_id}/actions", json={"action": action, **extra}, headers=headers
        )


@pytest.fixture(scope="module")
async def invoicing_works(
    database_factory: Callable[[str], str], rabbitmq_url: str
) -> AsyncIterator[RunningInvoicingWorks]:
    settings = InvoicingWorksSettings(
        database_url=database_factory("invoicing_works"),
        rabbitmq_url=rabbitmq_url,
        deadline_sweep_interval_seconds=0,
        outbox_poll_interval_seconds=0.2,
    )
    clock = FixedClock(DEPOSIT_INSTANT)
    app = build_app(settings, clock)
    async with serving(cli, app) as client:
        yield RunningInvoicingWorks(app, client, clock)
