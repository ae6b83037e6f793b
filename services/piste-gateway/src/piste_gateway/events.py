"""Events of the gateway: it reads the directory (structures, services, users, technical accounts)."""

from __future__ import annotations

from chorus_common.events import EventType, TechnicalAccountSnapshot
from chorus_common.messaging.consumer import ReceivedEvent
from chorus_common.replica import subscribe_replica
from chorus_common.runtime import ServiceRuntime
from chorus_common.unit_of_work import UnitOfWork
from piste_gateway import repository
from piste_gateway.db import replica


async def on_technical_accounts(events: list[ReceivedEvent], uow: UnitOfWork) -> None:
    for event in events:
        assert isinstance(event.data, TechnicalAccountSnapshot)
        await repository.apply_technical_account(uow.conn, event.data)


def register_events(runtime: ServiceRuntime) -> None:
    subscribe_replica(runtime, replica)
    runtime.subscribe_batched([EventType.TECHNICAL_ACCOUNT_UPDATED], on_technical_accounts)
