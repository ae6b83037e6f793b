"""What received-invoices does: delegations of validation, and received invoices, decided against its
read model of the directory.

Each use case takes a unit of work and plain values, decides with the domain, and stores through the
repository. Who may see or act on a structure, a delegation or an invoice is decided here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common import rejections
from chorus_common.attachments import DEFAULT_MAX_BYTES, Upload
from chorus_common.auth import Principal
from chorus_common.clock import paris_day
from chorus_common.db import Row
from chorus_common.events import InvoiceSubmitted, Party
from chorus_common.frames import frame
from chorus_common.problems import Problem, field_problem, not_found
from chorus_common.rejections import RejectionOutcome
from chorus_common.unit_of_work import UnitOfWork
from received_invoices import events, repository
from received_invoices.db import attachments
from received_invoices.domain import (
    CAPACITY,
    DECISION_OF,
    DECISIONS,
    OPERATION,
    PUBLIC,
    REQUIRED,
    ROUTED_FRAME,
    Capacity,
    Coverage,
    DelegationStatus,
    InvoiceStatus,
    Move,
    Right,
    Role,
    Scope,
    Standing,
    Step,
    check_coverage,
    check_delegation,
    check_modification,
    check_not_self,
    check_revocation,
    decide,
    delegation_running,
    next_statuses,
    recipient_rules,
    roles_of,
)
from received_invoices.repository import ReceivedHistoryEntry

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
            "version": 1,
            "ended_at": None,
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
    """The delegator revokes the delegation: it ends at once, and its waiting invoices go back."""
    caller = uow.caller
    async with uow:
        row = _visible_delegation(caller, await repository.get_delegation(uow.conn, delegation_id, lock=True))
        check_revocation(
            caller.acts_for(row["delegator_structure_id"]),
            DelegationStatus(row["status"]),
            str(delegation_id),
        )
        now = uow.now()
        changes = {"status": DelegationStatus.REVOKED, "revoked_by": caller.sub, "revoked_at": now}
        revoked = await repository.update_delegation(uow.conn, delegation_id, **changes)
        await uow.publish(events.delegation_updated(revoked, uow.source, now))
        if row["ended_at"] is None:
            await _end_delegation(uow, revoked, "REVOCATION", caller.sub)
            revoked = await repository.update_delegation(uow.conn, delegation_id, bump=False, ended_at=now)
    return revoked


@dataclass(frozen=True)
class DelegationChange:
    """A delegation's end date and services, as its delegator wants them now (None: unchanged)."""

    end_date: date | None
    end_date_given: bool
    service_codes: list[str] | None


async def modify_delegation(uow: UnitOfWork, delegation_id: uuid.UUID, change: DelegationChange) -> Row:
    """The delegator changes a running delegation's end date or services, under the overlap rules of a
    new one; the invoices waiting at the delegate that it no longer covers go back to the delegator."""
    caller = uow.caller
    async with uow:
        conn = uow.conn
        row = _visible_delegation(caller, await repository.get_delegation(conn, delegation_id))
        delegator_id = row["delegator_structure_id"]
        if caller.acts_for(delegator_id):
            # As for a new delegation: the delegator's lock serialises the overlap check.
            await repository.directory_structure(conn, delegator_id, lock=True)
        row = _visible_delegation(caller, await repository.get_delegation(conn, delegation_id, lock=True))
        current = repository.coverage_of(row)
        wanted = Coverage(
            current.scope,
            frozenset(change.service_codes) if change.service_codes is not None else current.services,
            current.start,
            change.end_date if change.end_date_given else current.end,
        )
        check_modification(
            caller.acts_for(delegator_id),
            DelegationStatus(row["status"]),
            row["ended_at"] is not None,
            current,
            wanted,
        )
        today = paris_day(uow.now())
        check_coverage(
            set(wanted.services - current.services)
            - await repository.active_service_codes(conn, delegator_id, today),
            delegator_id,
            wanted,
            await repository.active_coverages(conn, delegator_id, excluding=delegation_id),
        )
        modified = await repository.update_delegation(
            conn, delegation_id, end_date=wanted.end, service_codes=sorted(wanted.services)
        )
        await uow.publish(events.delegation_updated(modified, uow.source, uow.now()))
        if wanted.end is not None and wanted.end < today:
            await _end_delegation(uow, modified, "ECHEANCE", caller.sub)
            modified = await repository.update_delegation(conn, delegation_id, bump=False, ended_at=uow.now())
        else:
            await _hand_back(
                uow,
                modified,
                lambda invoice: wanted.covers(invoice["recipient_service_code"], today),
                caller.sub,
                "délégation modifiée : la facture n'est plus couverte",
            )
    return modified


