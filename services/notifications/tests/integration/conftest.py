from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chorus_common.auth import mint_dev_token
from chorus_testing.directory import parties_known
from chorus_testing.fixtures import SmtpCatcher, eventually, serving, write_flags
from notifications.__main__ import cli
from notifications.app import build_app
from notifications.settings import NotificationsSettings


@dataclass
class RunningNotifications:
    app: FastAPI
    client: httpx.AsyncClient
    flags_path: Path
    smtp: SmtpCatcher

    async def know(self, *events: dict[str, Any]) -> None:
        """The read model of the directory knows the events' parties: mail to each goes to its
        principal manager, at the address the event gives for it."""
        for event in events:
            await parties_known(self.app.state.runtime.engine, event)

    def admin_headers(self) -> dict[str, str]:
        return {"authorization": "Bearer " + mint_dev_token("operator", [], ["admin"])}

    async def decisions(self, **filters: str) -> list[dict[str, object]]:
        response = await self.client.get(
            "/notifications", params={**filters, "page_size": 200}, headers=self.admin_headers()
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, object]] = response.json()["items"]
        return items

    async def wait_decisions(
        self, event_id: str, count: int, settled: bool = True
    ) -> list[dict[str, object]]:
        """The event's decisions once there are `count`, and (`settled`) none of them PENDING."""

        async def enough() -> list[dict[str, object]] | None:
            found = await self.decisions(event_id=event_id)
            if settled and any(d["status"] == "PENDING" for d in found):
                return None
            return found if len(found) >= count else None

        found: list[dict[str, object]] = await eventually(enough)
        return found


@pytest.fixture(scope="module")
async def notifications(
    tmp_path_factory: pytest.TempPathFactory,
    database_factory: Callable[[str], str],
    rabbitmq_url: str,
    smtp_catcher: SmtpCatcher,
) -> AsyncIterator[RunningNotifications]:
    flags_path = tmp_path_factory.mktemp("flags") / "flags.json"
    write_flags(flags_path, {})
    settings = NotificationsSettings(
        database_url=database_factory("notifications"),
        rabbitmq_url=rabbitmq_url,
        smtp_port=smtp_catcher.port,
        mail_retry_base_delay_seconds=0.05,
        mail_retry_max_delay_seconds=0.2,
        mail_poll_interval_seconds=0.1,
        flagd_offline_flag_source_path=str(flags_path),
        flagd_offline_poll_ms=100,
        directory_wait_seconds=3,
        directory_retry_interval_seconds=0.2,
    )
    app = build_app(settings)
    async with serving(cli, app) as client:
        yield RunningNotifications(app, client, flags_path, smtp_catcher)
