"""Flows (`deposer/flux`): a file deposited is kept and answered at once with its `numeroFluxDepot`;
the flow worker reads it (`invoice_files`) and, when it is an invoice the platform can take, publishes
it as `invoice-submitted`; received-invoices' answer (its first `invoice-status-changed`, or an
`invoice-refused`) ends the flow. Its states are Chorus Pro's:

- `IN_RECU`: deposited, not read yet;
- `IN_EN_ATTENTE_TRAITEMENT_CPP`: its reading failed for a technical reason, and will be tried again;
- `IN_EN_COURS_TRAITEMENT_CPP`: read and valid, its invoice on its way to received-invoices;
- `IN_INTEGRE`: its invoice is received-invoices' (`idFacture` from then on);
- `IN_REJETE`: not a readable invoice, an invoice breaking a rule, or one received-invoices refused,
  with each reason in `listeErreurDP`;
- `IN_INCIDENTE`: its reading failed `CHORUS_FLOW_ATTEMPTS` times; the supplier deposits it again.

Every syntax read here carries one invoice: `IN_INTEGRE_PARTIEL` (part of a flow's invoices taken)
cannot happen.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from chorus_common.clock import paris_day
from chorus_common.db import after_commit
from chorus_common.events import EventType, InvoiceSubmitted, Party
from chorus_common.frames import frame
from chorus_common.unit_of_work import UnitOfWork
from piste_gateway import invoice_files, repository
from piste_gateway.access import Caller
from piste_gateway.domain import INVALID_REQUEST, CproError, not_found
from piste_gateway.invoice_files import InvoiceFile, Syntax, Unreadable

logger = logging.getLogger("piste_gateway.flows")


class FlowStatus(StrEnum):
    RECU = "IN_RECU"
    EN_ATTENTE = "IN_EN_ATTENTE_TRAITEMENT_CPP"
    EN_COURS = "IN_EN_COURS_TRAITEMENT_CPP"
    INTEGRE = "IN_INTEGRE"
    INTEGRE_PARTIEL = "IN_INTEGRE_PARTIEL"
    REJETE = "IN_REJETE"
    INCIDENTE = "IN_INCIDENTE"


WAITING = (FlowStatus.RECU, FlowStatus.EN_ATTENTE)
PREFIX = "CPP"  # numeroFluxDepot: CPP and the flow's integer, e.g. CPP000000000042


def flow_number(number: int) -> str:
    return f"{PREFIX}{number:012d}"


def number_of(numero: str) -> int:
    """The integer of a numeroFluxDepot (20002 for anything else: no such flow)."""
    digits = numero.strip().upper().removeprefix(PREFIX)
    if not digits.isdigit() or not 0 < int(digits) < 2**63:
        raise not_found(f"Flux {numero[:40]} inconnu")
    return int(digits)


@dataclass(frozen=True)
class Deposit:
    file: str  # base64
    file_name: str
    syntax: str
    signed: bool


async def deposit(
    uow: UnitOfWork, caller: Caller, flow: Deposit, max_bytes: int, wake: Any
) -> dict[str, Any]:
    """Keep a flow and answer at once; a file that is not base64, or of a syntax the gateway does not
    read, is a flow rejected at once with the reason, as Chorus Pro answers it in the flow's report."""
    errors: list[str] = []
    content: bytes | None = None
    try:
        content = base64.b64decode(flow.file, validate=True)
    except (binascii.Error, ValueError):
        errors.append("fichierFlux n'est pas encodé en base64")
    if content is not None and len(content) > max_bytes:
        raise CproError(413, INVALID_REQUEST, f"Le fichier dépasse la taille maximale de {max_bytes} octets")
    if content is not None and not content:
        errors.append("fichierFlux est vide")
    if flow.syntax not in tuple(Syntax):
        errors.append(
            f"La syntaxe {flow.syntax[:60]} n'est pas prise en charge ({', '.join(s.value for s in Syntax)})"
        )
    now = uow.now()
    status = FlowStatus.REJETE if errors else FlowStatus.RECU
    async with uow:
        row = await repository.insert_flow(
            uow.conn,
            {
                "id": uuid.uuid4(),
                "structure_id": caller.structure_id,
                "login": caller.login,
                "client_id": caller.client_id,
                "file_name": flow.file_name,
                "syntax": flow.syntax[:60],
                "signed": flow.signed,
                "content": content,
                "status": status,
                "deposited_at": now,
                "status_at": now,
                "invoice_errors": [{"libelleErreurDP": error} for error in errors],
            },
        )
        if not errors:
            after_commit(uow.conn, wake)
    return dict(row)


