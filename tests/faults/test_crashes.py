"""Processes killed with SIGKILL mid-stream: nothing lost, and no more repeated mails per kill than the
batches notifications had in flight (their decisions not yet committed)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter

from chorus_testing.fixtures import BusProbe
from chorus_testing.platform import Platform
from notifications.settings import NotificationsSettings

from .conftest import decisions_for, message_ids_in_catcher, one_delegates_events, report, wait_for

EVENTS = 5_000
KILLS = 5
# The most mails accepted by the relay but not yet recorded SENT at any moment (one per SMTP session),
# with notifications' default settings: what a kill may repeat.
IN_FLIGHT = NotificationsSettings().mails_a_crash_can_repeat


async def test_notifications_killed_five_times_during_5000_events_decides_each_once(
    faulty_platform: Platform, bus: BusProbe
):
    platform = faulty_platform
    # One delegate of the directory, with one user, for every event (each its own invoice).
    events = await one_delegates_events(platform, EVENTS)
    event_ids = [event["id"] for event in events]
    publishing = asyncio.create_task(bus.publish_many([("delegation-routed", event) for event in events]))

    kills = 0
    # Kill at evenly spaced points of the stream, each time once the restarted process has made progress.
    for kill in range(KILLS):
        threshold = (kill + 1) * EVENTS // (KILLS + 2)

        async def reached(threshold: int = threshold) -> bool:
            return len(await decisions_for(platform, event_ids)) >= threshold

        await wait_for(reached, within=240, interval=0.2, what=f"{threshold} decisions")
        os.kill(platform.pid("notifications"), signal.SIGKILL)
        kills += 1
        killed = platform.pid("notifications")

        async def restarted(killed: int = killed) -> bool:
            return platform.pid("notifications") != killed

        await wait_for(restarted, within=30, interval=0.1, what="the launcher restarting notifications")
    await publishing

    started = time.monotonic()

    async def all_decided() -> list:
        """Every event decided, and no mail left to send (a leased one comes back when its lease ends)."""
        found = await decisions_for(platform, event_ids)
        settled = len(found) >= EVENTS and all(row["status"] != "PENDING" for row in found)
        return found if settled else []

    decided = await wait_for(all_decided, within=300, what=f"{EVENTS} decisions")
    await asyncio.sleep(2)  # any late duplicate would show now
    decided = await decisions_for(platform, event_ids)

    per_event = Counter(row["event_id"] for row in decided)
    statuses = Counter(row["status"] for row in decided)
    sent_ids = {row["message_id"] for row in decided if row["status"] == "SENT"}
    mails = Counter(mid for mid in message_ids_in_catcher(platform) if mid in sent_ids)
    duplicates = sum(mails.values()) - len(mails)
    report(
        "notifications SIGKILLed during a stream",
        events=EVENTS,
        kills=kills,
        decisions=len(decided),
        sent=statuses["SENT"],
        failed=statuses["FAILED"],
        mails_caught=sum(mails.values()),
        distinct_mails=len(mails),
        duplicate_mails=duplicates,
        drain_seconds=round(time.monotonic() - started, 1),
    )
    assert set(per_event) == set(event_ids) and set(per_event.values()) == {1}, "one decision per event"
    assert statuses["SENT"] == EVENTS
    assert len(mails) == statuses["SENT"], "every SENT decision's mail reached the catcher"
    assert duplicates <= kills * IN_FLIGHT
