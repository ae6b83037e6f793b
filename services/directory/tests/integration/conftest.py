import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aio_pika
import httpx
import pytest
from fastapi import FastAPI

from chorus_common.runtime import ServiceRuntime
from chorus_testing.fixtures import serving, take
from directory.__main__ import cli
from directory.app import build_app
from directory.settings import DirectorySettings


@dataclass
class RunningDirectory:
    app: FastAPI
    client: httpx.AsyncClient
    settings: DirectorySettings

    @property
    def runtime(self) -> ServiceRuntime:
        runtime: ServiceRuntime = self.app.state.runtime
        return runtime


async def about(
    queue: aio_pika.abc.AbstractQueue, subject: str, expected: int = 1, within: float = 15.0
) -> list[dict[str, Any]]:
    """The events about `subject` a tap receives. A tap may also receive other tests' events late: the
    relay publishes again, after a delay, an event no queue was bound for when it was first sent."""
    found: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while len(found) < expected and loop.time() < deadline:
        for message in await take(queue, 1, within=max(0.1, deadline - loop.time())):
            event = json.loads(message.body)
            if event.get("subject") == subject:
                found.append(event)
    return found


@pytest.fixture(scope="module")
async def directory(
    database_factory: Callable[[str], str], rabbitmq_url: str
) -> AsyncIterator[RunningDirectory]:
    settings = DirectorySettings(database_url=database_factory("directory"), rabbitmq_url=rabbitmq_url)
    app = build_app(settings)
    async with serving(cli, app) as client:
        yield RunningDirectory(app, client, settings)
