"""Notifications against real RabbitMQ, PostgreSQL and SMTP."""

import asyncio
import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from chorus_common.auth import mint_dev_token
from chorus_common.messaging.topology import DEAD_LETTER_REASON_HEADER
from chorus_testing.directory import into_replica, known_structure, structure_snapshot, user
from chorus_testing.events import (
    cloud_event,
    deadline_exceeded,
    delegation_routed,
    engagement_validated,
    party,
)
from chorus_testing.fixtures import BusProbe, eventually, write_flags

from .conftest import RunningNotifications


async def test_deadline_exceeded_mails_the_moa_then_the_supplier(
    notifications: RunningNotifications, bus: BusProbe
):
    event = deadline_exceeded()
    await notifications.know(event)
    await bus.publish(event["type"], event)
    decisions = await notifications.wait_decisions(event["id"], 2)
    assert {d["recipient_role"]: d["status"] for d in decisions} == {"MOA": "SENT", "SUPPLIER": "SENT"}
    moa, supplier = event["data"]["moa"]["email"], event["data"]["supplier"]["email"]
    mails = [m for m in notifications.smtp.messages if m.message["X-Chorus-Event-Id"] == event["id"]]
    assert [m.recipients for m in mails] == [[moa], [supplier]]
    by_role = {d["recipient_role"]: d for d in decisions}
    assert mails[0].message["Message-ID"] == by_role["MOA"]["message_id"]
    assert "délai" in mails[0].message["Subject"]


async def test_the_same_event_published_twice_gives_one_mail_and_one_decision(
    notifications: RunningNotifications, bus: BusProbe
):
    event = cloud_event(
        "delegation-routed",
        {
            "invoice_id": str(uuid.uuid4()),
            "number": "F-001",
            "billing_frame": "A1",
            "supplier": party("supplier"),
            "recipient": party("hospital"),
            "delegate": party("delegate"),
            "right": "VALIDATION",
            "delegation_id": str(uuid.uuid4()),
            "amount_ttc": "1200.00",
            "currency": "EUR",
            "routed_at": datetime.now(UTC).isoformat(),
        },
    )
    await notifications.know(event)
    await bus.publish(event["type"], event)
    await bus.publish(event["type"], event)
    await notifications.wait_decisions(event["id"], 1)
    await asyncio.sleep(1.0)
    assert len(await notifications.decisions(event_id=event["id"])) == 1
    assert len(notifications.smtp.to(event["data"]["delegate"]["email"])) == 1


async def test_engagement_mails_are_suppressed_by_default_and_sent_once_the_flag_is_on(
    notifications: RunningNotifications, bus: BusProbe
):
    suppressed = engagement_validated()
    await notifications.know(suppressed)
    await bus.publish(suppressed["type"], suppressed)
    [decision] = await notifications.wait_decisions(suppressed["id"], 1)
    assert decision["status"] == "SUPPRESSED"
    assert decision["reason"] == "flag notify-engagement-validated is off"
    assert notifications.smtp.to(suppressed["data"]["supplier"]["email"]) == []

    write_flags(notifications.flags_path, {"notify-engagement-validated": True})
    try:
        await asyncio.sleep(0.5)  # the file provider polls every 100 ms here
        sent = engagement_validated(total_ht="3086.42", total_ttc="3703.70")
        await notifications.know(sent)
        await bus.publish(sent["type"], sent)
        [decision] = await notifications.wait_decisions(sent["id"], 1)
        assert decision["status"] == "SENT"
        [mail] = notifications.smtp.to(sent["data"]["supplier"]["email"])
        assert "3\u202f703,70 EUR" in mail.body
    finally:
        write_flags(notifications.flags_path, {})
        await asyncio.sleep(0.5)


