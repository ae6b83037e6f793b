"""RabbitMQ unavailable, or the network to it cut: producers keep answering, nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx

from chorus_testing.platform import SERVICES, Platform
from chorus_testing.proxy import TcpProxy

from .conftest import (
    EngagementClient,
    decisions_to,
    message_ids_in_catcher,
    rabbitmqctl,
    report,
    wait_for,
)


async def all_decided(platform: Platform, emails: list[str], within: float) -> list:
    async def decided() -> list:
        found = await decisions_to(platform, emails)
        return found if len(found) >= len(emails) else []

    return await wait_for(decided, within=within, what=f"{len(emails)} decisions")


async def test_rabbitmq_stopped_for_20_seconds_the_outbox_absorbs_and_delivers_everything_after(
    faulty_platform: Platform, http: httpx.AsyncClient
):
    platform = faulty_platform
    pids = {service: platform.pid(service) for service in SERVICES}
    client = await EngagementClient.for_a_new_ministry(http, platform)
    # Beside the launched process (role `all`), a process of the `api` role on the same database, as
    # an API Deployment runs it: it needs no broker, so it stays ready and keeps accepting.
    with platform.another_process("engagements", "api") as api_only:
        through_api = EngagementClient(http, platform, client.issuer, client.supplier)
        through_api.url = api_only + "/engagements"
        stop = asyncio.Event()
        rabbitmqctl("stop_app")
        try:
            validating = asyncio.create_task(client.keep_validating(stop))
            validating_api = asyncio.create_task(through_api.keep_validating(stop))
            await asyncio.sleep(20)
            ready = await http.get(platform.url("engagements") + "/health/ready")
            api_ready = await http.get(api_only + "/health/ready")
            stop.set()
            results = await validating
            api_results = await validating_api
        finally:
            rabbitmqctl("start_app")
        results += api_results
    restored = time.monotonic()
    statuses = Counter(status for status, _ in results)
    emails = [email for status, email in results if status == 200]
    decided = await all_decided(platform, emails, within=120)
    report(
        "RabbitMQ stopped for 20 s",
        validations_requested=len(results),
        answered_200=statuses[200],
        other_answers=sum(statuses.values()) - statuses[200],
        readiness_during_outage=ready.status_code,
        api_role_readiness_during_outage=api_ready.status_code,
        validations_through_the_api_role=sum(status == 200 for status, _ in api_results),
        events_decided_after_restart=len(decided),
        seconds_to_deliver_all=round(time.monotonic() - restored, 1),
        services_restarted=sum(platform.pid(s) != pid for s, pid in pids.items()),
    )
    assert statuses and set(statuses) == {200}, statuses
    assert ready.status_code == 503, "the `all` role is not ready while the bus is away"
    assert api_ready.status_code == 200, api_ready.text
    assert api_ready.json()["checks"] == {"database": "up"}
    assert any(status == 200 for status, _ in api_results), "the api role kept accepting"
    assert len(decided) == len(emails) and len({row["event_id"] for row in decided}) == len(emails)
    assert {service: platform.pid(service) for service in SERVICES} == pids, "no service restarted"


async def test_the_network_to_rabbitmq_cut_while_publishing_loses_and_doubles_nothing(
    faulty_platform: Platform, http: httpx.AsyncClient, rabbitmq_proxy: TcpProxy
):
    platform = faulty_platform
    platform.set_flags(notify_engagement_validated=True)  # each event then has a visible effect: a mail
    try:
        client = await EngagementClient.for_a_new_ministry(http, platform)
        stop = asyncio.Event()
        validating = asyncio.create_task(client.keep_validating(stop))
        cut = 0
        for _ in range(3):
            await asyncio.sleep(4)
            cut += rabbitmq_proxy.cut()
            rabbitmq_proxy.refuse(True)
            await asyncio.sleep(3)
            rabbitmq_proxy.refuse(False)
        await asyncio.sleep(2)
        stop.set()
        results = await validating
        emails = [email for status, email in results if status == 200]
        decided = await all_decided(platform, emails, within=120)
        await asyncio.sleep(3)  # a duplicate delivery would be decided by now
        decided = await decisions_to(platform, emails)
    finally:
        platform.set_flags()
    sent_ids = {row["message_id"] for row in decided if row["status"] == "SENT"}
    mails = Counter(mid for mid in message_ids_in_catcher(platform) if mid in sent_ids)
    report(
        "network to RabbitMQ cut 3 times while publishing",
        connections_cut=cut,
        validations=len(results),
        answered_200=len(emails),
        decisions=len(decided),
        sent=len(sent_ids),
        mails_caught=sum(mails.values()),
    )
    assert len(emails) == len(results), "the API does not need the bus to answer"
    assert len({row["event_id"] for row in decided}) == len(decided) == len(emails), "one decision per event"
    assert len(sent_ids) == len(emails)
    assert set(mails.values()) == {1} and len(mails) == len(emails), "one mail per event, none doubled"
