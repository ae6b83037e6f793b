"""Events: `engagement-validated` published on validation, and recorded when a State system sends one."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.events import (
    CloudEvent,
    EngagementValidated,
    EventType,
    IssuerParty,
    Party,
    build_event,
)
from chorus_common.messaging.consumer import ReceivedEvent
from chorus_common.runtime import ServiceRuntime
from engagements import repository
from engagements.domain import Action, EngagementStatus, EngagementType, Origin
from engagements.settings import EngagementsSettings

logger = logging.getLogger("engagements.events")


def engagement_validated(row: Mapping[str, Any], source: str) -> CloudEvent:
    data = EngagementValidated(
        number=row["number"],
        issuer=IssuerParty.model_validate(row["issuer"]),
        supplier=Party.model_validate(row["supplier"]),
        total_ht=row["total_ht"],
        total_ttc=row["total_ttc"],
        currency=row["currency"],
        validated_at=row["validated_at"],
        engagement_id=str(row["id"]),
    )
    return build_event(
        EventType.ENGAGEMENT_VALIDATED, source, data, time=row["validated_at"], subject=str(row["id"])
    )


class ExternalEngagementRecorder:
    """Records engagements validated in another system (e.g. the State's ERP)."""

    def __init__(self, runtime: ServiceRuntime, settings: EngagementsSettings) -> None:
        self._runtime = runtime
        self._own_source = settings.event_source

    async def __call__(self, event: ReceivedEvent, conn: AsyncConnection) -> None:
        if event.envelope.source == self._own_source:
            return
        data = event.data
        assert isinstance(data, EngagementValidated)
        now = self._runtime.clock.now()
        engagement_id = uuid.uuid4()
        values = {
            "id": engagement_id,
            "number": data.number,
            "type": EngagementType.BON_DE_COMMANDE,
            "status": EngagementStatus.COMMANDE,
            "origin": Origin.EXTERNAL,
            "source": event.envelope.source,
            "issuer_structure_id": data.issuer.structure_id,
            "supplier_structure_id": data.supplier.structure_id,
            "issuer": data.issuer.model_dump(mode="json"),
            "supplier": data.supplier.model_dump(mode="json"),
            "invoice_recipient": None,
            "currency": data.currency,
            "total_ht": data.total_ht,
            "total_vat": data.total_ttc - data.total_ht,
            "total_ttc": data.total_ttc,
            "created_by": event.envelope.source,
            "created_at": now,
            "updated_at": now,
            "validated_at": data.validated_at,
        }
        entry = repository.HistoryEntry(
            action=Action.VALIDATION,
            from_status=None,
            to_status=EngagementStatus.COMMANDE,
            actor=event.envelope.source,
            actor_structure_id=data.issuer.structure_id,
            capacity="SYSTEME_EXTERNE",
            reason=f"validated in {event.envelope.source} (event {event.envelope.id})",
            at=data.validated_at,
        )
        if not await repository.insert_engagement_once(conn, values, entry):
            logger.info("engagement %s of %s already recorded", data.number, data.issuer.structure_id)


def register_events(runtime: ServiceRuntime, settings: EngagementsSettings) -> None:
    runtime.declare_publication(EventType.ENGAGEMENT_VALIDATED)
    runtime.subscribe(EventType.ENGAGEMENT_VALIDATED, ExternalEngagementRecorder(runtime, settings))
