"""Events of the directory: a full snapshot of the structure, service or user after each change.

It is the source the other services' read models are fed from. It subscribes to one event only:
received-invoices' `delegation-updated`, from which a structure's `estValideurDelegue` is derived.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chorus_common.events import (
    CloudEvent,
    DelegationSnapshot,
    EventType,
    ServiceSnapshot,
    StructureParameters,
    StructureSnapshot,
    TechnicalAccountSnapshot,
    UserAttachment,
    UserSnapshot,
    build_event,
)
from chorus_common.messaging.consumer import ReceivedEvent
from chorus_common.replica import SNAPSHOT_EVENTS
from chorus_common.runtime import ServiceRuntime
from chorus_common.unit_of_work import UnitOfWork
from directory import use_cases

# What the directory publishes is what every read model subscribes to; and its technical accounts, for
# the PISTE gateway.
PUBLISHED = (*SNAPSHOT_EVENTS, EventType.TECHNICAL_ACCOUNT_UPDATED)


def structure_snapshot(row: Mapping[str, Any]) -> StructureSnapshot:
    return StructureSnapshot(
        structure_id=row["structure_id"],
        cpp_id=row["cpp_id"],
        identifier_type=row["identifier_type"],
        name=row["name"],
        kind=row["kind"],
        public_category=row["public_category"],
        email=row["email"],
        vat_number=row["vat_number"],
        active=row["active"],
        parameters=StructureParameters(
            service_code_required=row["service_code_required"],
            engagement_required=row["engagement_required"],
            engagement_or_service_required=row["engagement_or_service_required"],
            moa_only=row["moa_only"],
        ),
        version=row["version"],
        updated_at=row["updated_at"],
    )


def service_snapshot(row: Mapping[str, Any]) -> ServiceSnapshot:
    return ServiceSnapshot(
        structure_id=row["structure_id"],
        code=row["code"],
        name=row["name"],
        active=row["active"],
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
        engagement_required=row["engagement_required"],
        version=row["version"],
        updated_at=row["updated_at"],
    )


def user_snapshot(user: Mapping[str, Any], attachments: list[Mapping[str, Any]]) -> UserSnapshot:
    return UserSnapshot(
        sub=user["sub"],
        email=user["email"],
        name=user["name"],
        attachments=[
            UserAttachment(
                structure_id=a["structure_id"],
                service_code=a["service_code"],
                role=a["role"],
                notifications=a["notifications"],
            )
            for a in attachments
        ],
        version=user["version"],
        updated_at=user["updated_at"],
    )


def structure_event(event_type: EventType, row: Mapping[str, Any], source: str) -> CloudEvent:
    data = structure_snapshot(row)
    return build_event(event_type, source, data, time=data.updated_at, subject=data.structure_id)


def service_event(row: Mapping[str, Any], source: str) -> CloudEvent:
    data = service_snapshot(row)
    subject = f"{data.structure_id}/{data.code}"
    return build_event(EventType.SERVICE_UPDATED, source, data, time=data.updated_at, subject=subject)


def user_event(
    event_type: EventType, user: Mapping[str, Any], attachments: list[Mapping[str, Any]], source: str
) -> CloudEvent:
    data = user_snapshot(user, attachments)
    return build_event(event_type, source, data, time=data.updated_at, subject=data.sub)


def technical_account_event(row: Mapping[str, Any], source: str) -> CloudEvent:
    data = TechnicalAccountSnapshot(
        login=row["login"],
        structure_id=row["structure_id"],
        password_hash=row["password_hash"],
        active=row["active"],
        version=row["version"],
        updated_at=row["updated_at"],
    )
    return build_event(
        EventType.TECHNICAL_ACCOUNT_UPDATED, source, data, time=data.updated_at, subject=data.login
    )


async def on_delegation_updated(event: ReceivedEvent, uow: UnitOfWork) -> None:
    assert isinstance(event.data, DelegationSnapshot)
    await use_cases.delegation_changed(uow, event.data)


def register_events(runtime: ServiceRuntime) -> None:
    for event_type in PUBLISHED:
        runtime.declare_publication(event_type)
    runtime.subscribe(EventType.DELEGATION_UPDATED, on_delegation_updated)
