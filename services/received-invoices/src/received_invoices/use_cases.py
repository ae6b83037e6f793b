"""What received-invoices does: delegations of validation, and received invoices, decided against its
read model of the directory.

Each use case takes a unit of work and plain values, decides with the domain, and stores through the
repository. Who may see or act on a structure, a delegation or an invoice is decided here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from chorus_common.auth import Principal
from chorus_common.clock import paris_day
from chorus_common.db import Row
from chorus_common.events import InvoiceSubmitted, Party
from chorus_common.history import HistoryEntry
from chorus_common.problems import Problem, field_problem, not_found
from chorus_common.unit_of_work import UnitOfWork
from received_invoices import events, repository
from received_invoices.domain import (
    PUBLIC,
    ROUTED_FRAME,
    Action,
    Arrival,
    Capacity,
    Coverage,
    DelegationStatus,
    InvoiceStatus,
    Right,
    Scope,
    check_delegation,
    check_not_self,
    check_revocation,
    decide,
)

# --- Delegations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewDelegation:
    delegator_structure_id: str
    delegate_structure_id: str
    right: Right
    scope: Scope
    service_codes: list[str]
    start_date: date
    end_date: date | None


async def create_delegation(uow: UnitOfWork, new: NewDelegation) -> dict[str, Any]:
    caller = uow.caller
    if not caller.acts_for(new.delegator_structure_id):
        raise Problem(
            403, "not-your-structure", "Forbidden", "Only the delegating structure's users delegate"
        )
    check_not_self(new.delegator_structure_id, new.delegate_structure_id)
    async with uow:
        conn = uow.conn
        # Locking the delegator (in the read model) serialises its delegations, so the overlap check
        # below holds.
        delegator = await repository.directory_structure(conn, new.delegator_structure_id, lock=True)
        if delegator is None:
            raise field_problem(
                "delegator_structure_id",
                "unknown-structure",
                "Unknown structure",
                f"no active structure {new.delegator_structure_id!r} in the directory",
            )
        coverage = Coverage(new.scope, frozenset(new.service_codes), new.start_date, new.end_date)
        today = paris_day(uow.now())
        check_delegation(
            delegator["kind"],
            new.delegate_structure_id,
            await repository.directory_structure(conn, new.delegate_structure_id) is not None,
            set(new.service_codes)
            - await repository.active_service_codes(conn, new.delegator_structure_id, today),
            new.delegator_structure_id,
            coverage,
            await repository.active_coverages(conn, new.delegator_structure_id),
        )
        values = {
            "id": uuid.uuid4(),
            **new.__dict__,
            "service_codes": sorted(new.service_codes),
            "status": DelegationStatus.ACTIVE,
            "created_by": caller.sub,
            "created_at": uow.now(),
            "revoked_by": None,
            "revoked_at": None,
        }
        await repository.insert_delegation(conn, values)
        await uow.publish(events.delegation_updated(values, uow.source, uow.now()))
    return values


async def delegations(
    uow: UnitOfWork, given: bool, status: DelegationStatus | None, offset: int, limit: int
) -> tuple[list[Row], int]:
    async with uow.reading() as conn:
        return await repository.list_delegations(conn, uow.caller.structures, given, status, offset, limit)


def _visible_delegation(principal: Principal, row: Row | None) -> Row:
    if row is None or not (
        principal.acts_for(row["delegator_structure_id"]) or principal.acts_for(row["delegate_structure_id"])
    ):
        raise not_found("Delegation")
    return row


async def delegation(uow: UnitOfWork, delegation_id: uuid.UUID) -> Row:
    async with uow.reading() as conn:
        return _visible_delegation(uow.caller, await repository.get_delegation(conn, delegation_id))


async def revoke_delegation(uow: UnitOfWork, delegation_id: uuid.UUID) -> Row:
    caller = uow.caller
    async with uow:
        row = _visible_delegation(caller, await repository.get_delegation(uow.conn, delegation_id, lock=True))
        check_revocation(
            caller.acts_for(row["delegator_structure_id"]),
            DelegationStatus(row["status"]),
            str(delegation_id),
        )
        await repository.revoke_delegation(uow.conn, delegation_id, caller.sub, uow.now())
        revoked = await repository.get_delegation(uow.conn, delegation_id)
        assert revoked is not None
        await uow.publish(events.delegation_updated(dict(revoked), uow.source, uow.now()))
    return revoked


async def replay_delegations(uow: UnitOfWork) -> int:
    """Write every delegation to the outbox as its `delegation-updated` snapshot, with its current
    version, for a consumer that missed them (the directory, upgraded or rebuilt); how many."""
    async with uow:
        rows = await repository.all_delegations(uow.conn)
        for row in rows:
            await uow.publish(events.delegation_updated(dict(row), uow.source, uow.now()))
    return len(rows)


# --- Invoices --------------------------------------------------------------------------------


class InvoiceRefused(Exception):
    """The invoice cannot be received (unknown recipient, inactive service); the reason says why."""


@dataclass(frozen=True)
class Received:
    invoice_id: uuid.UUID
    created: bool


async def receive_invoice(uow: UnitOfWork, data: InvoiceSubmitted, source: str, actor: str) -> Received:
    """Record an invoice and route it: an A1 covered by a delegation goes to the delegate.

    The one path of every invoice that arrives, deposited over HTTP or as an `invoice-submitted` event.
    """
    conn = uow.conn
    recipient_id = data.recipient.structure_id
    service_code = data.recipient.service_code
    now = uow.now()
    routed = data.billing_frame == ROUTED_FRAME
    supplier_id = data.supplier.structure_id
    addressee = await repository.find_addressee(
        conn, recipient_id, service_code, paris_day(now), routed, supplier_id
    )
    if addressee is None or addressee.kind != PUBLIC:
        raise InvoiceRefused(f"recipient {recipient_id!r} is not a public structure of the directory")
    if service_code is not None and not addressee.service_active:
        raise InvoiceRefused(f"service {service_code!r} of {recipient_id!r} does not exist or is inactive")
    if addressee.supplier_name is None:
        raise InvoiceRefused(f"supplier {supplier_id!r} is not a structure of the directory")
    # The parties are the directory's: the names and addresses an invoice gives are not kept.
    supplier = Party(
        structure_id=supplier_id,
        name=addressee.supplier_name,
        email=addressee.supplier_email,
        service_code=data.supplier.service_code,
    )

    delegated = addressee.delegation_id is not None
    status = InvoiceStatus.A_VALIDER_1 if delegated else InvoiceStatus.MISE_A_DISPOSITION
    invoice_id = uuid.uuid4()
    recipient = Party(
        structure_id=recipient_id, name=addressee.name, email=addressee.email, service_code=service_code
    )
    values = {
        "id": invoice_id,
        "external_id": data.external_id,
        "source": source,
        "number": data.number,
        "billing_frame": data.billing_frame,
        "supplier_structure_id": data.supplier.structure_id,
        "recipient_structure_id": recipient_id,
        "recipient_service_code": service_code,
        "supplier": supplier.model_dump(mode="json"),
        "recipient": recipient.model_dump(mode="json"),
        "amount_ht": data.amount_ht,
        "vat_amount": data.vat_amount,
        "amount_ttc": data.amount_ttc,
        "currency": data.currency,
        "issue_date": data.issue_date,
        "status": status,
        "delegation_id": addressee.delegation_id,
        "delegate_structure_id": addressee.delegate_id,
        "delegation_right": addressee.delegation_right,
        "validation_decision": None,
        "with_recipient": not delegated,
        "received_at": now,
        "updated_at": now,
    }
    if not await repository.insert_invoice_once(conn, values):
        existing = await repository.find_invoice(conn, data.supplier.structure_id, data.external_id)
        assert existing is not None
        return Received(existing["id"], created=False)
    entry = HistoryEntry(
        action=Arrival.DEPOT,
        from_status=None,
        to_status=status,
        actor=actor,
        actor_structure_id=data.supplier.structure_id,
        capacity=Capacity.SUPPLIER,
        reason=f"delegated to {addressee.delegate_id}" if delegated else None,
        at=now,
    )
    await repository.add_history(conn, invoice_id, entry)
    if delegated:
        routed_event = events.delegation_routed(
            invoice_id, data, supplier, recipient, addressee, uow.source, now
        )
        await uow.publish(routed_event)
    return Received(invoice_id, created=True)


def _can_see(principal: Principal, row: Any) -> bool:
    return any(
        principal.acts_for(row[column])
        for column in ("supplier_structure_id", "recipient_structure_id", "delegate_structure_id")
    )


async def invoice(uow: UnitOfWork, invoice_id: uuid.UUID) -> dict[str, Any]:
    """The invoice with its history, if the caller is one of its parties (404 otherwise)."""
    found = await repository.get_invoice_with_history(uow.reads, invoice_id)
    if found is None or not _can_see(uow.caller, found[0]):
        raise not_found("Invoice")
    row, history = found
    return {**row, "history": history}


async def deposit_invoice(uow: UnitOfWork, data: InvoiceSubmitted) -> tuple[dict[str, Any], bool]:
    """An invoice deposited by its supplier's user; the invoice, and whether it is new."""
    caller = uow.caller
    if not caller.acts_for(data.supplier.structure_id):
        raise Problem(403, "not-your-structure", "Forbidden", "supplier.structure_id must be one you act for")
    try:
        async with uow:
            received = await receive_invoice(uow, data, f"/users/{caller.sub}", actor=caller.sub)
    except InvoiceRefused as refused:
        raise Problem(422, "invoice-refused", "Invoice refused", str(refused)) from refused
    return await invoice(uow, received.invoice_id), received.created


