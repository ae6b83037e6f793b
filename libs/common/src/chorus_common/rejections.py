"""'Traiter le rejet': a supplier acknowledges its rejected invoices, in bulk, the same way for works
invoices and received invoices.

A rejected invoice stays in its supplier's list to process until the supplier processes the
rejection. The bulk request never fails as a whole: each id gets its own outcome, so a client that
sends a mix of ids learns what happened to each. The service says how to lock its invoices and how to
mark one processed (its table, its history); the decision and the report are the same everywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from chorus_common.unit_of_work import UnitOfWork

Row = Mapping[Any, Any]


class RejectionOutcome(StrEnum):
    PROCESSED = "PROCESSED"
    NOT_FOUND = "NOT_FOUND"
    NOT_REJECTED = "NOT_REJECTED"
    ALREADY_PROCESSED = "ALREADY_PROCESSED"


DETAILS = {
    RejectionOutcome.PROCESSED: "the rejection is processed; the invoice left the list to process",
    RejectionOutcome.NOT_FOUND: "no invoice of yours has this id",
    RejectionOutcome.NOT_REJECTED: "the invoice is not rejected",
    RejectionOutcome.ALREADY_PROCESSED: "the rejection was already processed",
}


def rejection_outcome(found: bool, is_supplier: bool, rejected: bool, processed: bool) -> RejectionOutcome:
    """What 'Traiter le rejet' does to one invoice of a bulk request: only its supplier sees it."""
    if not (found and is_supplier):
        return RejectionOutcome.NOT_FOUND
    if not rejected:
        return RejectionOutcome.NOT_REJECTED
    if processed:
        return RejectionOutcome.ALREADY_PROCESSED
    return RejectionOutcome.PROCESSED


def _parse_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


# Chorus Pro's codes, the same for every kind of invoice: a rejected invoice's status, the history's
# step when its rejection is processed, and the capacity the supplier processes it in.
REJECTED = "REJETEE"
PROCESSING_STEP = "TRAITEMENT_REJET"
SUPPLIER = "FOURNISSEUR"


async def process_rejections(
    uow: UnitOfWork,
    ids: list[str],
    lock_many: Callable[[list[uuid.UUID]], Awaitable[Mapping[uuid.UUID, Row]]],
    mark_processed: Callable[[Row, dict[str, Any]], Awaitable[None]],
) -> list[tuple[str, RejectionOutcome]]:
    """Each id's outcome, in the order given, the rejections processed in one transaction (an id given
    twice is processed once, then reported already processed).

    An invoice row has its `status`, its `supplier_structure_id` and its `rejection_processed_at`;
    `mark_processed(row, entry)` records the processing, `entry` being its history entry's fields."""
    parsed = {raw: _parse_id(raw) for raw in ids}
    outcomes: list[tuple[str, RejectionOutcome]] = []
    async with uow:
        rows = await lock_many(sorted({i for i in parsed.values() if i is not None}))
        processed_now: set[uuid.UUID] = set()
        for raw in ids:
            invoice_id = parsed[raw]
            row = rows.get(invoice_id) if invoice_id is not None else None
            outcome = rejection_outcome(
                row is not None,
                row is not None and uow.caller.acts_for(row["supplier_structure_id"]),
                row is not None and row["status"] == REJECTED,
                row is not None and (row["rejection_processed_at"] is not None or row["id"] in processed_now),
            )
            if outcome is RejectionOutcome.PROCESSED and row is not None:
                processed_now.add(row["id"])
                entry = {
                    "action": PROCESSING_STEP,
                    "from_status": REJECTED,
                    "to_status": REJECTED,
                    "actor": uow.caller.sub,
                    "actor_structure_id": row["supplier_structure_id"],
                    "capacity": SUPPLIER,
                    "at": uow.now(),
                }
                await mark_processed(row, entry)
            outcomes.append((raw, outcome))
    return outcomes


class RejectionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: Annotated[list[Annotated[str, Field(max_length=100)]], Field(min_length=1, max_length=1000)]


class RejectionResult(BaseModel):
    id: str
    outcome: RejectionOutcome
    detail: str


class RejectionsOut(BaseModel):
    processed: int
    results: list[RejectionResult]

    @classmethod
    def of(cls, outcomes: list[tuple[str, RejectionOutcome]]) -> RejectionsOut:
        return cls(
            processed=sum(outcome is RejectionOutcome.PROCESSED for _, outcome in outcomes),
            results=[
                RejectionResult(id=raw, outcome=outcome, detail=DETAILS[outcome]) for raw, outcome in outcomes
            ],
        )