async def end_past_delegations(uow: UnitOfWork, day: date) -> int:
    """End the delegations whose end date is before `day` (a Paris day): their waiting invoices go
    back to the delegator, their delegate is told; how many ended. Run daily; a second run finds none."""
    async with uow:
        rows = await repository.delegations_past_their_end(uow.conn, day)
        for row in rows:
            await _end_delegation(uow, row, "ECHEANCE", uow.source)
            await repository.update_delegation(uow.conn, row["id"], bump=False, ended_at=uow.now())
    return len(rows)


async def _end_delegation(uow: UnitOfWork, delegation: Row, reason: str, actor: str) -> None:
    why = "délégation terminée" + (" (révoquée)" if reason == "REVOCATION" else " (échéance atteinte)")
    returned = await _hand_back(uow, delegation, lambda invoice: False, actor, why)
    parties = {
        structure_id: await repository.directory_structure(uow.conn, structure_id)
        for structure_id in (delegation["delegator_structure_id"], delegation["delegate_structure_id"])
    }
    await uow.publish(events.delegation_ended(delegation, parties, reason, returned, uow.source, uow.now()))


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
    """The invoice cannot be received (unknown recipient, inactive service, a rule of the recipient
    not followed); the reason says why, and which field of the invoice when one is to blame."""

    def __init__(self, reason: str, field: str | None = None, slug: str = "invoice-refused") -> None:
        super().__init__(reason)
        self.field = field
        self.slug = slug

    def problem(self) -> Problem:
        if self.field is None:
            return Problem(422, self.slug, "Invoice refused", str(self))
        return field_problem(self.field, self.slug, "Invoice refused", str(self))


@dataclass(frozen=True)
class Received:
    invoice_id: uuid.UUID
    created: bool


async def _record(uow: UnitOfWork, invoice: Row, entry: ReceivedHistoryEntry) -> None:
    """Add the entry to the invoice's history and, when it changes the status, tell integrators
    (`invoice-status-changed`, its `sequence` the entry's id)."""
    sequence = await repository.add_history(uow.conn, invoice["id"], entry)
    if entry.from_status != entry.to_status:
        await uow.publish(events.status_changed(invoice, entry, sequence, uow.source))


async def _addressee(
    uow: UnitOfWork, recipient_id: str, service_code: str | None, billing_frame: str, supplier_id: str
) -> repository.Addressee:
    """The recipient as the directory knows it, with the delegation covering it today, or why not."""
    addressee = await repository.find_addressee(
        uow.conn, recipient_id, service_code, paris_day(uow.now()), billing_frame == ROUTED_FRAME, supplier_id
    )
    if addressee is None or addressee.kind != PUBLIC:
        raise InvoiceRefused(f"recipient {recipient_id!r} is not a public structure of the directory")
    if service_code is not None and not addressee.service_active:
        raise InvoiceRefused(f"service {service_code!r} of {recipient_id!r} does not exist or is inactive")
    if addressee.supplier_name is None:
        raise InvoiceRefused(f"supplier {supplier_id!r} is not a structure of the directory")
    return addressee


async def _engagement(
    uow: UnitOfWork,
    addressee: repository.Addressee,
    recipient_id: str,
    service_code: str | None,
    engagement_number: str | None,
    supplier_id: str,
) -> dict[str, Any] | None:
    """The engagement the invoice references, as its issuer validated it, after the recipient's rules
    (an engagement or a service code required); why not, if the invoice may not reference it."""
    broken = recipient_rules(
        recipient_id,
        addressee.parameters,
        service_code,
        bool(addressee.service_requires_engagement),
        engagement_number,
    )
    if broken is not None:
        raise InvoiceRefused(broken.message, broken.field, broken.slug)
    if engagement_number is None:
        return None
    engagement = await repository.find_engagement(uow.conn, recipient_id, engagement_number)
    if engagement is None:
        raise InvoiceRefused(
            f"no engagement {engagement_number!r} of {recipient_id} validated by its issuer",
            "engagement_number",
            "unknown-engagement",
        )
    if engagement["supplier_structure_id"] != supplier_id:
        raise InvoiceRefused(
            f"engagement {engagement_number!r} of {recipient_id} was made with another supplier",
            "engagement_number",
            "engagement-of-another-supplier",
        )
    return {
        "number": engagement["number"],
        "engagement_id": engagement["engagement_id"],
        "total_ttc": str(engagement["total_ttc"]),
        "currency": engagement["currency"],
        "validated_at": engagement["validated_at"].isoformat(),
    }