async def invoices(
    uow: UnitOfWork, work_list: str, status: InvoiceStatus | None, offset: int, limit: int
) -> tuple[list[Row], int]:
    async with uow.reading() as conn:
        return await repository.list_invoices(conn, work_list, uow.caller.structures, status, offset, limit)


async def act_on_invoice(
    uow: UnitOfWork, invoice_id: uuid.UUID, action: Action, reason: str | None
) -> dict[str, Any]:
    """The delegate's, the recipient's or the substitute's action on an invoice."""
    caller = uow.caller
    async with uow:
        row = await repository.get_invoice(uow.conn, invoice_id, lock=True)
        if row is None or not _can_see(caller, row):
            raise not_found("Invoice")
        current = InvoiceStatus(row["status"])
        delegate = row["delegate_structure_id"]
        is_delegate = delegate is not None and caller.acts_for(delegate)
        right = Right(row["delegation_right"]) if row["delegation_right"] else None
        is_recipient = caller.acts_for(row["recipient_structure_id"])
        outcome = decide(action, current, is_recipient, is_delegate, right, reason)
        now = uow.now()
        changes: dict[str, object] = {
            "status": outcome.status,
            "updated_at": now,
            "with_recipient": outcome.transmitted,
        }
        if outcome.decision is not None:
            changes["validation_decision"] = outcome.decision
        await repository.update_invoice(uow.conn, invoice_id, changes)
        entry = HistoryEntry(
            action=action,
            from_status=current,
            to_status=outcome.status,
            actor=caller.sub,
            actor_structure_id=delegate
            if outcome.capacity is Capacity.DELEGATE
            else row["recipient_structure_id"],
            capacity=outcome.capacity,
            reason=reason,
            at=now,
        )
        await repository.add_history(uow.conn, invoice_id, entry)
    return await invoice(uow, invoice_id)
