"""HTTP API of engagements: create, read, list, and act on legal commitments."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import sqlalchemy.exc as sa_exc
from fastapi import APIRouter, Query, Request, status
from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.auth import CurrentPrincipal, Principal
from chorus_common.http import ExactJSONRoute, Page, Pagination, page_of
from chorus_common.problems import Problem, not_found
from chorus_common.runtime import runtime_of
from engagements import repository
from engagements.domain import (
    Action,
    Capacity,
    EngagementStatus,
    EngagementType,
    Origin,
    decide,
    line_amounts,
    totals,
    visible_to_supplier,
)
from engagements.events import engagement_validated
from engagements.schemas import ActionIn, EngagementIn, EngagementOut, EngagementSummary

router = APIRouter(prefix="/engagements", tags=["engagements"], route_class=ExactJSONRoute)


def capacities(principal: Principal, row: Any) -> set[Capacity]:
    found = set()
    if principal.acts_for(row["issuer_structure_id"]):
        found.add(Capacity.ISSUER)
    if principal.acts_for(row["supplier_structure_id"]) and visible_to_supplier(
        EngagementStatus(row["status"])
    ):
        found.add(Capacity.SUPPLIER)
    return found


async def _details_for(
    conn: AsyncConnection, principal: Principal, engagement_id: uuid.UUID
) -> EngagementOut:
    details = await repository.get_details(conn, engagement_id)
    if details is None or not capacities(principal, details):
        raise not_found("Engagement")
    return EngagementOut.model_validate(details)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EngagementOut)
async def create_engagement(
    request: Request, principal: CurrentPrincipal, body: EngagementIn
) -> EngagementOut:
    if not principal.acts_for(body.issuer.structure_id):
        raise Problem(
            403,
            "not-your-structure",
            "Forbidden",
            "issuer.structure_id must be one of the structures you act for",
        )
    runtime = runtime_of(request)
    now = runtime.clock.now()
    engagement_id = uuid.uuid4()
    lines = []
    amounts_of_lines = [line_amounts(line.quantity, line.unit_price_ht, line.vat_rate) for line in body.lines]
    for index, (line, amounts) in enumerate(zip(body.lines, amounts_of_lines, strict=True), start=1):
        lines.append(
            {
                "line_number": line.line_number or index,
                "description": line.description,
                "quantity": line.quantity,
                "unit": line.unit,
                "unit_price_ht": line.unit_price_ht,
                "vat_rate": line.vat_rate,
                "amount_ht": amounts.amount_ht,
                "amount_ttc": amounts.amount_ttc,
            }
        )
    total = totals(amounts_of_lines)
    values = {
        "id": engagement_id,
        "number": body.number,
        "type": body.type,
        "status": EngagementStatus.BROUILLON,
        "origin": Origin.CHORUS_PRO,
        "source": runtime.settings.event_source,
        "issuer_structure_id": body.issuer.structure_id,
        "supplier_structure_id": body.supplier.structure_id,
        "issuer": body.issuer.model_dump(mode="json"),
        "supplier": body.supplier.model_dump(mode="json"),
        "invoice_recipient": body.invoice_recipient.model_dump(mode="json")
        if body.invoice_recipient
        else None,
        "currency": body.currency,
        "total_ht": total.amount_ht,
        "total_vat": total.amount_vat,
        "total_ttc": total.amount_ttc,
        "created_by": principal.sub,
        "created_at": now,
        "updated_at": now,
        "validated_at": None,
    }
    entry = repository.HistoryEntry(
        action="CREATION",
        from_status=None,
        to_status=EngagementStatus.BROUILLON,
        actor=principal.sub,
        actor_structure_id=body.issuer.structure_id,
        capacity=Capacity.ISSUER,
        reason=None,
        at=now,
    )
    try:
        async with runtime.engine.begin() as conn:
            await repository.insert_engagement(conn, values, lines, entry)
    except sa_exc.IntegrityError as exc:
        if "uq_engagement_issuer_number" not in str(exc.orig):
            raise
        raise Problem(
            409,
            "engagement-number-taken",
            "Engagement number already used",
            f"Structure {body.issuer.structure_id} already has an engagement numbered {body.number!r}",
        ) from exc
    async with runtime.engine.connect() as conn:
        return await _details_for(conn, principal, engagement_id)


@router.get("", response_model=Page[EngagementSummary])
async def list_engagements(
    request: Request,
    principal: CurrentPrincipal,
    pagination: Pagination,
    status: EngagementStatus | None = None,
    type: EngagementType | None = None,
    number: Annotated[str | None, Query(max_length=50)] = None,
    issuer_structure_id: Annotated[str | None, Query(max_length=200)] = None,
    supplier_structure_id: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[EngagementSummary]:
    where = repository.EngagementFilter(
        principal.structures, status, type, number, issuer_structure_id, supplier_structure_id
    )
    async with runtime_of(request).engine.connect() as conn:
        rows, total = await repository.list_rows(conn, where, pagination.offset, pagination.page_size)
    return page_of(EngagementSummary, rows, total, pagination)


@router.get("/{engagement_id}", response_model=EngagementOut)
async def get_engagement(
    request: Request, principal: CurrentPrincipal, engagement_id: uuid.UUID
) -> EngagementOut:
    async with runtime_of(request).engine.connect() as conn:
        return await _details_for(conn, principal, engagement_id)


@router.post("/{engagement_id}/actions", response_model=EngagementOut)
async def act_on_engagement(
    request: Request, principal: CurrentPrincipal, engagement_id: uuid.UUID, body: ActionIn
) -> EngagementOut:
    runtime = runtime_of(request)
    async with runtime.engine.begin() as conn:
        row = await repository.get_row(conn, engagement_id, lock=True)
        caller = capacities(principal, row) if row is not None else set()
        if row is None or not caller:
            raise not_found("Engagement")
        current = EngagementStatus(row["status"])
        target, capacity = decide(body.action, caller, current, body.reason)
        now = runtime.clock.now()
        validated = body.action is Action.VALIDATION
        await repository.set_status(conn, engagement_id, target, now, validated)
        structure = (
            row["issuer_structure_id"] if capacity is Capacity.ISSUER else row["supplier_structure_id"]
        )
        await repository.add_history(
            conn,
            engagement_id,
            repository.HistoryEntry(
                action=body.action,
                from_status=current,
                to_status=target,
                actor=principal.sub,
                actor_structure_id=structure,
                capacity=capacity,
                reason=body.reason,
                at=now,
            ),
        )
        if validated:
            validated_row = {**row, "validated_at": now}
            await runtime.publish(conn, engagement_validated(validated_row, runtime.settings.event_source))
    if validated:
        runtime.events_committed()
    async with runtime.engine.connect() as conn:
        return await _details_for(conn, principal, engagement_id)
