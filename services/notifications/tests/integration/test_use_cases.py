"""The use cases of notifications called directly, without the bus, against the real PostgreSQL and SMTP."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from chorus_common.auth import Principal
from chorus_common.events import parse_event
from chorus_common.messaging.consumer import ReceivedEvent
from chorus_common.problems import Problem
from chorus_common.retention import purge
from chorus_common.runtime import ServiceRuntime
from chorus_testing.events import delegation_routed
from chorus_testing.fixtures import eventually
from notifications import jobs, use_cases
from notifications.db import decisions
from notifications.delivery import Delivery
from notifications.domain import DecisionFilter
from notifications.settings import NotificationsSettings

from .conftest import RunningNotifications


async def test_notifying_an_event_mails_the_delegate_once_and_records_the_decision(
    notifications: RunningNotifications,
):
    """Decided first, PENDING, then sent by the delivery: once, however often the event is notified."""
    runtime: ServiceRuntime = notifications.app.state.runtime
    delivery: Delivery = notifications.app.state.delivery
    notifier = use_cases.Notifier(runtime.settings, notifications.app.state.flags, delivery)
    document = delegation_routed()
    await notifications.know(document)
    envelope, data = parse_event(json.dumps(document).encode())
    event = ReceivedEvent(envelope, data, delivery_count=0)
    operator = Principal(sub="operator", roles=frozenset({"admin"}))

    async def recorded() -> list[dict[str, object]]:
        where = DecisionFilter(event_id=envelope.id)
        rows, _ = await use_cases.decisions(runtime.unit_of_work(operator), where, 0, 10)
        return [dict(row) for row in rows]

    delegate = document["data"]["delegate"]["email"]
    for _ in range(2):  # the second time, the recorded decision says it is done
        async with runtime.unit_of_work() as uow:
            await notifier.notify([event], uow)
    [decision] = await recorded()
    assert decision["recipient_email"] == delegate and decision["message_id"]

    async def sent() -> bool:
        return [d["status"] for d in await recorded()] == ["SENT"]

    await eventually(sent)
    assert len(notifications.smtp.to(delegate)) == 1


async def test_only_an_operator_reads_the_decisions(notifications: RunningNotifications):
    runtime: ServiceRuntime = notifications.app.state.runtime
    with pytest.raises(Problem) as refused:
        await use_cases.decisions(runtime.unit_of_work(Principal(sub="alice")), DecisionFilter(), 0, 10)
    assert refused.value.status == 403


async def test_retention_erases_addresses_then_deletes_settled_decisions(notifications: RunningNotifications):
    """Past CHORUS_RETENTION_ADDRESS_DAYS a settled decision keeps no address nor message; past
    CHORUS_RETENTION_DECISION_DAYS it goes; a PENDING mail is never touched, however old."""
    runtime: ServiceRuntime = notifications.app.state.runtime
    settings = runtime.settings
    assert isinstance(settings, NotificationsSettings)
    now = datetime.now(UTC)
    event = f"retention-{uuid.uuid4()}"
    rows = {
        "gone": ("SENT", 500, "gone@example.fr"),
        "erased-1": ("SENT", 100, "one@example.fr"),
        "erased-2": ("FAILED", 100, "two@example.fr"),
        "pending": ("PENDING", 500, "pending@example.fr"),
        "recent": ("SENT", 10, "recent@example.fr"),
    }
    ids = {name: uuid.uuid4() for name in rows}
    async with runtime.engine.begin() as conn:
        for name, (status, days, email) in rows.items():
            await conn.execute(
                decisions.insert().values(
                    id=ids[name],
                    event_id=event,
                    event_type="delegation-routed",
                    event_source="/services/received-invoices",
                    recipient_role="DELEGATE",
                    recipient_email=email,
                    status=status,
                    flag_key="notify-delegation-routed",
                    reason="test",
                    decided_at=now - timedelta(days=days),
                    message=b"To: " + email.encode(),
                )
            )
    shorter = settings.model_copy(update={"retention_address_days": 30})
    done = [await purge(runtime.engine, rule, now, 1) for rule in jobs.retention_rules(shorter)]
    assert done[0] >= 2 and done[1] >= 1
    async with runtime.engine.connect() as conn:
        kept = {
            row.id: row
            for row in await conn.execute(
                sa.select(decisions.c.id, decisions.c.recipient_email, decisions.c.message).where(
                    decisions.c.event_id == event
                )
            )
        }
    assert ids["gone"] not in kept
    for name in ("erased-1", "erased-2"):
        assert kept[ids[name]].recipient_email == f"erased:{ids[name]}" and kept[ids[name]].message is None
    assert kept[ids["pending"]].recipient_email == "pending@example.fr"
    assert kept[ids["recent"]].recipient_email == "recent@example.fr"
    assert {"decision addresses", "decisions"} <= set(await runtime.apply_retention())