def _routing(addressee: repository.Addressee, recipient_id: str, service_code: str | None) -> dict[str, Any]:
    """Where an invoice goes: to the delegate covering its recipient, or to the recipient."""
    delegated = addressee.delegation_id is not None
    recipient = Party(
        structure_id=recipient_id, name=addressee.name, email=addressee.email, service_code=service_code
    )
    delegate = (
        Party(
            structure_id=addressee.delegate_id, name=addressee.delegate_name, email=addressee.delegate_email
        )
        if delegated and addressee.delegate_id and addressee.delegate_name
        else None
    )
    return {
        "recipient_structure_id": recipient_id,
        "recipient_service_code": service_code,
        "recipient": recipient.model_dump(mode="json"),
        "status": InvoiceStatus.A_VALIDER_1 if delegated else InvoiceStatus.MISE_A_DISPOSITION,
        "delegation_id": addressee.delegation_id,
        "delegate_structure_id": addressee.delegate_id,
        "delegation_right": addressee.delegation_right,
        "delegate": delegate.model_dump(mode="json") if delegate is not None else None,
        "validation_decision": None,
        "with_recipient": not delegated,
    }


async def _route(uow: UnitOfWork, invoice: Row, from_status: InvoiceStatus) -> None:
    """Record the routing of an invoice just deposited (or recycled), and tell the delegate."""
    entry = ReceivedHistoryEntry(
        action=Step.ACHEMINEMENT,
        from_status=from_status,
        to_status=invoice["status"],
        actor=uow.source,
        actor_structure_id=None,
        capacity=Capacity.PLATFORM,
        reason=f"delegated to {invoice['delegate_structure_id']}" if invoice["delegation_id"] else None,
        at=uow.now(),
    )
    await _record(uow, invoice, entry)
    if invoice["delegation_id"] is not None:
        await uow.publish(events.delegation_routed(invoice, uow.source, uow.now()))


async def receive_invoice(uow: UnitOfWork, data: InvoiceSubmitted, source: str, actor: str) -> Received:
    """Record an invoice and route it: an A1 covered by a delegation goes to the delegate.

    The one path of every invoice that arrives, deposited over HTTP or as an `invoice-submitted` event.
    """
    now = uow.now()
    if frame(data.billing_frame).works:
        raise InvoiceRefused(
            f"{data.billing_frame} is a works frame: works invoices are deposited at invoicing-works"
        )
    recipient_id = data.recipient.structure_id
    supplier_id = data.supplier.structure_id
    addressee = await _addressee(
        uow, recipient_id, data.recipient.service_code, data.billing_frame, supplier_id
    )
    document = _main_document(data)
    # The parties are the directory's: the names and addresses an invoice gives are not kept.
    supplier = Party(
        structure_id=supplier_id,
        name=addressee.supplier_name or supplier_id,
        email=addressee.supplier_email,
        service_code=data.supplier.service_code,
    )
    values = {
        "id": uuid.uuid4(),
        "external_id": data.external_id,
        "source": source,
        "number": data.number,
        "billing_frame": data.billing_frame,
        "supplier_structure_id": supplier_id,
        "supplier": supplier.model_dump(mode="json"),
        "amount_ht": data.amount_ht,
        "vat_amount": data.vat_amount,
        "amount_ttc": data.amount_ttc,
        "currency": data.currency,
        "issue_date": data.issue_date,
        "received_at": now,
        "updated_at": now,
        "rejection_processed_at": None,
        "engagement_number": data.engagement_number,
        "engagement": await _engagement(
            uow, addressee, recipient_id, data.recipient.service_code, data.engagement_number, supplier_id
        ),
        **_routing(addressee, recipient_id, data.recipient.service_code),
    }
    if not await repository.insert_invoice_once(uow.conn, values):
        existing = await repository.find_invoice(uow.conn, supplier_id, data.external_id)
        assert existing is not None
        return Received(existing["id"], created=False)
    deposit = ReceivedHistoryEntry(
        action=Step.DEPOT,
        from_status=None,
        to_status=InvoiceStatus.DEPOSEE,
        actor=actor,
        actor_structure_id=supplier_id,
        capacity=Capacity.SUPPLIER,
        at=now,
    )
    if document is not None:
        kept = await attachments.add(uow.conn, values["id"], document, actor, now)
        values["main_attachment_id"] = kept["id"]
        await repository.update_invoice(uow.conn, values["id"], {"main_attachment_id": kept["id"]})
    await _record(uow, values, deposit)
    await _route(uow, values, InvoiceStatus.DEPOSEE)
    return Received(values["id"], created=True)


