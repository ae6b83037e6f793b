"""PostgreSQL restarted under load: services say they are not ready, recover alone, and lose no event."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx

from chorus_testing.directory import in_directory
from chorus_testing.events import delegation_routed
from chorus_testing.fixtures import BusProbe
from chorus_testing.platform import SERVICES, Platform

from .conftest import EngagementClient, decisions_for, decisions_to, postgres_cluster, report, wait_for

DOWN_SECONDS = 5


async def watch_readiness(
    http: httpx.AsyncClient, platform: Platform, stop: asyncio.Event
) -> dict[str, Counter[int]]:
    seen: dict[str, Counter[int]] = {service: Counter() for service in SERVICES}
    while not stop.is_set():
        for service in SERVICES:
            try:
                response = await http.get(platform.url(service) + "/health/ready", timeout=2)
                seen[service][response.status_code] += 1
            except httpx.HTTPError:
                seen[service][0] += 1
        await asyncio.sleep(0.2)
    return seen


async def test_postgresql_restarted_under_load_services_recover_alone_and_lose_nothing(
    faulty_platform: Platform, http: httpx.AsyncClient, bus: BusProbe
):
    platform = faulty_platform
    pids = {service: platform.pid(service) for service in SERVICES}
    client = await EngagementClient.for_a_new_ministry(http, platform)
    known = await in_directory(http, platform, delegation_routed())  # parties of the directory
    stop = asyncio.Event()
    watching = asyncio.create_task(watch_readiness(http, platform, stop))
    validating = asyncio.create_task(client.keep_validating(stop, pause=0.05))
    published: list[str] = []

    async def publish_events() -> None:
        while not stop.is_set():
            batch = [delegation_routed() for _ in range(20)]
            for event in batch:
                event["data"] = {**known["data"], "invoice_id": event["data"]["invoice_id"]}
            await bus.publish_many([("delegation-routed", event) for event in batch])
            published.extend(event["id"] for event in batch)
            await asyncio.sleep(0.5)

    publishing = asyncio.create_task(publish_events())
    await asyncio.sleep(3)
    postgres_cluster("stop")
    stopped = time.monotonic()
    await asyncio.sleep(DOWN_SECONDS)
    postgres_cluster("start")

    async def all_ready() -> bool:
        for service in SERVICES:
            response = await http.get(platform.url(service) + "/health/ready")
            if response.status_code != 200:
                return False
        return True

    await wait_for(all_ready, within=90, interval=0.5, what="every service ready again")
    recovered = time.monotonic() - stopped
    await asyncio.sleep(3)  # some load after the recovery too
    stop.set()
    readiness, results = await watching, await validating
    await publishing

    statuses = Counter(status for status, _ in results)
    accepted = [email for status, email in results if status == 200]

    async def everything_decided() -> bool:
        return len(await decisions_for(platform, published)) >= len(published) and len(
            await decisions_to(platform, accepted)
        ) >= len(accepted)

    await wait_for(everything_decided, within=120, what="every event decided")
    bus_decisions = Counter(row["event_id"] for row in await decisions_for(platform, published))
    # One decision per accepted validation, each of its own event (they all mail the same user).
    api_decisions = Counter(row["event_id"] for row in await decisions_to(platform, accepted))
    report(
        "PostgreSQL stopped for 5 s under load",
        http_answers=dict(statuses),
        readiness_answers={service: dict(seen) for service, seen in readiness.items()},
        seconds_until_all_ready=round(recovered, 1),
        events_published_to_the_bus=len(published),
        bus_events_decided=len(bus_decisions),
        api_events_decided=len(api_decisions),
        services_restarted=sum(platform.pid(s) != pid for s, pid in pids.items()),
    )
    assert all(seen[503] > 0 for seen in readiness.values()), "each service reported not-ready"
    assert set(statuses) <= {200, 503}, "a request during the outage is refused with 503, never a 500"
    assert statuses[200] > 0
    assert set(bus_decisions) == set(published) and set(bus_decisions.values()) == {1}
    assert len(api_decisions) == len(accepted) and set(api_decisions.values()) == {1}
    assert {service: platform.pid(service) for service in SERVICES} == pids, "recovered without restarts"