async def test_flag_targeting_can_re_enable_one_issuer(notifications: RunningNotifications, bus: BusProbe):
    event = engagement_validated()
    document = json.loads(notifications.flags_path.read_text())
    document["flags"]["notify-engagement-validated"]["targeting"] = {
        "if": [{"==": [{"var": "structure_id"}, event["data"]["issuer"]["structure_id"]]}, "on", "off"]
    }
    notifications.flags_path.write_text(json.dumps(document))
    try:
        await asyncio.sleep(0.5)
        await notifications.know(event)
        await bus.publish(event["type"], event)
        [decision] = await notifications.wait_decisions(event["id"], 1)
        assert decision["status"] == "SENT"
        other = engagement_validated()
        await notifications.know(other)
        await bus.publish(other["type"], other)
        [decision] = await notifications.wait_decisions(other["id"], 1)
        assert decision["status"] == "SUPPRESSED"
    finally:
        write_flags(notifications.flags_path, {})
        await asyncio.sleep(0.5)


async def test_an_unevaluable_flag_defers_the_mail_until_it_can_be_evaluated(
    notifications: RunningNotifications, bus: BusProbe
):
    document = json.loads(notifications.flags_path.read_text())
    del document["flags"]["notify-delegation-routed"]
    notifications.flags_path.write_text(json.dumps(document))
    try:
        await asyncio.sleep(0.5)
        event = delegation_routed()
        await notifications.know(event)
        await bus.publish(event["type"], event)
        await asyncio.sleep(1.5)
        assert await notifications.decisions(event_id=event["id"]) == [], "not decided while it cannot be"
        assert notifications.smtp.to(event["data"]["delegate"]["email"]) == []
    finally:
        write_flags(notifications.flags_path, {})
    [decision] = await notifications.wait_decisions(event["id"], 1)
    assert decision["status"] == "SENT" and "flag notify-delegation-routed is on" in str(decision["reason"])
    assert len(notifications.smtp.to(event["data"]["delegate"]["email"])) == 1


async def test_a_flag_file_gone_defers_mail_although_the_provider_still_knows_its_old_flags(
    notifications: RunningNotifications, bus: BusProbe
):
    """The provider answers from what it read last; while its file is gone that may no longer be what
    the operators say, so nothing is decided on it."""
    flags = notifications.flags_path.read_text()
    notifications.flags_path.unlink()
    try:
        await asyncio.sleep(0.5)  # the file provider polls every 100 ms here
        event = delegation_routed()
        await notifications.know(event)
        await bus.publish(event["type"], event)
        await asyncio.sleep(1.5)
        assert await notifications.decisions(event_id=event["id"]) == [], "not decided while it is gone"
    finally:
        notifications.flags_path.write_text(flags)
    [decision] = await notifications.wait_decisions(event["id"], 1)
    assert decision["status"] == "SENT"
    assert len(notifications.smtp.to(event["data"]["delegate"]["email"])) == 1


async def test_a_relay_refusing_for_now_defers_the_mails_then_they_go_once(
    notifications: RunningNotifications, bus: BusProbe
):
    notifications.smtp.refusal = "451 4.3.0 Mail server temporarily rejected message"
    refused_before = notifications.smtp.refused
    event = deadline_exceeded()
    try:
        await notifications.know(event)
        await bus.publish(event["type"], event)

        async def deferred() -> list[dict[str, object]] | None:
            found = await notifications.decisions(event_id=event["id"])
            later = [d for d in found if d["status"] == "PENDING" and int(str(d["attempts"])) >= 2]
            return found if len(later) == 2 else None

        waiting = await eventually(deferred)
        assert all("451 4.3.0" in str(d["last_error"]) for d in waiting)
        assert notifications.smtp.refused - refused_before >= 4
    finally:
        notifications.smtp.refusal = None
    decisions = await notifications.wait_decisions(event["id"], 2)
    assert {d["status"] for d in decisions} == {"SENT"}
    mails = [m for m in notifications.smtp.messages if m.message["X-Chorus-Event-Id"] == event["id"]]
    assert len(mails) == 2, "each mail once"


