"""The use cases of notifications called directly, without the bus, against the real PostgreSQL and SMTP."""

import json

import pytest

from chorus_common.auth import Principal
from chorus_common.events import parse_event
from chorus_common.messaging.consumer import ReceivedEvent
from chorus_common.problems import Problem
from chorus_common.runtime import ServiceRuntime
from chorus_testing.events import delegation_routed
from notifications import use_cases
from notifications.domain import DecisionFilter
from notifications.mail import SmtpMailer

from .conftest import RunningNotifications


async def test_notifying_an_event_mails_the_delegate_once_and_records_the_decision(
    notifications: RunningNotifications,
):
    runtime: ServiceRuntime = notifications.app.state.runtime
    mailer = SmtpMailer(runtime.settings)
    notifier = use_cases.Notifier(runtime.settings, notifications.app.state.flags, mailer)
    document = delegation_routed()
    await notifications.know(document)
    envelope, data = parse_event(json.dumps(document).encode())
    event = ReceivedEvent(envelope, data, delivery_count=0)
    try:
        for _ in range(2):  # the second time, the recorded decision says it is done
            async with runtime.unit_of_work() as uow:
                await notifier.notify([event], uow)
    finally:
        await mailer.close()

    delegate = document["data"]["delegate"]["email"]
    assert len(notifications.smtp.to(delegate)) == 1
    operator = Principal(sub="operator", roles=frozenset({"admin"}))
    rows, total = await use_cases.decisions(
        runtime.unit_of_work(operator), DecisionFilter(event_id=envelope.id), 0, 10
    )
    assert total == 1 and rows[0]["status"] == "SENT" and rows[0]["recipient_email"] == delegate


async def test_only_an_operator_reads_the_decisions(notifications: RunningNotifications):
    runtime: ServiceRuntime = notifications.app.state.runtime
    with pytest.raises(Problem) as refused:
        await use_cases.decisions(runtime.unit_of_work(Principal(sub="alice")), DecisionFilter(), 0, 10)
    assert refused.value.status == 403