async def flow_of(uow: UnitOfWork, caller: Caller, numero: str) -> dict[str, Any]:
    """The flow, if the caller's structure deposited it (20002 otherwise)."""
    async with uow.reading() as conn:
        row = await repository.flow(conn, number_of(numero))
    if row is None or row["structure_id"] != caller.structure_id:
        raise not_found(f"Flux {numero[:40]} inconnu")
    return dict(row)


# --- Reading --------------------------------------------------------------------------------------


def _read(
    content: bytes, syntax: Syntax, max_bytes: int, today: date
) -> tuple[InvoiceFile | None, list[str]]:
    """What the file says and the rules it breaks (run in a thread: parsing is CPU-bound)."""
    try:
        invoice = invoice_files.read(content, syntax, max_bytes)
    except Unreadable as unreadable:
        return None, unreadable.reasons
    return invoice, invoice_files.check(invoice, today)


def _submitted(flow: dict[str, Any], invoice: InvoiceFile) -> tuple[InvoiceSubmitted | None, list[str]]:
    """The `invoice-submitted` of a valid file, or the reasons the platform cannot take it."""
    errors: list[str] = []
    billing_frame = invoice.process or "A1"  # BT-23 names Chorus Pro's billing frame; A1 without
    try:
        if frame(billing_frame).works:
            errors.append(
                f"Cadre de facturation {billing_frame} (BT-23) : un document de travaux se dépose à "
                "invoicing-works, pas par un flux de facture"
            )
    except ValueError:
        errors.append(f"Cadre de facturation {billing_frame[:60]} (BT-23) inconnu (A1 à A25)")
    if invoice.seller_id is not None and invoice.seller_id != flow["structure_id"]:
        errors.append(
            f"CPP-FOURNISSEUR : le fournisseur {invoice.seller_id} n'est pas la structure du compte "
            f"technique ({flow['structure_id']})"
        )
    if errors:
        return None, errors
    try:
        return InvoiceSubmitted.model_validate(
            {
                "external_id": flow_number(flow["number"]),
                "number": invoice.number,
                "billing_frame": billing_frame,
                "supplier": Party(structure_id=str(invoice.seller_id), name=str(invoice.seller_name)),
                "recipient": {
                    "structure_id": invoice.buyer_id,
                    "name": invoice.buyer_name,
                    "service_code": invoice.buyer_reference,
                },
                "amount_ht": invoice.tax_basis,
                "vat_amount": invoice.tax_total,
                "amount_ttc": invoice.grand_total,
                "currency": invoice.currency,
                "issue_date": invoice.issue_date,
                "engagement_number": invoice.order_reference,
                # The file as deposited: the invoice's main document at received-invoices.
                "main_document": {
                    "filename": flow["file_name"],
                    "content": base64.b64encode(flow["content"]),
                },
            }
        ), []
    except ValidationError as error:
        return None, [f"{'.'.join(map(str, e['loc']))} : {e['msg']}" for e in error.errors()]


def invoice_errors(invoice: InvoiceFile | None, errors: list[str]) -> list[dict[str, Any]]:
    """listeErreurDP: one entry a reason, naming the invoice (numeroDP) and its parties when read."""
    named = {
        "numeroDP": invoice.number if invoice else None,
        "identifiantFournisseur": invoice.seller_id if invoice else None,
        "identifiantDestinataire": invoice.buyer_id if invoice else None,
    }
    return [{**{k: v for k, v in named.items() if v}, "libelleErreurDP": error[:1000]} for error in errors]


