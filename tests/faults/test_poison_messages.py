"""Malformed messages mixed into a valid stream: each dead-lettered with its reason, the rest processed."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

from chorus_common.messaging.topology import DEAD_LETTER_REASON_HEADER, dead_letter_queue_name
from chorus_testing.events import engagement_validated
from chorus_testing.fixtures import BusProbe
from chorus_testing.platform import Platform

from .conftest import decisions_for, query, report, wait_for

VALID = 10_000
MALFORMED = 1_000
# Every service subscribed to engagement-validated receives each message.
SUBSCRIBERS = ("engagements", "notifications")


def malformed(kind: int) -> bytes:
    """Ten kinds of broken message, as a faulty producer could send them."""
    event: dict[str, Any] = engagement_validated()
    if kind == 0:
        return b"this is not JSON"
    if kind == 1:
        return b"\xff\xfe\x00\x81 not UTF-8"
    if kind == 2:
        return b"[1, 2, 3]"
    if kind == 3:
        return b"{}"
    if kind == 4:
        event["specversion"] = "0.3"
    elif kind == 5:
        del event["id"]
    elif kind == 6:
        event["data"]["total_ttc"] = "mille euros"
    elif kind == 7:
        del event["data"]["supplier"]
    elif kind == 8:
        event["data"]["supplier"]["email"] = "not-an-address"
    else:
        event["time"] = "yesterday"
    return json.dumps(event).encode()


async def test_1000_malformed_among_10000_valid_are_dead_lettered_and_the_rest_processed(
    faulty_platform: Platform, bus: BusProbe
):
    platform = faulty_platform
    pids = {service: platform.pid(service) for service in SUBSCRIBERS}
    # Whatever earlier fault tests dead-lettered (nothing, if they lost nothing) is not counted here.
    earlier = {s: len(await bus.drain(dead_letter_queue_name(s), 1_000_000, within=1)) for s in SUBSCRIBERS}
    valid = [engagement_validated() for _ in range(VALID)]
    messages: list[tuple[str, bytes | dict[str, Any]]] = [("engagement-validated", event) for event in valid]
    messages += [("engagement-validated", malformed(n % 10)) for n in range(MALFORMED)]
    random.Random(7).shuffle(messages)
    await bus.publish_many(messages)
    valid_ids = [event["id"] for event in valid]

    async def all_decided() -> list:
        found = await decisions_for(platform, valid_ids)
        return found if len(found) >= VALID else []

    async def all_recorded() -> list:
        found = await query(
            platform,
            "engagements",
            "SELECT count(*) AS n FROM inbox WHERE event_id = ANY($1::text[])",
            valid_ids,
        )
        return found if found[0]["n"] >= VALID else []

    decided = await wait_for(all_decided, within=600, what=f"{VALID} decisions")
    # Each subscriber drains its own queue at its own pace.
    recorded = await wait_for(all_recorded, within=600, what=f"{VALID} events recorded by engagements")
    dead: dict[str, list] = {}
    for service in SUBSCRIBERS:
        dead[service] = await bus.drain(dead_letter_queue_name(service), MALFORMED, within=120)
    reasons = {
        service: Counter(
            str(letter.headers.get(DEAD_LETTER_REASON_HEADER, "")).split(":")[0] for letter in letters
        )
        for service, letters in dead.items()
    }
    report(
        "1,000 malformed among 10,000 valid engagement-validated messages",
        notifications_decisions=len(decided),
        engagements_recorded=recorded[0]["n"],
        dead_lettered={service: len(letters) for service, letters in dead.items()},
        reasons=dict(reasons["notifications"]),
        dead_letters_before_this_test=earlier,
        consumer_restarts=sum(platform.pid(s) != pid for s, pid in pids.items()),
    )
    assert Counter(row["event_id"] for row in decided) == Counter(valid_ids)
    assert recorded[0]["n"] == VALID
    for service, letters in dead.items():
        assert len(letters) == MALFORMED, service
        assert all(letter.headers.get(DEAD_LETTER_REASON_HEADER) for letter in letters), service
    assert {service: platform.pid(service) for service in SUBSCRIBERS} == pids, "no consumer restarted"