async def test_a_recipient_the_relay_refuses_for_good_is_failed_at_once_and_an_operator_resends_it(
    notifications: RunningNotifications, bus: BusProbe
):
    event = deadline_exceeded()
    moa = event["data"]["moa"]["email"]
    notifications.smtp.refused_recipients[moa] = f"550 5.1.1 <{moa}>: no such mailbox"
    try:
        await notifications.know(event)
        await bus.publish(event["type"], event)
        decisions = {d["recipient_role"]: d for d in await notifications.wait_decisions(event["id"], 2)}
        assert (decisions["MOA"]["status"], decisions["SUPPLIER"]["status"]) == ("FAILED", "SENT")
        assert "550 5.1.1" in str(decisions["MOA"]["reason"]) and decisions["MOA"]["attempts"] == 1
    finally:
        del notifications.smtp.refused_recipients[moa]
    failed_id = decisions["MOA"]["id"]
    not_an_operator = {"authorization": "Bearer " + mint_dev_token("someone", [], [])}
    url = f"/notifications/{failed_id}/resend"
    assert (await notifications.client.post(url, headers=not_an_operator)).status_code == 403
    resent = await notifications.client.post(url, headers=notifications.admin_headers())
    assert resent.status_code == 200 and resent.json()["status"] == "PENDING"
    [again] = [d for d in await notifications.wait_decisions(event["id"], 2) if d["id"] == failed_id]
    assert again["status"] == "SENT"
    assert len(notifications.smtp.to(moa)) == 1
    sent_one = await notifications.client.post(url, headers=notifications.admin_headers())
    assert sent_one.status_code == 409


async def test_a_mail_still_refused_at_the_horizon_is_failed_with_the_last_reply(
    notifications: RunningNotifications, bus: BusProbe
):
    settings = notifications.app.state.runtime.settings
    settings.mail_retry_horizon_seconds = 0.5
    notifications.smtp.refusal = "421 4.7.0 try again later"
    try:
        event = delegation_routed()
        await notifications.know(event)
        await bus.publish(event["type"], event)
        [decision] = await notifications.wait_decisions(event["id"], 1)
        assert decision["status"] == "FAILED"
        assert "still not delivered after" in str(decision["reason"]) and "421 4.7.0" in str(
            decision["reason"]
        )
    finally:
        notifications.smtp.refusal = None
        settings.mail_retry_horizon_seconds = 48 * 3600.0


async def test_malformed_messages_are_dead_lettered_and_later_events_still_flow(
    notifications: RunningNotifications, bus: BusProbe
):
    invalid = deadline_exceeded()
    invalid["data"]["days_overdue"] = "many"
    await bus.publish("deadline-exceeded", b"\x00not json")
    await bus.publish("deadline-exceeded", {"just": "json"})
    await bus.publish("deadline-exceeded", invalid)
    dead = await bus.drain("notifications.dead-letter", 3)
    assert [str(m.headers[DEAD_LETTER_REASON_HEADER]).split(":")[0] for m in dead] == [
        "not valid JSON",
        "not a CloudEvent",
        "invalid data",
    ]
    valid = deadline_exceeded()
    await notifications.know(valid)
    await bus.publish(valid["type"], valid)
    assert len(await notifications.wait_decisions(valid["id"], 2)) == 2


async def test_decisions_are_for_operators_only_and_paginated(notifications: RunningNotifications):
    client = notifications.client
    assert (await client.get("/notifications")).status_code == 401
    user = {"authorization": "Bearer " + mint_dev_token("alice", ["S1"], [])}
    forbidden = await client.get("/notifications", headers=user)
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == "application/problem+json"
    page = await client.get(
        "/notifications", params={"page_size": 1, "status": "SENT"}, headers=notifications.admin_headers()
    )
    body = page.json()
    assert len(body["items"]) == 1 and body["total"] >= 1 and body["items"][0]["status"] == "SENT"
    one = await client.get(f"/notifications/{body['items'][0]['id']}", headers=notifications.admin_headers())
    assert one.status_code == 200 and one.json() == body["items"][0]
    missing = await client.get(f"/notifications/{uuid.uuid4()}", headers=notifications.admin_headers())
    assert missing.status_code == 404


