"""Mail delivery through a relay that goes away, answers 4xx or 5xx, a process killed while mails wait, a
NUL among valid events, the flag file gone: every mail is delivered once, or FAILED with the reply.

The relay is the fault suite's own (`ControlledRelay`); the platform retries on a short schedule
(1 s doubling to 8 s) so that an outage of minutes drains in seconds after it ends.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections import Counter
from typing import Any

import httpx

from chorus_common.messaging.topology import DEAD_LETTER_REASON_HEADER, dead_letter_queue_name
from chorus_testing.directory import in_directory
from chorus_testing.events import delegation_routed
from chorus_testing.fixtures import BusProbe
from chorus_testing.platform import Platform
from chorus_testing.relay import ControlledRelay

from .conftest import decisions_for, message_ids_in_catcher, one_delegates_events, query, report, wait_for


async def settled(platform: Platform, event_ids: list[str], within: float) -> list[Any]:
    """The decisions on these events once each is decided and none is left PENDING."""

    async def done() -> list[Any]:
        found = await decisions_for(platform, event_ids)
        return found if len(found) >= len(event_ids) and all(r["status"] != "PENDING" for r in found) else []

    await wait_for(done, within=within, what=f"{len(event_ids)} decisions settled")
    await asyncio.sleep(2)  # a late duplicate would show now
    return await decisions_for(platform, event_ids)


def mails_of(platform: Platform, decided: list[Any]) -> Counter[str]:
    """How many times the relay took each SENT decision's mail (by Message-ID)."""
    sent = {row["message_id"] for row in decided if row["status"] == "SENT"}
    return Counter(mid for mid in message_ids_in_catcher(platform) if mid in sent)


async def mail_metrics(platform: Platform) -> dict[str, float]:
    """notifications' delivery gauges, as a platform team's dashboard reads them."""
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(platform.url("notifications") + "/metrics")).text
    found = {}
    for line in text.splitlines():
        if line.startswith("chorus_notification_mails{"):
            found[line.split('state="', 1)[1].split('"', 1)[0]] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("chorus_notification_oldest_pending_seconds "):
            found["oldest_pending_seconds"] = float(line.rsplit(" ", 1)[1])
    return found


async def test_the_relay_stopped_for_two_minutes_while_2000_events_arrive_delays_every_mail_and_loses_none(
    faulty_platform: Platform, bus: BusProbe, relay: ControlledRelay
):
    platform = faulty_platform
    events = await one_delegates_events(platform, 2_000)
    event_ids = [event["id"] for event in events]
    relay.stop()
    stopped = time.monotonic()
    try:
        # The events arrive during the outage, a quarter every 30 seconds.
        for quarter in range(4):
            chunk = events[quarter * 500 : (quarter + 1) * 500]
            await bus.publish_many([("delegation-routed", event) for event in chunk])
            await asyncio.sleep(max(0.0, stopped + 30 * (quarter + 1) - time.monotonic()))
        during = await decisions_for(platform, event_ids)
        metrics = await mail_metrics(platform)
    finally:
        relay.start()
    outage = time.monotonic() - stopped
    decided = await settled(platform, event_ids, within=300)
    mails = mails_of(platform, decided)
    statuses = Counter(row["status"] for row in decided)
    report(
        "the SMTP relay stopped for two minutes while 2,000 events arrive",
        outage_seconds=round(outage),
        decided_during_outage=len(during),
        sent_during_outage=sum(row["status"] == "SENT" for row in during),
        metrics_at_the_end_of_the_outage=metrics,
        drain_seconds=round(time.monotonic() - stopped - outage, 1),
        sent=statuses["SENT"],
        failed=statuses["FAILED"],
        distinct_mails=len(mails),
        duplicate_mails=sum(mails.values()) - len(mails),
    )
    assert outage >= 120
    assert len(during) == 2_000 and not any(row["status"] == "SENT" for row in during), "all waited"
    assert metrics["deferred"] > 0 and metrics["oldest_pending_seconds"] > 60, "the queue shows"
    assert statuses == Counter({"SENT": 2_000}), "none FAILED"
    assert len(mails) == 2_000 and set(mails.values()) == {1}, "every mail delivered exactly once"


async def test_a_relay_answering_451_for_a_minute_delays_mail_and_550_fails_only_that_recipient(
    faulty_platform: Platform, bus: BusProbe, relay: ControlledRelay
):
    platform = faulty_platform
    events = await one_delegates_events(platform, 500)
    async with httpx.AsyncClient(timeout=30) as http:
        unknown = await in_directory(http, platform, delegation_routed())
    refused_email = unknown["data"]["delegate"]["email"]
    event_ids = [event["id"] for event in [*events, unknown]]
    relay.refuse([refused_email])
    before = relay.answers
    relay.answer_temporarily(True)
    started = time.monotonic()
    try:
        await bus.publish_many([("delegation-routed", event) for event in [*events, unknown]])
        await asyncio.sleep(60)
        during = Counter(row["status"] for row in await decisions_for(platform, event_ids))
    finally:
        relay.answer_temporarily(False)
    decided = await settled(platform, event_ids, within=300)
    mails = mails_of(platform, decided)
    statuses = Counter(row["status"] for row in decided)
    after = relay.answers
    [failed] = await query(
        platform,
        "notifications",
        "SELECT recipient_email, reason FROM notification_decisions WHERE status = 'FAILED'"
        " AND event_id = ANY($1::text[])",
        event_ids,
    )
    report(
        "the relay answering 451 for a minute, then 250 (550 to one recipient)",
        answered_451=after["451"] - before["451"],
        statuses_after_the_minute=dict(during),
        drain_seconds=round(time.monotonic() - started - 60, 1),
        sent=statuses["SENT"],
        failed=statuses["FAILED"],
        distinct_mails=len(mails),
        duplicate_mails=sum(mails.values()) - len(mails),
        failed_reason=failed["reason"][-80:],
    )
    assert after["451"] - before["451"] >= 501, "every mail was tried during the minute, and put off"
    assert during == Counter({"PENDING": 501}), "a 4xx fails nothing"
    assert statuses == Counter({"SENT": 500, "FAILED": 1})
    assert failed["recipient_email"] == refused_email and "550" in failed["reason"], "with the reply"
    assert len(mails) == 500 and set(mails.values()) == {1}
    relay.refuse([])