class FlowWorker:
    """Reads the flows waiting, oldest first, one transaction each; several replicas share the work
    (a flow is claimed with SKIP LOCKED). Woken by each deposit of its process, else polls."""

    def __init__(self, uow_factory: Any, max_bytes: int, attempts: int, poll_seconds: float) -> None:
        self._uow = uow_factory
        self._max_bytes = max_bytes
        self._attempts = attempts
        self._poll = poll_seconds
        self._woken = asyncio.Event()

    def wake(self) -> None:
        self._woken.set()

    async def run(self) -> None:
        while True:
            try:
                while await self.read_one():
                    pass
            except Exception:
                logger.warning("flow reading failed", exc_info=True)
            self._woken.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self._poll)

    async def read_one(self) -> bool:
        """Read the oldest flow waiting; False when none waits."""
        uow: UnitOfWork = self._uow()
        async with uow:
            row = await repository.next_waiting_flow(uow.conn, [s.value for s in WAITING])
            if row is None:
                return False
            flow = dict(row)
            now = uow.now()
            try:
                invoice, errors = await asyncio.to_thread(
                    _read, flow["content"], Syntax(flow["syntax"]), self._max_bytes, paris_day(now)
                )
            except Exception as error:  # a technical failure, not the file's: tried again, then given up
                logger.warning("flow %s could not be read", flow_number(flow["number"]), exc_info=True)
                attempts = flow["attempts"] + 1
                incident = attempts >= self._attempts
                await repository.update_flow(
                    uow.conn,
                    flow["id"],
                    status=FlowStatus.INCIDENTE if incident else FlowStatus.EN_ATTENTE,
                    status_at=now,
                    attempts=attempts,
                    technical_errors=[
                        {
                            "codeErreur": "LECTURE",
                            "natureErreur": "TECHNIQUE",
                            "libelleErreur": repr(error)[:500],
                        }
                    ],
                )
                return True
            submitted = None
            if invoice is not None and not errors:
                submitted, errors = _submitted(flow, invoice)
            if submitted is not None and await repository.same_invoice_flow(
                uow.conn,
                flow["id"],
                submitted.supplier.structure_id,
                submitted.number,
                [FlowStatus.REJETE, FlowStatus.INCIDENTE],
            ):
                errors = [f"CPP-DOUBLON : la facture {submitted.number} de ce fournisseur a déjà été déposée"]
                submitted = None
            known = {
                "invoice_number": invoice.number[:200] if invoice and invoice.number else None,
                "supplier_id": invoice.seller_id[:100] if invoice and invoice.seller_id else None,
                "recipient_id": invoice.buyer_id[:100] if invoice and invoice.buyer_id else None,
            }
            if submitted is None:
                await repository.update_flow(
                    uow.conn,
                    flow["id"],
                    status=FlowStatus.REJETE,
                    status_at=now,
                    invoice_errors=invoice_errors(invoice, errors),
                    **known,
                )
                return True
            await uow.publish(
                uow.event(EventType.INVOICE_SUBMITTED, submitted, subject=flow_number(flow["number"]))
            )
            await repository.update_flow(
                uow.conn, flow["id"], status=FlowStatus.EN_COURS, status_at=now, **known
            )
        return True


async def integrated(uow: UnitOfWork, external_id: str, supplier_id: str, invoice_id: str) -> None:
    """received-invoices received the flow's invoice (its first status change)."""
    number = own_number(external_id)
    if number is not None:
        await repository.end_flow(
            uow.conn,
            number,
            supplier_id,
            FlowStatus.EN_COURS,
            FlowStatus.INTEGRE,
            uow.now(),
            invoice_id=uuid.UUID(invoice_id),
        )


async def refused(uow: UnitOfWork, external_id: str, supplier_id: str, reason: str) -> None:
    """received-invoices refused the flow's invoice: the flow is rejected, with its reason."""
    number = own_number(external_id)
    if number is None:
        return
    row = await repository.flow(uow.conn, number)
    if row is None:
        return
    named = {
        "numeroDP": row["invoice_number"],
        "identifiantFournisseur": row["supplier_id"],
        "identifiantDestinataire": row["recipient_id"],
    }
    errors = [{**{k: v for k, v in named.items() if v}, "libelleErreurDP": reason[:1000]}]
    await repository.end_flow(
        uow.conn,
        number,
        supplier_id,
        FlowStatus.EN_COURS,
        FlowStatus.REJETE,
        uow.now(),
        invoice_errors=errors,
    )


def own_number(external_id: str) -> int | None:
    """The flow's integer when `external_id` is one of the gateway's numeroFluxDepot."""
    try:
        return number_of(external_id)
    except CproError:
        return None
