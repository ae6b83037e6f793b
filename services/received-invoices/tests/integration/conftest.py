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
from received_invoices.__main__ import cli
from received_invoices.app import build_app
from received_invoices.settings import ReceivedInvoicesSettings

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass
class RunningReceivedInvoices:
    app: FastAPI
    client: httpx.AsyncClient
    clock: FixedClock

    @property
    def runtime(self) -> ServiceRuntime:
        runtime: ServiceRuntime = self.app.state.runtime
        return runtime

    async def process(
        self, headers: dict[str, str], invoice_id: str, status: str, **extra: Any
    ) -> httpx.Response:
        """The recipient's (or its delegate's) processing of the invoice, to `status`."""
        return await self.client.post(
            f"/invoices/{invoice_id}/processing", json={"status": status, **extra}, headers=headers
        )


@pytest.fixture(scope="module")
async def service(
    database_factory: Callable[[str], str], rabbitmq_url: str
) -> AsyncIterator[RunningReceivedInvoices]:
    settings = ReceivedInvoicesSettings(
        database_url=database_factory("received_invoices"),
        rabbitmq_url=rabbitmq_url,
        outbox_poll_interval_seconds=0.2,
        attachment_max_bytes=64 * 1024,
    )
    clock = FixedClock(NOW)
    app = build_app(settings, clock)
    async with serving(cli, app) as client:
        yield RunningReceivedInvoices(app, client, clock)