async def test_notifications_killed_while_mails_are_deferred_resumes_their_schedule_and_loses_none(
    faulty_platform: Platform, bus: BusProbe, relay: ControlledRelay
):
    platform = faulty_platform
    events = await one_delegates_events(platform, 300)
    event_ids = [event["id"] for event in events]
    relay.answer_temporarily(True)
    try:
        await bus.publish_many([("delegation-routed", event) for event in events])

        async def all_deferred() -> bool:
            rows = await query(
                platform,
                "notifications",
                "SELECT count(*) AS n FROM notification_decisions WHERE event_id = ANY($1::text[])"
                " AND status = 'PENDING' AND attempts > 0",
                event_ids,
            )
            return rows[0]["n"] == len(event_ids)

        await wait_for(all_deferred, within=120, interval=0.5, what="every mail deferred once")
        killed = platform.pid("notifications")
        os.kill(killed, signal.SIGKILL)

        async def restarted() -> bool:
            return platform.pid("notifications") != killed

        await wait_for(restarted, within=30, interval=0.1, what="the launcher restarting notifications")
        await asyncio.sleep(5)  # the restarted process takes the schedule up while the relay still says 451
    finally:
        relay.answer_temporarily(False)
    decided = await settled(platform, event_ids, within=180)
    mails = mails_of(platform, decided)
    statuses = Counter(row["status"] for row in decided)
    report(
        "notifications SIGKILLed while 300 mails are deferred",
        sent=statuses["SENT"],
        failed=statuses["FAILED"],
        distinct_mails=len(mails),
        duplicate_mails=sum(mails.values()) - len(mails),
    )
    assert statuses == Counter({"SENT": 300})
    assert len(mails) == 300 and set(mails.values()) == {1}, "no mail was accepted before the kill"


async def test_a_nul_in_a_name_among_500_valid_events_is_dead_lettered_unsent_and_repeats_no_mail(
    faulty_platform: Platform, bus: BusProbe
):
    platform = faulty_platform
    earlier = len(await bus.drain(dead_letter_queue_name("notifications"), 1_000_000, within=1))
    events = await one_delegates_events(platform, 501)
    poisoned = events[250]
    poisoned["data"] = {**poisoned["data"], "number": "F-\x00-250"}
    valid_ids = [event["id"] for event in events if event is not poisoned]
    await bus.publish_many([("delegation-routed", event) for event in events])
    decided = await settled(platform, valid_ids, within=180)
    [letter] = await bus.drain(dead_letter_queue_name("notifications"), 1, within=60)
    mails = mails_of(platform, decided)
    reason = str(letter.headers.get(DEAD_LETTER_REASON_HEADER, ""))
    report(
        "one event with a NUL among 500 valid ones",
        dead_lettered=1,
        reason=reason[:100],
        dead_letters_before_this_test=earlier,
        sent=sum(row["status"] == "SENT" for row in decided),
        distinct_mails=len(mails),
        duplicate_mails=sum(mails.values()) - len(mails),
    )
    assert json.loads(letter.body)["id"] == poisoned["id"] and "U+0000" in reason
    assert not await decisions_for(platform, [poisoned["id"]]), "the poisoned event was not mailed"
    assert len(mails) == 500 and set(mails.values()) == {1}, "its batch-mates were mailed once"


async def test_the_flag_file_removed_for_a_minute_defers_mails_which_go_when_it_is_back(
    faulty_platform: Platform, bus: BusProbe
):
    platform = faulty_platform
    events = await one_delegates_events(platform, 200)
    event_ids = [event["id"] for event in events]
    flags = platform.flags_path.read_text()
    platform.flags_path.unlink()
    removed = time.monotonic()
    try:
        await asyncio.sleep(3)  # the provider notices
        await bus.publish_many([("delegation-routed", event) for event in events])
        await asyncio.sleep(max(0.0, removed + 60 - time.monotonic()))
        during = await decisions_for(platform, event_ids)
    finally:
        platform.flags_path.write_text(flags)
    decided = await settled(platform, event_ids, within=300)
    mails = mails_of(platform, decided)
    statuses = Counter(row["status"] for row in decided)
    report(
        "the flag file removed for a minute",
        sent_while_removed=sum(row["status"] == "SENT" for row in during),
        suppressed_while_removed=sum(row["status"] == "SUPPRESSED" for row in during),
        drain_seconds=round(time.monotonic() - removed - 60, 1),
        sent=statuses["SENT"],
        other=dict(statuses - Counter({"SENT": statuses["SENT"]})),
        distinct_mails=len(mails),
        duplicate_mails=sum(mails.values()) - len(mails),
    )
    assert not any(row["status"] in ("SENT", "SUPPRESSED") for row in during), "nothing decided blind"
    assert statuses == Counter({"SENT": 200})
    assert len(mails) == 200 and set(mails.values()) == {1}
