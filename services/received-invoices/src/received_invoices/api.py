"""HTTP API of received-invoices: the directory, delegations, invoices and their processing."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.auth import CurrentPrincipal, Principal
from chorus_common.db import DirectReads, fetch_page
from chorus_common.http import ExactJSONRoute, Page, Pagination, page_of
from chorus_common.problems import Problem, not_found
from chorus_common.runtime import runtime_of
from received_invoices import repository
from received_invoices.db import delegations, invoices, structure_services, structures
from received_invoices.domain import (
    Capacity,
    Coverage,
    InvoiceStatus,
    Right,
    StructureKind,
    decide,
    first_overlap,
)
from received_invoices.receiving import InvoiceRefused, receive_invoice
from received_invoices.schemas import (
    DelegationActionIn,
    DelegationIn,
    DelegationOut,
    InvoiceActionIn,
    InvoiceIn,
    InvoiceOut,
    InvoiceSummary,
    ServiceIn,
    ServiceOut,
    ServiceUpdate,
    StructureIn,
    StructureOut,
)

OPERATOR_ROLE = "admin"

directory = APIRouter(prefix="/structures", tags=["directory"])
delegation_router = APIRouter(prefix="/delegations", tags=["delegations"])
invoice_router = APIRouter(prefix="/invoices", tags=["received invoices"], route_class=ExactJSONRoute)


def _member_or_operator(principal: Principal, structure_id: str) -> bool:
    return principal.acts_for(structure_id) or principal.has_role(OPERATOR_ROLE)


async def _own_structure(conn: AsyncConnection, principal: Principal, structure_id: str) -> RowMapping:
    """A structure the caller acts for (404 for anyone else, existing or not)."""
    row = await repository.get_structure(conn, structure_id)
    if row is None or not _member_or_operator(principal, structure_id):
        raise not_found("Structure")
    return row


# --- Directory -------------------------------------------------------------------------------


@directory.post("", status_code=status.HTTP_201_CREATED, response_model=StructureOut)
async def register_structure(
    request: Request, principal: CurrentPrincipal, body: StructureIn
) -> StructureOut:
    if not _member_or_operator(principal, body.identifier):
        raise Problem(403, "not-your-structure", "Forbidden", "You may register only a structure you act for")
    runtime = runtime_of(request)
    values = {
        **body.model_dump(exclude={"identifier"}),
        "id": body.identifier,
        "created_at": runtime.clock.now(),
    }
    try:
        async with runtime.engine.begin() as conn:
            await conn.execute(structures.insert().values(**values))
    except sa_exc.IntegrityError as exc:
        raise Problem(409, "structure-exists", "Structure already registered", body.identifier) from exc
    return StructureOut.model_validate(values)


@directory.get("/{structure_id}", response_model=StructureOut)
async def get_structure(request: Request, principal: CurrentPrincipal, structure_id: str) -> StructureOut:
    async with runtime_of(request).engine.connect() as conn:
        return StructureOut.model_validate(dict(await _own_structure(conn, principal, structure_id)))


@directory.post("/{structure_id}/services", status_code=status.HTTP_201_CREATED, response_model=ServiceOut)
async def add_service(
    request: Request, principal: CurrentPrincipal, structure_id: str, body: ServiceIn
) -> ServiceOut:
    values = {"structure_id": structure_id, **body.model_dump()}
    try:
        async with runtime_of(request).engine.begin() as conn:
            await _own_structure(conn, principal, structure_id)
            await conn.execute(structure_services.insert().values(**values))
    except sa_exc.IntegrityError as exc:
        raise Problem(409, "service-exists", "Service already exists", body.code) from exc
    return ServiceOut.model_validate(values)


@directory.get("/{structure_id}/services", response_model=Page[ServiceOut])
async def list_services(
    request: Request, principal: CurrentPrincipal, structure_id: str, pagination: Pagination
) -> Page[ServiceOut]:
    async with runtime_of(request).engine.connect() as conn:
        await _own_structure(conn, principal, structure_id)
        rows, total = await fetch_page(
            conn,
            structure_services,
            [structure_services.c.structure_id == structure_id],
            [structure_services.c.code],
            pagination.offset,
            pagination.page_size,
        )
    return page_of(ServiceOut, rows, total, pagination)


@directory.patch("/{structure_id}/services/{code}", response_model=ServiceOut)
async def update_service(
    request: Request, principal: CurrentPrincipal, structure_id: str, code: str, body: ServiceUpdate
) -> ServiceOut:
    async with runtime_of(request).engine.begin() as conn:
        await _own_structure(conn, principal, structure_id)
        changes = body.model_dump(exclude_none=True)
        if changes:
            await conn.execute(
                structure_services.update()
                .where(structure_services.c.structure_id == structure_id, structure_services.c.code == code)
                .values(**changes)
            )
        row = await repository.get_service(conn, structure_id, code)
        if row is None:
            raise not_found("Service")
    return ServiceOut.model_validate(dict(row))


# --- Delegations -----------------------------------------------------------------------------


def _delegation_problem(slug: str, detail: str, status_code: int = 422) -> Problem:
    return Problem(status_code, slug, "Delegation refused", detail)


@delegation_router.post("", status_code=status.HTTP_201_CREATED, response_model=DelegationOut)
async def create_delegation(
    request: Request, principal: CurrentPrincipal, body: DelegationIn
) -> DelegationOut:
    if not principal.acts_for(body.delegator_structure_id):
        raise Problem(
            403, "not-your-structure", "Forbidden", "Only the delegating structure's users delegate"
        )
    if body.delegate_structure_id == body.delegator_structure_id:
        raise _delegation_problem("self-delegation", "A structure cannot delegate to itself")
    runtime = runtime_of(request)
    now = runtime.clock.now()
    async with runtime.engine.begin() as conn:
        # Locking the delegator serialises its delegations, so the overlap check below holds.
        delegator = await repository.get_structure(conn, body.delegator_structure_id, lock=True)
        if delegator is None:
            raise not_found("Structure")
        if delegator["kind"] != StructureKind.PUBLIC:
            raise _delegation_problem(
                "private-delegator", "Only a public structure delegates its received invoices"
            )
        if await repository.get_structure(conn, body.delegate_structure_id) is None:
            raise _delegation_problem(
                "unknown-delegate", f"No structure {body.delegate_structure_id!r} in the directory"
            )
        unknown = set(body.service_codes) - await repository.active_service_codes(
            conn, body.delegator_structure_id
        )
        if unknown:
            raise _delegation_problem(
                "unknown-services", f"Not active services of {body.delegator_structure_id}: {sorted(unknown)}"
            )
        coverage = Coverage(body.scope, frozenset(body.service_codes), body.start_date, body.end_date)
        clash = first_overlap(coverage, await repository.active_coverages(conn, body.delegator_structure_id))
        if clash is not None:
            raise _delegation_problem(
                "delegation-overlap",
                f"An active delegation ({clash}) already covers part of this on some day",
                409,
            )
        values = {
            "id": uuid.uuid4(),
            **body.model_dump(),
            "service_codes": sorted(body.service_codes),
            "status": repository.ACTIVE,
            "created_by": principal.sub,
            "created_at": now,
            "revoked_by": None,
            "revoked_at": None,
        }
        await conn.execute(delegations.insert().values(**values))
    return DelegationOut.model_validate(values)


@delegation_router.get("", response_model=Page[DelegationOut])
async def list_delegations(
    request: Request,
    principal: CurrentPrincipal,
    pagination: Pagination,
    direction: Literal["given", "received"] = "given",
    status: Literal["ACTIVE", "REVOKED"] | None = None,
) -> Page[DelegationOut]:
    column = (
        delegations.c.delegator_structure_id if direction == "given" else delegations.c.delegate_structure_id
    )
    conditions: list[sa.ColumnElement[bool]] = [column.in_(list(principal.structures))]
    if status is not None:
        conditions.append(delegations.c.status == status)
    async with runtime_of(request).engine.connect() as conn:
        rows, total = await fetch_page(
            conn,
            delegations,
            conditions,
            [delegations.c.created_at.desc()],
            pagination.offset,
            pagination.page_size,
        )
    return page_of(DelegationOut, rows, total, pagination)


async def _visible_delegation(
    conn: AsyncConnection, principal: Principal, delegation_id: uuid.UUID, lock: bool = False
) -> RowMapping:
    query = sa.select(delegations).where(delegations.c.id == delegation_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().first()
    if row is None or not (
        principal.acts_for(row["delegator_structure_id"]) or principal.acts_for(row["delegate_structure_id"])
    ):
        raise not_found("Delegation")
    return row


@delegation_router.get("/{delegation_id}", response_model=DelegationOut)
async def get_delegation(
    request: Request, principal: CurrentPrincipal, delegation_id: uuid.UUID
) -> DelegationOut:
    async with runtime_of(request).engine.connect() as conn:
        return DelegationOut.model_validate(dict(await _visible_delegation(conn, principal, delegation_id)))


@delegation_router.post("/{delegation_id}/actions", response_model=DelegationOut)
async def act_on_delegation(
    request: Request, principal: CurrentPrincipal, delegation_id: uuid.UUID, body: DelegationActionIn
) -> DelegationOut:
    runtime = runtime_of(request)
    async with runtime.engine.begin() as conn:
        row = await _visible_delegation(conn, principal, delegation_id, lock=True)
        if not principal.acts_for(row["delegator_structure_id"]):
            raise Problem(
                403, "action-forbidden", "Forbidden", "Only the delegating structure revokes a delegation"
            )
        if row["status"] != repository.ACTIVE:
            raise Problem(409, "action-not-allowed", "Delegation already revoked", str(delegation_id))
        await conn.execute(
            delegations.update()
            .where(delegations.c.id == delegation_id)
            .values(status=repository.REVOKED, revoked_by=principal.sub, revoked_at=runtime.clock.now())
        )
        updated = await _visible_delegation(conn, principal, delegation_id)
    return DelegationOut.model_validate(dict(updated))


# --- Invoices --------------------------------------------------------------------------------


def _can_see(principal: Principal, row: Mapping[str, Any] | RowMapping) -> bool:
    return any(
        principal.acts_for(row[column])
        for column in ("supplier_structure_id", "recipient_structure_id", "delegate_structure_id")
    )


async def _invoice_out(reads: DirectReads, principal: Principal, invoice_id: uuid.UUID) -> InvoiceOut:
    found = await repository.get_invoice_with_history(reads, invoice_id)
    if found is None or not _can_see(principal, found[0]):
        raise not_found("Invoice")
    row, history = found
    return InvoiceOut.model_validate({**row, "history": history})


@invoice_router.post("", status_code=status.HTTP_201_CREATED, response_model=InvoiceOut)
async def deposit_invoice(
    request: Request, response: Response, principal: CurrentPrincipal, body: InvoiceIn
) -> InvoiceOut:
    if not principal.acts_for(body.supplier.structure_id):
        raise Problem(403, "not-your-structure", "Forbidden", "supplier.structure_id must be one you act for")
    runtime = runtime_of(request)
    try:
        async with runtime.engine.begin() as conn:
            received = await receive_invoice(
                conn, runtime, body, f"/users/{principal.sub}", actor=principal.sub
            )
    except InvoiceRefused as refused:
        raise Problem(422, "invoice-refused", "Invoice refused", str(refused)) from refused
    if received.created:
        runtime.events_committed()
    else:
        response.status_code = status.HTTP_200_OK  # the same external_id again: nothing new
    return await _invoice_out(runtime.direct_reads, principal, received.invoice_id)


@invoice_router.get("", response_model=Page[InvoiceSummary])
async def list_invoices(
    request: Request,
    principal: CurrentPrincipal,
    pagination: Pagination,
    work_list: Annotated[Literal["to-validate", "received", "deposited"], Query(alias="list")],
    status: InvoiceStatus | None = None,
) -> Page[InvoiceSummary]:
    conditions: list[sa.ColumnElement[bool]] = [repository.work_list(work_list, principal.structures)]
    if status is not None:
        conditions.append(invoices.c.status == status)
    async with runtime_of(request).engine.connect() as conn:
        rows, total = await fetch_page(
            conn,
            invoices,
            conditions,
            [invoices.c.received_at.desc()],
            pagination.offset,
            pagination.page_size,
        )
    return page_of(InvoiceSummary, rows, total, pagination)


@invoice_router.get("/{invoice_id}", response_model=InvoiceOut)
async def get_invoice(request: Request, principal: CurrentPrincipal, invoice_id: uuid.UUID) -> InvoiceOut:
    return await _invoice_out(runtime_of(request).direct_reads, principal, invoice_id)


@invoice_router.post("/{invoice_id}/actions", response_model=InvoiceOut)
async def act_on_invoice(
    request: Request, principal: CurrentPrincipal, invoice_id: uuid.UUID, body: InvoiceActionIn
) -> InvoiceOut:
    runtime = runtime_of(request)
    now = runtime.clock.now()
    async with runtime.engine.begin() as conn:
        row = await repository.get_invoice(conn, invoice_id, lock=True)
        if row is None or not _can_see(principal, row):
            raise not_found("Invoice")
        current = InvoiceStatus(row["status"])
        is_delegate = row["delegate_structure_id"] is not None and principal.acts_for(
            row["delegate_structure_id"]
        )
        right = Right(row["delegation_right"]) if row["delegation_right"] else None
        is_recipient = principal.acts_for(row["recipient_structure_id"])
        outcome = decide(body.action, current, is_recipient, is_delegate, right, body.reason)
        changes: dict[str, object] = {
            "status": outcome.status,
            "updated_at": now,
            "with_recipient": outcome.transmitted,
        }
        if outcome.decision is not None:
            changes["validation_decision"] = outcome.decision
        await conn.execute(invoices.update().where(invoices.c.id == invoice_id).values(**changes))
        structure = (
            row["delegate_structure_id"]
            if outcome.capacity is Capacity.DELEGATE
            else row["recipient_structure_id"]
        )
        await repository.add_history(
            conn,
            invoice_id,
            repository.HistoryEntry(
                action=body.action,
                from_status=current,
                to_status=outcome.status,
                actor=principal.sub,
                actor_structure_id=structure,
                capacity=outcome.capacity,
                reason=body.reason,
                at=now,
            ),
        )
    return await _invoice_out(runtime.direct_reads, principal, invoice_id)
