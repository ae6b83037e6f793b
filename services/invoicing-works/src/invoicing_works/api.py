"""HTTP API of invoicing-works: deposit, read, act, the 'Synthèse' lists and 'Traiter le rejet'."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import sqlalchemy.exc as sa_exc
from fastapi import APIRouter, Query, Request, status
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.auth import CurrentPrincipal, Principal
from chorus_common.clock import paris_day
from chorus_common.http import ExactJSONRoute, Page, Pagination, page_of
from chorus_common.problems import Problem, not_found
from chorus_common.runtime import runtime_of
from invoicing_works import repository
from invoicing_works.domain import (
    BillingFrame,
    InvoiceState,
    RejectionOutcome,
    Role,
    Status,
    decide,
    first_status,
    moe_deadline,
    rejection_outcome,
)
from invoicing_works.schemas import (
    ActionIn,
    RejectionResult,
    RejectionsIn,
    RejectionsOut,
    WorksInvoiceIn,
    WorksInvoiceOut,
    WorksInvoiceSummary,
)

router = APIRouter(prefix="/works-invoices", tags=["works invoices"], route_class=ExactJSONRoute)


def roles_of(principal: Principal, row: RowMapping) -> set[Role]:
    return {role for role, column in repository.PARTY_COLUMNS.items() if principal.acts_for(row[column.name])}


async def _details_for(conn: AsyncConnection, principal: Principal, invoice_id: uuid.UUID) -> WorksInvoiceOut:
    row = await repository.get_row(conn, invoice_id)
    if row is None or not roles_of(principal, row):
        raise not_found("Works invoice")
    history = await repository.get_history(conn, invoice_id)
    return WorksInvoiceOut.model_validate(
        {**row, "your_roles": sorted(roles_of(principal, row)), "history": [dict(h) for h in history]}
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WorksInvoiceOut)
async def deposit(request: Request, principal: CurrentPrincipal, body: WorksInvoiceIn) -> WorksInvoiceOut:
    if not principal.acts_for(body.supplier.structure_id):
        raise Problem(
            403,
            "not-your-structure",
            "Forbidden",
            "supplier.structure_id must be one of the structures you act for",
        )
    runtime = runtime_of(request)
    now = runtime.clock.now()
    initial = first_status(has_moe=body.moe is not None)
    deadline = moe_deadline(now) if body.billing_frame is BillingFrame.A4 else None
    invoice_id = uuid.uuid4()
    values: dict[str, Any] = {
        "id": invoice_id,
        "number": body.number,
        "billing_frame": body.billing_frame,
        "status": initial,
        "supplier_structure_id": body.supplier.structure_id,
        "moe_structure_id": body.moe.structure_id if body.moe else None,
        "moa_structure_id": body.moa.structure_id if body.moa else None,
        "supplier": body.supplier.model_dump(mode="json"),
        "moe": body.moe.model_dump(mode="json") if body.moe else None,
        "moa": body.moa.model_dump(mode="json") if body.moa else None,
        "currency": body.currency,
        "amount_ht": body.amount_ht,
        "vat_amount": body.vat_amount,
        "amount_ttc": body.amount_ttc,
        "made_available_at": now,
        "moe_deadline": deadline,
        "deposited_by": principal.sub,
        "created_at": now,
        "updated_at": now,
    }

    def entry(action: str, source: Status | None, target: Status) -> repository.HistoryEntry:
        return repository.HistoryEntry(
            action=action,
            from_status=source,
            to_status=target,
            actor=principal.sub,
            actor_structure_id=body.supplier.structure_id,
            role=Role.FOURNISSEUR,
            at=now,
        )

    entries = [entry("DEPOT", None, Status.DEPOSEE), entry("MISE_A_DISPOSITION", Status.DEPOSEE, initial)]
    try:
        async with runtime.engine.begin() as conn:
            await repository.insert_invoice(conn, values, entries)
    except sa_exc.IntegrityError as exc:
        if "uq_works_invoice_supplier_number" not in str(exc.orig):
            raise
        raise Problem(
            409,
            "works-invoice-number-taken",
            "Invoice number already used",
            f"Supplier {body.supplier.structure_id} already has a works invoice numbered {body.number!r}",
        ) from exc
    async with runtime.engine.connect() as conn:
        return await _details_for(conn, principal, invoice_id)


@router.get("", response_model=Page[WorksInvoiceSummary])
async def list_invoices(
    request: Request,
    principal: CurrentPrincipal,
    pagination: Pagination,
    role: Role | None = None,
    status: Status | None = None,
    billing_frame: BillingFrame | None = None,
    number: Annotated[str | None, Query(max_length=50)] = None,
) -> Page[WorksInvoiceSummary]:
    where = repository.InvoiceFilter(principal.structures, role, status, billing_frame, number)
    async with runtime_of(request).engine.connect() as conn:
        rows, total = await repository.list_rows(
            conn, where.conditions(), pagination.offset, pagination.page_size
        )
    return page_of(WorksInvoiceSummary, rows, total, pagination)


@router.get("/to-process", response_model=Page[WorksInvoiceSummary], summary="The 'Synthèse' list of a role")
async def to_process(
    request: Request, principal: CurrentPrincipal, pagination: Pagination, role: Role
) -> Page[WorksInvoiceSummary]:
    runtime = runtime_of(request)
    conditions = repository.to_process_conditions(principal.structures, role, paris_day(runtime.clock.now()))
    async with runtime.engine.connect() as conn:
        rows, total = await repository.list_rows(conn, conditions, pagination.offset, pagination.page_size)
    return page_of(WorksInvoiceSummary, rows, total, pagination)


@router.get("/{invoice_id}", response_model=WorksInvoiceOut)
async def get_invoice(
    request: Request, principal: CurrentPrincipal, invoice_id: uuid.UUID
) -> WorksInvoiceOut:
    async with runtime_of(request).engine.connect() as conn:
        return await _details_for(conn, principal, invoice_id)


@router.post("/{invoice_id}/actions", response_model=WorksInvoiceOut)
async def act(
    request: Request, principal: CurrentPrincipal, invoice_id: uuid.UUID, body: ActionIn
) -> WorksInvoiceOut:
    runtime = runtime_of(request)
    now = runtime.clock.now()
    async with runtime.engine.begin() as conn:
        row = await repository.get_row(conn, invoice_id, lock=True)
        roles = roles_of(principal, row) if row is not None else set()
        if row is None or not roles:
            raise not_found("Works invoice")
        current = Status(row["status"])
        state = InvoiceState(
            BillingFrame(row["billing_frame"]),
            current,
            row["moa_structure_id"] is not None,
            row["moe_deadline"],
        )
        decision = decide(body.action, roles, state, paris_day(now), body.reason_code, body.reason)
        amended = body.amounts
        if amended is not None and decision.target is not Status.MISE_A_DISPOSITION_MOA:
            raise Problem(
                422,
                "action-invalid",
                "Action incomplete",
                "amounts may be modified only when passing to the MOA",
            )
        changes: dict[str, Any] = {"status": decision.target, "updated_at": now}
        if amended is not None:
            changes.update(amended.model_dump())
        await repository.update_invoice(conn, invoice_id, **changes)
        structure = row[repository.PARTY_COLUMNS[decision.role].name]
        await repository.add_history(
            conn,
            invoice_id,
            repository.HistoryEntry(
                action=body.action,
                from_status=current,
                to_status=decision.target,
                actor=principal.sub,
                actor_structure_id=structure,
                role=decision.role,
                acting_for=decision.acting_for,
                reason_code=body.reason_code,
                reason=body.reason,
                amounts=amended.model_dump(mode="json") if amended else None,
                at=now,
            ),
        )
    async with runtime.engine.connect() as conn:
        return await _details_for(conn, principal, invoice_id)


def _parse_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


DETAILS = {
    RejectionOutcome.PROCESSED: "the rejection is processed; the invoice left the list to process",
    RejectionOutcome.NOT_FOUND: "no works invoice of yours has this id",
    RejectionOutcome.NOT_REJECTED: "the invoice is not rejected",
    RejectionOutcome.ALREADY_PROCESSED: "the rejection was already processed",
}


@router.post(
    "/rejections/process", response_model=RejectionsOut, summary="'Traiter le rejet' on any mix of invoices"
)
async def process_rejections(
    request: Request, principal: CurrentPrincipal, body: RejectionsIn
) -> RejectionsOut:
    runtime = runtime_of(request)
    now = runtime.clock.now()
    parsed = {raw: _parse_id(raw) for raw in body.ids}
    results: list[RejectionResult] = []
    async with runtime.engine.begin() as conn:
        rows = await repository.lock_many(conn, [i for i in parsed.values() if i is not None])
        processed_now: set[uuid.UUID] = set()
        for raw in body.ids:
            invoice_id = parsed[raw]
            row = rows.get(invoice_id) if invoice_id is not None else None
            outcome = rejection_outcome(
                Status(row["status"]) if row is not None else None,
                row is not None and principal.acts_for(row["supplier_structure_id"]),
                row is not None and (row["rejection_processed_at"] is not None or row["id"] in processed_now),
            )
            if outcome is RejectionOutcome.PROCESSED and row is not None:
                processed_now.add(row["id"])
                await repository.update_invoice(conn, row["id"], rejection_processed_at=now, updated_at=now)
                await repository.add_history(
                    conn,
                    row["id"],
                    repository.HistoryEntry(
                        action="TRAITEMENT_REJET",
                        from_status=Status.REJETEE,
                        to_status=Status.REJETEE,
                        actor=principal.sub,
                        actor_structure_id=row["supplier_structure_id"],
                        role=Role.FOURNISSEUR,
                        at=now,
                    ),
                )
            results.append(RejectionResult(id=raw, outcome=outcome, detail=DETAILS[outcome]))
    return RejectionsOut(processed=len(processed_now), results=results)