# The file an invoice came as (MainDocument), kept as its first attachment: at most this large.
MAIN_DOCUMENT_MAX_BYTES = DEFAULT_MAX_BYTES


def _main_document(data: InvoiceSubmitted) -> Upload | None:
    """The invoice's main document as an attachment, or why it cannot be one (a type refused)."""
    if data.main_document is None:
        return None
    upload = Upload(data.main_document.filename, data.main_document.content, MAIN_DOCUMENT_MAX_BYTES)
    try:
        attachments.checked(upload)
    except Problem as refused:
        raise InvoiceRefused(f"main document: {refused.detail}", "main_document") from refused
    return upload


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
        raise refused.problem() from refused
    return await invoice(uow, received.invoice_id), received.created


async def invoices(
    uow: UnitOfWork, work_list: str, status: InvoiceStatus | None, offset: int, limit: int
) -> tuple[list[Row], int]:
    async with uow.reading() as conn:
        return await repository.list_invoices(conn, work_list, uow.caller.structures, status, offset, limit)


async def _standing(uow: UnitOfWork, row: Row) -> Standing:
    """What the caller is to the invoice. A delegate whose delegation ended (revoked, past its end
    date) is no longer one: it may not act on any invoice of that delegation."""
    caller = uow.caller
    delegate = row["delegate_structure_id"]
    running = False
    if delegate is not None and caller.acts_for(delegate) and row["delegation_id"] is not None:
        delegation = await repository.get_delegation(uow.conn, row["delegation_id"])
        running = delegation is not None and delegation_running(
            DelegationStatus(delegation["status"]),
            delegation["ended_at"] is not None,
            delegation["end_date"],
            paris_day(uow.now()),
        )
    return Standing(
        supplier=caller.acts_for(row["supplier_structure_id"]),
        recipient=caller.acts_for(row["recipient_structure_id"]),
        delegate=running,
        right=Right(row["delegation_right"]) if row["delegation_right"] else None,
        with_recipient=row["with_recipient"],
    )


async def _visible_invoice(
    conn: AsyncConnection, caller: Principal, invoice_id: uuid.UUID, lock: bool = False
) -> Row:
    """The invoice, if the caller is one of its parties (404 otherwise); locked to be changed."""
    row = await repository.get_invoice(conn, invoice_id, lock=lock)
    if row is None or not _can_see(caller, row):
        raise not_found("Invoice")
    return row


async def _invoice_and_roles(
    uow: UnitOfWork, invoice_id: uuid.UUID, lock: bool = True
) -> tuple[Row, frozenset[Role]]:
    """The invoice (locked, to be changed, unless told) and what the caller is to it now."""
    row = await _visible_invoice(uow.conn, uow.caller, invoice_id, lock=lock)
    return row, roles_of(InvoiceStatus(row["status"]), await _standing(uow, row))


def _actor_structure(row: Row, move: Move) -> str:
    if move.role is Role.SUPPLIER:
        return str(row["supplier_structure_id"])
    if move.capacity is Capacity.DELEGATE:
        return str(row["delegate_structure_id"])
    return str(row["recipient_structure_id"])


@dataclass(frozen=True)
class Processing:
    """A recipient's (or its delegate's) processing: `traiterFactureRecue`."""

    status: InvoiceStatus
    motif: str | None = None
    numero_dp_mandat: str | None = None