async def test_a_ticket_event_whose_follow_link_leads_elsewhere_sends_no_mail_and_says_why(
    notifications: RunningNotifications, bus: BusProbe
):
    portal = notifications.app.state.runtime.settings.support_portal_url
    requester = f"jean-{uuid.uuid4().hex[:8]}@example.fr"

    def ticket(follow_url: str) -> dict[str, object]:
        return cloud_event(
            "ticket-updated",
            {
                "ticket_id": str(uuid.uuid4()),
                "reference": "SOL-2026-000042",
                "category": "FACTURATION",
                "status": "EN_COURS",
                "requester_email": requester,
                "recipient": {"kind": "SUPPORT", "name": "Support Chorus Pro"},
                "follow_url": follow_url,
            },
            source="/services/support-portal",
        )

    forged, genuine = ticket("https://phishing.example/suivi/abc"), ticket(f"{portal}/suivi/abc")
    await bus.publish("ticket-updated", forged)
    await bus.publish("ticket-updated", genuine)
    [refused] = await notifications.wait_decisions(str(forged["id"]), 1)
    assert refused["status"] == "SUPPRESSED"
    assert refused["reason"] == f"follow link outside the support portal ({portal})"
    [sent] = await notifications.wait_decisions(str(genuine["id"]), 1)
    assert sent["status"] == "SENT"
    [mail] = notifications.smtp.to(requester)
    assert mail.message["X-Chorus-Event-Id"] == genuine["id"]


async def test_recipients_are_the_structures_users_with_notifications_on_and_its_principal_manager(
    notifications: RunningNotifications, bus: BusProbe
):
    engine = notifications.app.state.runtime.engine
    ministry = await known_structure(engine, kind="PUBLIQUE", services=["DAF", "DRH"])
    supplier = await known_structure(engine)
    tag = uuid.uuid4().hex[:6]
    # the principal manager turned notifications off: it is mailed all the same
    await user(engine, f"chef-{tag}", ministry, role="GESTIONNAIRE_PRINCIPAL", notifications=False)
    await user(engine, f"compta-{tag}", ministry, notifications=True)
    await user(engine, f"muet-{tag}", ministry, notifications=False)
    await user(engine, f"daf-{tag}", ministry, service_code="DAF")
    await user(engine, f"drh-{tag}", ministry, service_code="DRH")
    await user(engine, f"sam-{tag}", supplier, role="GESTIONNAIRE_PRINCIPAL")

    event = deadline_exceeded()
    event["data"]["moa"] = {"structure_id": ministry, "name": "Ministère", "service_code": "DAF"}
    event["data"]["supplier"] = {"structure_id": supplier, "name": "BTP SA"}
    await bus.publish(event["type"], event)
    decisions = await notifications.wait_decisions(event["id"], 4)
    assert sorted((d["recipient_role"], d["recipient_email"], d["status"]) for d in decisions) == [
        ("MOA", f"chef-{tag}@example.fr", "SENT"),
        ("MOA", f"compta-{tag}@example.fr", "SENT"),
        ("MOA", f"daf-{tag}@example.fr", "SENT"),
        ("SUPPLIER", f"sam-{tag}@example.fr", "SENT"),
    ]
    assert {d["recipient_structure_id"] for d in decisions if d["recipient_role"] == "MOA"} == {ministry}
    mails = [m for m in notifications.smtp.messages if m.message["X-Chorus-Event-Id"] == event["id"]]
    assert len(mails) == 4 and len({m.message["Message-ID"] for m in mails}) == 4
    assert mails[-1].recipients == [f"sam-{tag}@example.fr"]  # the MOA's mails first
    assert notifications.smtp.to(f"muet-{tag}@example.fr") == []
    assert notifications.smtp.to(f"drh-{tag}@example.fr") == []


