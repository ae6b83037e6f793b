"""What invoicing-works does: deposit, read, list and act on works invoices, 'Traiter le rejet', and
the daily sweep of the MOE's deadlines.

Each use case takes a unit of work and plain values, decides with the domain, and stores through the
repository; which roles a caller holds on a works invoice is decided here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from chorus_common import rejections
from chorus_common.clock import paris_day
from chorus_common.db import Row
from chorus_common.problems import Problem, field_problem, not_found
from chorus_common.rejections import RejectionOutcome
from chorus_common.replica import PartyRef
from chorus_common.unit_of_work import UnitOfWork
from invoicing_works import events, repository
from invoicing_works.domain import (
    PARTY_STRUCTURE,
    Action,
    BillingFrame,
    Filing,
    InvoiceQuery,
    InvoiceState,
    RefusalReason,
    Role,
    Status,
    check_amendment,
    decide,
    depositor,
    first_status,
    moe_deadline,
    repeated_party,
)
from invoicing_works.repository import WorksHistoryEntry

FIELD = {Role.FOURNISSEUR: "supplier", Role.MOE: "moe", Role.MOA: "moa"}  # the request's names


async def _record(uow: UnitOfWork, invoice: Row, entry: WorksHistoryEntry) -> None:
    """Add the entry to the invoice's history and, when it changes the status, tell integrators
    (`works-invoice-status-changed`, its `sequence` the entry's id)."""
    sequence = await repository.add_history(uow.conn, invoice["id"], entry)
    if entry.from_status != entry.to_status:
        await uow.publish(events.status_changed(invoice, entry, sequence, uow.source))


def roles_of(structures: frozenset[str], row: Any) -> set[Role]:
    return {role for role, name in PARTY_STRUCTURE.items() if row[name] in structures}


async def works_invoice(uow: UnitOfWork, invoice_id: uuid.UUID) -> dict[str, Any]:
    """The works invoice with its history and the caller's roles on it (404 when it has none)."""
    async with uow.reading() as conn:
        row = await repository.get_row(conn, invoice_id)
        roles = roles_of(uow.caller.structures, row) if row is not None else set()
        if row is None or not roles:
            raise not_found("Works invoice")
        history = await repository.get_history(conn, invoice_id)
    return {**row, "your_roles": sorted(roles), "history": [dict(entry) for entry in history]}


@dataclass(frozen=True)
class Amounts:
    amount_ht: Decimal
    vat_amount: Decimal
    amount_ttc: Decimal


@dataclass(frozen=True)
class NewWorksInvoice:
    number: str
    billing_frame: BillingFrame
    supplier: PartyRef
    moe: PartyRef | None
    moa: PartyRef | None
    currency: str
    amounts: Amounts


async def deposit(uow: UnitOfWork, new: NewWorksInvoice) -> dict[str, Any]:
    """A works document deposited by the party its frame names: the supplier, the MOE or the MOA."""
    caller = uow.caller
    named = {Role.FOURNISSEUR: new.supplier, Role.MOE: new.moe, Role.MOA: new.moa}
    deposited_by = depositor(new.billing_frame)
    depositing = named[deposited_by]
    if depositing is None or not caller.acts_for(depositing.structure_id):
        raise Problem(
            403,
            "not-your-structure",
            "Forbidden",
            f"{FIELD[deposited_by]}.structure_id must be one of the structures you act for: an "
            f"{new.billing_frame} is deposited by its {deposited_by}",
        )
    repeated = repeated_party({role: ref.structure_id if ref else None for role, ref in named.items()})
    if repeated is not None:
        raise field_problem(
            f"{FIELD[repeated]}.structure_id",
            "same-structure-twice",
            "A structure named twice",
            "supplier, MOE and MOA must be three different structures",
        )
    refs = {FIELD[role]: ref for role, ref in named.items() if ref is not None}
    async with uow.reading() as conn:
        parties = await repository.directory_parties(conn, refs)
    supplier, moe, moa = parties["supplier"], parties.get("moe"), parties.get("moa")
    now = uow.now()
    initial = first_status(new.moe is not None, deposited_by)
    invoice_id = uuid.uuid4()
    values: dict[str, Any] = {
        "id": invoice_id,
        "number": new.number,
        "billing_frame": new.billing_frame,
        "status": initial,
        "supplier_structure_id": new.supplier.structure_id,
        "moe_structure_id": new.moe.structure_id if new.moe else None,
        "moa_structure_id": new.moa.structure_id if new.moa else None,
        "supplier": supplier.model_dump(mode="json"),
        "moe": moe.model_dump(mode="json") if moe else None,
        "moa": moa.model_dump(mode="json") if moa else None,
        "currency": new.currency,
        "amount_ht": new.amounts.amount_ht,
        "vat_amount": new.amounts.vat_amount,
        "amount_ttc": new.amounts.amount_ttc,
        "made_available_at": now,
        "moe_deadline": moe_deadline(now) if new.billing_frame is BillingFrame.A4 else None,
        "deposited_by": caller.sub,
        "created_at": now,
        "updated_at": now,
    }

    def entry(action: Filing, source: Status | None, target: Status) -> WorksHistoryEntry:
        return WorksHistoryEntry(
            action=action,
            from_status=source,
            to_status=target,
            actor=caller.sub,
            actor_structure_id=depositing.structure_id,
            capacity=deposited_by,
            at=now,
        )

    entries = [
        entry(Filing.DEPOT, None, Status.DEPOSEE),
        entry(Filing.MISE_A_DISPOSITION, Status.DEPOSEE, initial),
    ]
    async with uow:
        deposited = await repository.insert_invoice_once(uow.conn, values)
        if deposited:
            for each in entries:
                await _record(uow, values, each)
    if not deposited:
        raise Problem(
            409,
            "works-invoice-number-taken",
            "Invoice number already used",
            f"Supplier {new.supplier.structure_id} already has a works invoice numbered {new.number!r}",
        )
    return await works_invoice(uow, invoice_id)


async def works_invoices(
    uow: UnitOfWork, query: InvoiceQuery, offset: int, limit: int
) -> tuple[list[Row], int]:
    async with uow.reading() as conn:
        conditions = repository.matching(uow.caller.structures, query)
        return await repository.list_rows(conn, conditions, offset, limit)


async def to_process(uow: UnitOfWork, role: Role, offset: int, limit: int) -> tuple[list[Row], int]:
    """The 'Synthèse' list of one of the caller's roles."""
    conditions = repository.to_process_conditions(uow.caller.structures, role, paris_day(uow.now()))
    async with uow.reading() as conn:
        return await repository.list_rows(conn, conditions, offset, limit)


async def act(
    uow: UnitOfWork,
    invoice_id: uuid.UUID,
    action: Action,
    reason_code: RefusalReason | None,
    reason: str | None,
    amended: Amounts | None,
) -> dict[str, Any]:
    caller = uow.caller
    now = uow.now()
    async with uow:
        row = await repository.get_row(uow.conn, invoice_id, lock=True)
        roles = roles_of(caller.structures, row) if row is not None else set()
        if row is None or not roles:
            raise not_found("Works invoice")
        current = Status(row["status"])
        state = InvoiceState(
            BillingFrame(row["billing_frame"]),
            current,
            row["moa_structure_id"] is not None,
            row["moe_deadline"],
        )
        decision = decide(action, roles, state, paris_day(now), reason_code, reason)
        changes: dict[str, Any] = {"status": decision.target, "updated_at": now}
        amounts: dict[str, str] | None = None
        if amended is not None:
            check_amendment(decision)
            changes.update(amended.__dict__)
            # Who changed what: the history keeps the amounts before the MOE's change and after it.
            amounts = {name: str(value) for name, value in amended.__dict__.items()}
            amounts.update({f"previous_{name}": str(row[name]) for name in amended.__dict__})
        await repository.update_invoice(uow.conn, invoice_id, **changes)
        entry = WorksHistoryEntry(
            action=action,
            from_status=current,
            to_status=decision.target,
            actor=caller.sub,
            actor_structure_id=row[PARTY_STRUCTURE[decision.role]],
            capacity=decision.role,
            acting_for=decision.acting_for,
            reason_code=reason_code,
            reason=reason,
            amounts=amounts,
            at=now,
        )
        await _record(uow, {**row, **changes}, entry)
    return await works_invoice(uow, invoice_id)


async def process_rejections(uow: UnitOfWork, ids: list[str]) -> list[tuple[str, RejectionOutcome]]:
    """'Traiter le rejet' on any mix of ids: each gets its own outcome, the request never fails."""

    async def mark_processed(row: Row, entry: dict[str, Any]) -> None:
        now = entry["at"]
        await repository.update_invoice(uow.conn, row["id"], rejection_processed_at=now, updated_at=now)
        await _record(uow, row, WorksHistoryEntry(**entry))

    return await rejections.process_rejections(
        uow, ids, lambda locked: repository.lock_many(uow.conn, locked), mark_processed
    )


async def sweep_deadlines(uow: UnitOfWork, notice_date: date) -> int:
    """Issue the `deadline-exceeded` events due on `notice_date` (a Paris day); returns how many."""
    async with uow:
        return await repository.issue_deadline_notices(uow.conn, notice_date, uow.source, uow.now())
