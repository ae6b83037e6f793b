"""What engagements does: create, read, list and act on legal commitments; record external ones.

Each use case takes a unit of work and plain values, decides with the domain, and stores through the
repository; who may see or act on an engagement is decided here.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from chorus_common.events import EngagementValidated, Party
from chorus_common.history import HistoryEntry
from chorus_common.problems import Problem, field_problem, not_found
from chorus_common.unit_of_work import UnitOfWork
from engagements import events, repository
from engagements.domain import (
    Action,
    Capacity,
    CreationAction,
    EngagementQuery,
    EngagementStatus,
    EngagementType,
    LineDraft,
    Origin,
    capacities,
    decide,
    issuer_problem,
    priced,
)

logger = logging.getLogger("engagements.use_cases")


@dataclass(frozen=True)
class NewEngagement:
    number: str
    type: EngagementType
    issuer: Party  # its kind (ETAT, ...) is the directory's
    supplier: Party
    invoice_recipient: Party | None
    currency: str
    lines: list[LineDraft]


def _capacities(uow: UnitOfWork, row: Any) -> set[Capacity]:
    return capacities(
        uow.caller.structures,
        row["issuer_structure_id"],
        row["supplier_structure_id"],
        EngagementStatus(row["status"]),
    )


async def engagement(uow: UnitOfWork, engagement_id: uuid.UUID) -> dict[str, Any]:
    """The engagement with its lines and history, if the caller may see it (404 otherwise)."""
    async with uow.reading() as conn:
        details = await repository.get_details(conn, engagement_id)
    if details is None or not _capacities(uow, details):
        raise not_found("Engagement")
    return details


async def create_engagement(uow: UnitOfWork, new: NewEngagement) -> dict[str, Any]:
    caller = uow.caller
    # What the directory says of the issuer first (it is public), then whether the caller acts for it.
    async with uow.reading() as conn:
        issuer = await repository.directory_structure(conn, new.issuer.structure_id)
    refused = issuer_problem(
        issuer is not None, issuer and issuer["kind"], issuer and issuer["public_category"]
    )
    if refused is not None:
        raise field_problem(
            "issuer.structure_id", "issuer-not-public", "Issuer not a public structure", refused
        )
    assert issuer is not None
    if not caller.acts_for(new.issuer.structure_id):
        raise Problem(
            403,
            "not-your-structure",
            "Forbidden",
            "issuer.structure_id must be one of the structures you act for",
        )
    now = uow.now()
    engagement_id = uuid.uuid4()
    lines, total = priced(new.lines)
    values = {
        "id": engagement_id,
        "number": new.number,
        "type": new.type,
        "status": EngagementStatus.BROUILLON,
        "origin": Origin.CHORUS_PRO,
        "source": uow.source,
        "issuer_structure_id": new.issuer.structure_id,
        "supplier_structure_id": new.supplier.structure_id,
        "issuer": {**new.issuer.model_dump(mode="json"), "kind": issuer["public_category"]},
        "supplier": new.supplier.model_dump(mode="json"),
        "invoice_recipient": new.invoice_recipient.model_dump(mode="json") if new.invoice_recipient else None,
        "currency": new.currency,
        "total_ht": total.amount_ht,
        "total_vat": total.amount_vat,
        "total_ttc": total.amount_ttc,
        "created_by": caller.sub,
        "created_at": now,
        "updated_at": now,
        "validated_at": None,
    }
    entry = HistoryEntry(
        action=CreationAction.CREATION,
        from_status=None,
        to_status=EngagementStatus.BROUILLON,
        actor=caller.sub,
        actor_structure_id=new.issuer.structure_id,
        capacity=Capacity.ISSUER,
        at=now,
    )
    async with uow:
        created = await repository.insert_engagement_once(uow.conn, values, lines, entry)
        if created:
            await uow.publish(events.engagement_status_changed(values, entry, 1, uow.source))
    if not created:
        raise Problem(
            409,
            "engagement-number-taken",
            "Engagement number already used",
            f"Structure {new.issuer.structure_id} already has an engagement numbered {new.number!r}",
        )
    return await engagement(uow, engagement_id)


async def engagements(
    uow: UnitOfWork, query: EngagementQuery, offset: int, limit: int
) -> tuple[list[Any], int]:
    """A page of the engagements the caller may see that match `query`, and how many match."""
    async with uow.reading() as conn:
        return await repository.list_rows(conn, uow.caller.structures, query, offset, limit)


async def act_on_engagement(
    uow: UnitOfWork, engagement_id: uuid.UUID, action: Action, reason: str | None
) -> dict[str, Any]:
    """Apply `action` for the caller, announced as `engagement-status-changed`; validating it publishes
    `engagement-validated` besides."""
    async with uow:
        row = await repository.get_row(uow.conn, engagement_id, lock=True)
        caller = _capacities(uow, row) if row is not None else set()
        if row is None or not caller:
            raise not_found("Engagement")
        current = EngagementStatus(row["status"])
        target, capacity = decide(action, caller, current, reason)
        now = uow.now()
        validated = action is Action.VALIDATION
        await repository.set_status(uow.conn, engagement_id, target, now, validated)
        structure = (
            row["issuer_structure_id"] if capacity is Capacity.ISSUER else row["supplier_structure_id"]
        )
        entry = HistoryEntry(
            action=action,
            from_status=current,
            to_status=target,
            actor=uow.caller.sub,
            actor_structure_id=structure,
            capacity=capacity,
            reason=reason,
            at=now,
        )
        sequence = await repository.add_history(uow.conn, engagement_id, entry)
        await uow.publish(events.engagement_status_changed(row, entry, sequence, uow.source))
        if validated:
            await uow.publish(events.engagement_validated({**row, "validated_at": now}, uow.source))
    return await engagement(uow, engagement_id)


async def record_external_engagement(
    uow: UnitOfWork, data: EngagementValidated, source: str, event_id: str
) -> None:
    """Record an engagement validated in another system (e.g. the State's ERP), once per number."""
    now = uow.now()
    values = {
        "id": uuid.uuid4(),
        "number": data.number,
        "type": EngagementType.BON_DE_COMMANDE,
        "status": EngagementStatus.COMMANDE,
        "origin": Origin.EXTERNAL,
        "source": source,
        "issuer_structure_id": data.issuer.structure_id,
        "supplier_structure_id": data.supplier.structure_id,
        "issuer": data.issuer.model_dump(mode="json"),
        "supplier": data.supplier.model_dump(mode="json"),
        "invoice_recipient": None,
        "currency": data.currency,
        "total_ht": data.total_ht,
        "total_vat": data.total_ttc - data.total_ht,
        "total_ttc": data.total_ttc,
        "created_by": source,
        "created_at": now,
        "updated_at": now,
        "validated_at": data.validated_at,
    }
    entry = HistoryEntry(
        action=Action.VALIDATION,
        from_status=None,
        to_status=EngagementStatus.COMMANDE,
        actor=source,
        actor_structure_id=data.issuer.structure_id,
        capacity=Capacity.EXTERNAL_SYSTEM,
        reason=f"validated in {source} (event {event_id})",
        at=data.validated_at,
    )
    async with uow:
        if await repository.insert_engagement_once(uow.conn, values, [], entry):
            await uow.publish(events.engagement_status_changed(values, entry, 1, uow.source))
        else:
            logger.info("engagement %s of %s already recorded", data.number, data.issuer.structure_id)
