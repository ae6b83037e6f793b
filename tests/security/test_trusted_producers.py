"""Only trusted producers on the bus: each service and external system connects as its own RabbitMQ
account, may publish only its event types (topic permissions), and a consumer handles an event only
from a producer the catalogue allows for it (the AMQP user_id, which RabbitMQ verifies)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiormq
import asyncpg
import pytest

from chorus_common.messaging.topology import DEAD_LETTER_REASON_HEADER
from chorus_testing.events import delegation_routed
from chorus_testing.fixtures import BusProbe, take
from chorus_testing.identifiers import new_siret
from chorus_testing.platform import Platform


async def decided(platform: Platform, event_id: str) -> int:
    conn = await asyncpg.connect(platform.database_dsn("notifications"))
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM notification_decisions WHERE event_id = $1", event_id)
        )
    finally:
        await conn.close()


async def test_a_forged_delegation_routed_sends_nothing_whoever_publishes_it(
    secured_platform: Platform, bus: BusProbe
):
    platform = secured_platform
    # The State's ERP may publish engagement-validated only: RabbitMQ refuses the routing key.
    by_erp = delegation_routed()
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused, match="access to topic 'delegation-routed'"):
        await bus.publish("delegation-routed", by_erp, as_="erp-etat")
    # An account the broker lets publish anything (its administrator) is no producer of it either:
    # notifications dead-letters the message with the reason, and decides and mails nothing.
    by_admin = delegation_routed()
    await bus.publish("delegation-routed", by_admin, as_="guest")
    [dead] = await bus.drain("notifications.dead-letter", 1, within=30)
    assert str(dead.headers[DEAD_LETTER_REASON_HEADER]) == (
        "unauthorized producer: guest may not publish delegation-routed"
    )
    await asyncio.sleep(2)
    for forged in (by_erp, by_admin):
        assert await decided(platform, forged["id"]) == 0
        assert platform.mails_to(forged["data"]["delegate"]["email"]) == []


async def test_each_service_publishes_as_its_own_account(
    secured_platform: Platform, bus: BusProbe, tmp_path: Path
):
    """What a service publishes names it as its producer: the directory's snapshots come from `directory`."""
    tap = await bus.tap("structure-registered")
    siret = new_siret()
    referential = tmp_path / "structures.csv"
    referential.write_text(f"identifier;identifier_type;name;kind\n{siret};SIRET;Nouvelle SAS;PRIVEE\n")
    assert "1 registered" in secured_platform.run_command("directory", "import-structures", str(referential))
    found = None
    while found is None and (received := await take(tap, 1, within=15)):
        if json.loads(received[0].body)["subject"] == siret:
            found = received[0]
    assert found is not None and found.user_id == "directory"
