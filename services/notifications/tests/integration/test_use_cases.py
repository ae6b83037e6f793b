"""The use cases of notifications called directly, without the bus, against the real PostgreSQL and SMTP."""

import json

import pytest

from chorus_common.auth import Principal
from chorus_common.events import parse_event
from chorus_common.messaging.consumer import ReceivedEvent
from chorus_common.problems import Problem
from chorus_common.runtime import ServiceRuntime
from chorus_testing.events import delegation_routed
from chorus_testing.fixtures import eventually
from notifications import use_cases
from notifications.delivery import Delivery
from notifications.domain import DecisionFilter

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