async def test_an_event_for_a_structure_the_directory_does_not_know_yet_waits_for_it(
    notifications: RunningNotifications, bus: BusProbe
):
    """The snapshot may come after the event: it is mailed once the directory knows the structure;
    and one never known is recorded with the reason once the wait is over (3 s here)."""
    late, never = delegation_routed(), delegation_routed()
    await bus.publish(late["type"], late)
    await bus.publish(never["type"], never)
    await asyncio.sleep(1.0)
    assert await notifications.decisions(event_id=late["id"]) == []
    await notifications.know(late)
    [sent] = await notifications.wait_decisions(late["id"], 1)
    assert (sent["status"], sent["recipient_email"]) == ("SENT", late["data"]["delegate"]["email"])

    [unknown] = await notifications.wait_decisions(never["id"], 1)
    delegate = never["data"]["delegate"]["structure_id"]
    assert (unknown["status"], unknown["recipient_email"], unknown["recipient_structure_id"]) == (
        "SUPPRESSED",
        None,
        delegate,
    )
    assert str(unknown["reason"]).startswith(f"structure {delegate} unknown to the directory after waiting")
    assert notifications.smtp.to(never["data"]["delegate"]["email"]) == []


async def test_a_structure_nobody_can_be_mailed_for_is_recorded_with_the_reason(
    notifications: RunningNotifications, bus: BusProbe
):
    event = delegation_routed()
    structure = event["data"]["delegate"]["structure_id"]
    await into_replica(notifications.app.state.runtime.engine, structure_snapshot(structure, kind="PRIVEE"))
    await bus.publish(event["type"], event)
    [decision] = await notifications.wait_decisions(event["id"], 1)
    assert (decision["status"], decision["recipient_email"]) == ("SUPPRESSED", None)
    assert "no user with notifications on, and no principal manager" in str(decision["reason"])


async def test_a_suppressed_mail_does_not_wait_for_the_directory(
    notifications: RunningNotifications, bus: BusProbe
):
    event = engagement_validated()  # its flag is off, and the directory knows neither party
    await bus.publish(event["type"], event)
    [decision] = await notifications.wait_decisions(event["id"], 1)
    assert (decision["status"], decision["recipient_email"]) == ("SUPPRESSED", None)
    assert decision["reason"] == "flag notify-engagement-validated is off"
    wait = notifications.app.state.runtime.settings.directory_wait_seconds
    decided_at = datetime.fromisoformat(str(decision["decided_at"]))
    assert decided_at < datetime.fromisoformat(event["time"]) + timedelta(seconds=wait)


async def test_an_event_with_a_nul_in_a_name_is_dead_lettered_unsent_and_its_batch_mates_mailed_once(
    notifications: RunningNotifications, bus: BusProbe
):
    valid = [delegation_routed() for _ in range(40)]
    bad = delegation_routed()
    bad["data"]["delegate"]["name"] = "Cabinet\x00Valide"
    await notifications.know(*valid)  # the bad one never reaches the directory: it is refused first
    await bus.publish_many([(e["type"], e) for e in [*valid[:20], bad, *valid[20:]]])
    [dead] = await bus.drain("notifications.dead-letter", 1)
    reason = str(dead.headers[DEAD_LETTER_REASON_HEADER])
    assert reason == "invalid data: data.delegate.name: control character U+0000 not allowed"
    for event in valid:
        await notifications.wait_decisions(event["id"], 1)
    mails = Counter(str(m.message["X-Chorus-Event-Id"]) for m in notifications.smtp.messages)
    assert [mails[event["id"]] for event in valid] == [1] * len(valid), "each mailed once"
    assert mails[bad["id"]] == 0 and await notifications.decisions(event_id=bad["id"]) == []
