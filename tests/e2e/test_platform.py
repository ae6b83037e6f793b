"""DESIGN.md §5 scenarios on the whole platform: separate processes, real bus, database and SMTP."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections import Counter
from email.utils import parseaddr

import httpx

from chorus_common.auth import mint_dev_token
from chorus_common.messaging.topology import DEAD_LETTER_REASON_HEADER
from chorus_testing.directory import attached, in_directory, registered
from chorus_testing.events import deadline_exceeded, delegation_routed, engagement_validated
from chorus_testing.fixtures import BusProbe, eventually
from chorus_testing.platform import Platform, decisions, wait_for_decisions
from notifications.settings import NotificationsSettings


async def test_state_engagement_mails_are_suppressed_until_the_flag_is_switched_on(
    platform: Platform, http: httpx.AsyncClient, bus: BusProbe
):
    suppressed = await in_directory(http, platform, engagement_validated())
    await bus.publish("engagement-validated", suppressed)
    [decision] = await wait_for_decisions(http, platform, suppressed["id"], 1)
    assert decision["status"] == "SUPPRESSED"
    assert decision["flag_key"] == "notify-engagement-validated"
    await asyncio.sleep(1)
    assert platform.mails_to(suppressed["data"]["supplier"]["email"]) == []

    platform.set_flags(notify_engagement_validated=True)
    try:
        sent = await in_directory(http, platform, engagement_validated())
        await bus.publish("engagement-validated", sent)
        [decision] = await wait_for_decisions(http, platform, sent["id"], 1)
        assert decision["status"] == "SENT"
        [mail] = platform.mails_to(sent["data"]["supplier"]["email"])
        assert mail["Message-ID"] == decision["message_id"]
        assert sent["data"]["number"] in mail["Subject"]
    finally:
        platform.set_flags()


async def test_an_engagement_with_decimal_lines_mails_its_exact_total(
    platform: Platform, http: httpx.AsyncClient
):
    admin = {"authorization": "Bearer " + mint_dev_token("operator", [], ["admin"])}
    issuer = await registered(http, platform, admin, read_by=["engagements"])
    supplier = await registered(
        http, platform, admin, read_by=["notifications"], kind="PRIVEE", name="BTP SA"
    )
    await attached(http, platform, admin, supplier, f"user-{supplier}", read_by=["notifications"])
    supplier_email = f"user-{supplier}@example.fr"  # the supplier's user with notifications on
    headers = await attached(http, platform, admin, issuer, f"buyer-{issuer}", read_by=["engagements"])
    body = {
        "number": f"EJ-{uuid.uuid4().hex[:8]}",
        "type": "BON_DE_COMMANDE",
        "issuer": {
            "structure_id": issuer,
            "name": "Ministère",
            "email": "achats@min.gouv.fr",
            "kind": "ETAT",
        },
        "supplier": {"structure_id": supplier, "name": "BTP SA", "email": "contact@btp.example.fr"},
        "lines": [
            {"description": "Ciment", "quantity": 2.5, "unit_price_ht": 1234.567, "vat_rate": 20},
            {"description": "Sable", "quantity": "0.125", "unit_price_ht": "80.08", "vat_rate": "5.5"},
        ],
    }
    created = await http.post(platform.url("engagements") + "/engagements", json=body, headers=headers)
    assert created.status_code == 201, created.text
    engagement = created.json()
    assert engagement["total_ht"] == "3096.43"  # 3086.42 + 10.01
    assert engagement["total_ttc"] == "3714.26"  # 3703.70 + 10.56

    platform.set_flags(notify_engagement_validated=True)
    try:
        validated = await http.post(
            platform.url("engagements") + f"/engagements/{engagement['id']}/actions",
            json={"action": "VALIDATION"},
            headers=headers,
        )
        assert validated.json()["status"] == "COMMANDE"
        [mail] = await eventually(lambda: platform.mails_to(supplier_email), within=30)
        text = mail.get_content()
        assert "Montant total HT : 3\u202f096,43 EUR" in text
        assert "Montant total TTC : 3\u202f714,26 EUR" in text
    finally:
        platform.set_flags()


async def test_deadline_exceeded_mails_the_moa_then_the_supplier(
    platform: Platform, http: httpx.AsyncClient, bus: BusProbe
):
    event = await in_directory(http, platform, deadline_exceeded())
    await bus.publish("deadline-exceeded", event)
    found = await wait_for_decisions(http, platform, event["id"], 2)
    assert sorted((d["recipient_role"], d["status"]) for d in found) == [
        ("MOA", "SENT"),
        ("SUPPLIER", "SENT"),
    ]
    moa, supplier = event["data"]["moa"]["email"], event["data"]["supplier"]["email"]
    mails = [m for m in platform.mails() if m["X-Chorus-Event-Id"] == event["id"]]
    assert [parseaddr(str(m["To"]))[1] for m in mails] == [moa, supplier]


async def test_delegation_routed_mails_the_delegate(
    platform: Platform, http: httpx.AsyncClient, bus: BusProbe
):
    event = await in_directory(http, platform, delegation_routed())
    await bus.publish("delegation-routed", event)
    [decision] = await wait_for_decisions(http, platform, event["id"], 1)
    assert decision["status"] == "SENT" and decision["recipient_role"] == "DELEGATE"
    [mail] = platform.mails_to(event["data"]["delegate"]["email"])
    assert event["data"]["number"] in mail["Subject"]


async def test_the_same_event_twice_gives_one_mail_and_one_decision(
    platform: Platform, http: httpx.AsyncClient, bus: BusProbe
):
    event = await in_directory(http, platform, delegation_routed())
    await bus.publish("delegation-routed", event)
    await bus.publish("delegation-routed", event)
    await wait_for_decisions(http, platform, event["id"], 1)
    await asyncio.sleep(2)
    assert len(await decisions(http, platform, event_id=event["id"])) == 1
    assert len(platform.mails_to(event["data"]["delegate"]["email"])) == 1


async def test_malformed_messages_are_dead_lettered_and_valid_ones_still_flow(
    platform: Platform, http: httpx.AsyncClient, bus: BusProbe
):
    unknown = delegation_routed()
    unknown["type"] = "delegation-rerouted"
    invalid = delegation_routed()
    invalid["data"]["right"] = "EVERYTHING"
    await bus.publish("delegation-routed", b"<xml>not json</xml>")
    await bus.publish("delegation-routed", {"id": "x", "hello": "world"})
    await bus.publish("delegation-routed", unknown)
    await bus.publish("delegation-routed", invalid)
    dead = await bus.drain("notifications.dead-letter", 4, within=30)
    reasons = [str(m.headers[DEAD_LETTER_REASON_HEADER]) for m in dead]
    assert [r.split(":")[0] for r in reasons] == [
        "not valid JSON",
        "not a CloudEvent",
        "unknown event type",
        "invalid data",
    ]
    assert "data.right" in reasons[3]

    valid = await in_directory(http, platform, delegation_routed())
    await bus.publish("delegation-routed", valid)
    [decision] = await wait_for_decisions(http, platform, valid["id"], 1)
    assert decision["status"] == "SENT"


async def test_notifications_killed_while_events_flow_loses_nothing(
    platform: Platform, http: httpx.AsyncClient, bus: BusProbe
):
    first_event = await in_directory(http, platform, delegation_routed())
    events = [first_event]
    for _ in range(199):  # the same parties of the directory, another invoice each time
        event = delegation_routed()
        event["data"] = {**first_event["data"], "invoice_id": event["data"]["invoice_id"]}
        events.append(event)

    async def publish_all() -> None:
        for event in events:
            await bus.publish("delegation-routed", event)

    publishing = asyncio.create_task(publish_all())
    first = platform.pid("notifications")

    async def some_decided() -> bool:
        return len(await decisions(http, platform, event_type="delegation-routed")) > 20

    await eventually(some_decided, within=60)
    os.kill(first, signal.SIGKILL)
    await publishing
    await eventually(lambda: platform.pid("notifications") != first, within=30)

    async def all_decided() -> bool:
        try:
            found = await decisions(http, platform, event_type="delegation-routed")
        except httpx.TransportError:
            return False  # notifications is still restarting
        decided = {d["event_id"] for d in found if d["status"] != "PENDING"}
        return all(e["id"] in decided for e in events)

    await eventually(all_decided, within=120)
    mails = Counter(str(m["X-Chorus-Event-Id"]) for m in platform.mails())
    per_event = [mails[event["id"]] for event in events]
    print(f"events={len(events)} mails={sum(per_event)} duplicates={sum(c - 1 for c in per_event)}")
    assert min(per_event) == 1, "every event was mailed"
    # A kill repeats at most the mails in flight (accepted by the relay, not yet recorded SENT).
    in_flight = NotificationsSettings().mails_a_crash_can_repeat
    assert sum(count - 1 for count in per_event) <= in_flight, "at most the mails in flight were mailed twice"