async def process_invoice(uow: UnitOfWork, invoice_id: uuid.UUID, processing: Processing) -> dict[str, Any]:
    """Move the invoice to the status asked, as the transition table allows the caller."""
    if processing.status in OPERATION:
        raise field_problem(
            "status",
            "not-a-processing",
            "Not a processing",
            f"{processing.status} is the supplier's {OPERATION[processing.status]}: POST "
            f"/invoices/{{id}}/{OPERATION[processing.status]}",
        )
    async with uow:
        row, roles = await _invoice_and_roles(uow, invoice_id)
        current = InvoiceStatus(row["status"])
        move = decide(
            processing.status,
            current,
            roles,
            {"motif": processing.motif, "numero_dp_mandat": processing.numero_dp_mandat},
        )
        now = uow.now()
        entry = ReceivedHistoryEntry(
            action=Step.TRAITEMENT,
            from_status=current,
            to_status=move.target,
            actor=uow.caller.sub,
            actor_structure_id=_actor_structure(row, move),
            capacity=move.capacity,
            reason=processing.motif,
            dp_mandate_number=processing.numero_dp_mandat if move.target is InvoiceStatus.MANDATEE else None,
            at=now,
        )
        changes: dict[str, Any] = {"status": move.target, "updated_at": now}
        if move.with_recipient is not None:
            changes["with_recipient"] = move.with_recipient
        if move.target in DECISIONS:
            # The validator's decision is in the history; the invoice goes on to the recipient.
            changes["validation_decision"] = DECISION_OF[move.target]
            changes["status"] = InvoiceStatus.MISE_A_DISPOSITION
        await repository.update_invoice(uow.conn, invoice_id, changes)
        updated = {**row, **changes}
        await _record(uow, updated, entry)
        if move.target in DECISIONS:
            transmission = ReceivedHistoryEntry(
                action=Step.TRANSMISSION,
                from_status=move.target,
                to_status=InvoiceStatus.MISE_A_DISPOSITION,
                actor=entry.actor,
                actor_structure_id=entry.actor_structure_id,
                capacity=entry.capacity,
                at=now,
            )
            await _record(uow, updated, transmission)
    return await invoice(uow, invoice_id)


async def possible_statuses(uow: UnitOfWork, invoice_id: uuid.UUID) -> dict[str, Any]:
    """What the caller may do with the invoice from its current status
    (`recupererEtatsPossiblesPourTraitement`)."""
    async with uow:
        row, roles = await _invoice_and_roles(uow, invoice_id, lock=False)  # read, not changed
    current = InvoiceStatus(row["status"])
    return {
        "id": invoice_id,
        "status": current,
        "next": [
            {
                "status": target,
                "capacity": CAPACITY[role],
                "operation": OPERATION.get(target, "processing"),
                "requires": [REQUIRED[target]] if target in REQUIRED else [],
            }
            for target, role in next_statuses(current, roles).items()
        ],
    }


async def attach(uow: UnitOfWork, invoice_id: uuid.UUID, upload: Upload) -> dict[str, Any]:
    """A party of the invoice attaches a file to it (a piece its completion will name, say)."""
    async with uow:
        await _visible_invoice(uow.conn, uow.caller, invoice_id)
        return await attachments.add(uow.conn, invoice_id, upload, uow.caller.sub, uow.now())


async def attachments_of(uow: UnitOfWork, invoice_id: uuid.UUID) -> list[Row]:
    async with uow.reading() as conn:
        await _visible_invoice(conn, uow.caller, invoice_id)
        return list(await attachments.of(conn, invoice_id))


async def attachment_file(
    uow: UnitOfWork, invoice_id: uuid.UUID, attachment_id: uuid.UUID
) -> tuple[Row, bytes]:
    """An attachment of the invoice, for whoever may see the invoice (404 for anyone else)."""
    async with uow.reading() as conn:
        await _visible_invoice(conn, uow.caller, invoice_id)
        return await attachments.fetch(conn, invoice_id, attachment_id)


async def complete_invoice(
    uow: UnitOfWork, invoice_id: uuid.UUID, comment: str, attachment_ids: list[uuid.UUID]
) -> dict[str, Any]:
    """The supplier completes a suspended invoice, naming the pieces it attached; it goes back to
    whoever suspended it."""
    async with uow:
        row, roles = await _invoice_and_roles(uow, invoice_id)
        current = InvoiceStatus(row["status"])
        move = decide(InvoiceStatus.COMPLETEE, current, roles, {"comment": comment})
        attached = {a["id"]: a["filename"] for a in await attachments.of(uow.conn, invoice_id)}
        unknown = [str(i) for i in attachment_ids if i not in attached]
        if unknown:
            raise field_problem(
                "attachment_ids",
                "unknown-attachment",
                "Unknown attachment",
                f"not attached to this invoice: {unknown}",
            )
        if attachment_ids:
            comment = f"{comment} (pièces jointes : {', '.join(attached[i] for i in attachment_ids)})"
        now = uow.now()
        changes = {"status": move.target, "updated_at": now}
        await repository.update_invoice(uow.conn, invoice_id, changes)
        entry = ReceivedHistoryEntry(
            action=Step.COMPLETION,
            from_status=current,
            to_status=move.target,
            actor=uow.caller.sub,
            actor_structure_id=row["supplier_structure_id"],
            capacity=Capacity.SUPPLIER,
            reason=comment,
            at=now,
        )
        await _record(uow, {**row, **changes}, entry)
    return await invoice(uow, invoice_id)


