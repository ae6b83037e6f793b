"""The end-to-end harness: the real platform, started by the same launcher as `make run`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from chorus_testing.kubernetes import PLATFORM_ENVIRONMENT
from chorus_testing.platform import Platform, launched_platform
from chorus_testing.servers import TestServers


@pytest.fixture(scope="session")
def platform(
    servers: TestServers, rabbitmq_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    # Every process runs among the variables Kubernetes and a platform set for their own purposes
    # (service links of Services named smtp, flagd, http..., SERVICE_NAME, APP_ENV=prod): the whole
    # suite passing among them is the proof that they change nothing.
    run_dir = tmp_path_factory.mktemp("platform")
    with launched_platform(servers, rabbitmq_url, run_dir, extra_env=PLATFORM_ENVIRONMENT) as running:
        yield running


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client