async def recycle_invoice(
    uow: UnitOfWork,
    invoice_id: uuid.UUID,
    recipient_id: str,
    service_code: str | None,
    engagement_number: str | None,
) -> dict[str, Any]:
    """The supplier names a new recipient (or service, or engagement) for an invoice to recycle
    (`recyclerFacture`): it is deposited anew, under the new recipient's rules, and routed again, to a
    delegate if one covers the new recipient."""
    async with uow:
        row, roles = await _invoice_and_roles(uow, invoice_id)
        current = InvoiceStatus(row["status"])
        move = decide(InvoiceStatus.DEPOSEE, current, roles, {"recipient": recipient_id})
        try:
            supplier_id = row["supplier_structure_id"]
            addressee = await _addressee(uow, recipient_id, service_code, row["billing_frame"], supplier_id)
            engagement = await _engagement(
                uow, addressee, recipient_id, service_code, engagement_number, supplier_id
            )
        except InvoiceRefused as refused:
            refused.field = refused.field or "recipient"
            raise refused.problem() from refused
        now = uow.now()
        entry = ReceivedHistoryEntry(
            action=Step.RECYCLAGE,
            from_status=current,
            to_status=move.target,
            actor=uow.caller.sub,
            actor_structure_id=row["supplier_structure_id"],
            capacity=Capacity.SUPPLIER,
            reason=f"to {recipient_id}" + (f" / {service_code}" if service_code else ""),
            at=now,
        )
        await _record(uow, {**row, "status": move.target}, entry)
        changes = {
            **_routing(addressee, recipient_id, service_code),
            "engagement_number": engagement_number,
            "engagement": engagement,
            "updated_at": now,
        }
        await repository.update_invoice(uow.conn, invoice_id, changes)
        await _route(uow, {**row, **changes}, move.target)
    return await invoice(uow, invoice_id)


async def process_rejections(uow: UnitOfWork, ids: list[str]) -> list[tuple[str, RejectionOutcome]]:
    """'Traiter le rejet' on any mix of ids: each gets its own outcome, the request never fails."""

    async def mark_processed(row: Row, entry: dict[str, Any]) -> None:
        now = entry["at"]
        changes = {"rejection_processed_at": now, "updated_at": now}
        await repository.update_invoice(uow.conn, row["id"], changes)
        await _record(uow, row, ReceivedHistoryEntry(**entry))

    return await rejections.process_rejections(
        uow, ids, lambda locked: repository.lock_many(uow.conn, locked), mark_processed
    )


async def _hand_back(
    uow: UnitOfWork, delegation: Row, covered: Callable[[Row], bool], actor: str, why: str
) -> int:
    """Give the recipient every invoice of the delegation still waiting at its delegate that the
    delegation no longer covers; how many. One awaiting validation is made available to the recipient."""
    returned = 0
    now = uow.now()
    for row in await repository.lock_waiting_at_delegate(uow.conn, delegation["id"]):
        if covered(row):
            continue
        current = InvoiceStatus(row["status"])
        target = InvoiceStatus.MISE_A_DISPOSITION if current is InvoiceStatus.A_VALIDER_1 else current
        changes = {"status": target, "with_recipient": True, "updated_at": now}
        await repository.update_invoice(uow.conn, row["id"], changes)
        entry = ReceivedHistoryEntry(
            action=Step.FIN_DELEGATION,
            from_status=current,
            to_status=target,
            actor=actor,
            actor_structure_id=None,
            capacity=Capacity.PLATFORM,
            reason=why,
            at=now,
        )
        await _record(uow, {**row, **changes}, entry)
        returned += 1
    return returned
