"""Received invoices: delegation coverage, routing and the rights matrix.

No I/O here: these are the rules of "Gérer délégation des factures reçues" (release note §2).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from chorus_common.actions import ActionRefused, Refusal

PUBLIC = "PUBLIQUE"  # the directory's kind of a public structure (`structurePriveePublique`)


class Right(StrEnum):
    VALIDATION = "VALIDATION"
    TRAITEMENT = "TRAITEMENT"


class Scope(StrEnum):
    STRUCTURE = "STRUCTURE"
    SERVICES = "SERVICES"


@dataclass(frozen=True)
class Coverage:
    """What a delegation covers: the whole delegating structure, or some of its services, over days."""

    scope: Scope
    services: frozenset[str]
    start: date
    end: date | None

    def covers(self, service_code: str | None, day: date) -> bool:
        if day < self.start or (self.end is not None and day > self.end):
            return False
        return self.scope is Scope.STRUCTURE or (service_code is not None and service_code in self.services)

    def overlaps(self, other: Coverage) -> bool:
        """Whether some structure/service would be covered by both on some day."""
        starts_before_other_ends = other.end is None or self.start <= other.end
        other_starts_before_this_ends = self.end is None or other.start <= self.end
        if not (starts_before_other_ends and other_starts_before_this_ends):
            return False
        if Scope.STRUCTURE in (self.scope, other.scope):
            return True
        return bool(self.services & other.services)


def first_overlap(candidate: Coverage, active: Iterable[tuple[str, Coverage]]) -> str | None:
    """The id of an active delegation the candidate would overlap, if any."""
    return next((delegation_id for delegation_id, coverage in active if candidate.overlaps(coverage)), None)


def _delegation_refused(detail: str, slug: str, refusal: Refusal = Refusal.INVALID) -> ActionRefused:
    return ActionRefused(detail, refusal, slug, "Delegation refused")


def check_not_self(delegator_id: str, delegate_id: str) -> None:
    if delegate_id == delegator_id:
        raise _delegation_refused("A structure cannot delegate to itself", "self-delegation")


def check_delegation(
    delegator_kind: str,
    delegate_id: str,
    delegate_known: bool,
    unknown_services: set[str],
    delegator_id: str,
    coverage: Coverage,
    active: Iterable[tuple[str, Coverage]],
) -> None:
    """Why a new delegation may not be made, if it may not: only a public structure delegates, to a
    structure of the directory (PUBLIQUE there), to a structure of the directory, over its own active
    services, and never twice over the same day."""
    if delegator_kind != PUBLIC:
        raise _delegation_refused(
            "Only a public structure (PUBLIQUE in the directory) delegates its received invoices",
            "private-delegator",
        )
    if not delegate_known:
        raise _delegation_refused(f"No structure {delegate_id!r} in the directory", "unknown-delegate")
    if unknown_services:
        raise _delegation_refused(
            f"Not active services of {delegator_id}: {sorted(unknown_services)}", "unknown-services"
        )
    clash = first_overlap(coverage, active)
    if clash is not None:
        raise _delegation_refused(
            f"An active delegation ({clash}) already covers part of this on some day",
            "delegation-overlap",
            Refusal.CONFLICT,
        )


class DelegationStatus(StrEnum):
    ACTIVE = "ACTIVE"
    REVOKED = "REVOKED"


def check_revocation(is_delegator: bool, status: DelegationStatus, delegation_id: str) -> None:
    """Only the delegating structure revokes a delegation, once."""
    if not is_delegator:
        raise ActionRefused(
            "Only the delegating structure revokes a delegation", Refusal.FORBIDDEN, title="Forbidden"
        )
    if status is not DelegationStatus.ACTIVE:
        raise ActionRefused(delegation_id, Refusal.NOT_NOW, title="Delegation already revoked")


ROUTED_FRAME = "A1"


class InvoiceStatus(StrEnum):
    A_VALIDER_1 = "A_VALIDER_1"  # waiting for the delegated validator
    MISE_A_DISPOSITION = "MISE_A_DISPOSITION"
    SUSPENDUE = "SUSPENDUE"
    REJETEE = "REJETEE"
    A_RECYCLER = "A_RECYCLER"
    MANDATEE = "MANDATEE"
    MISE_EN_PAIEMENT = "MISE_EN_PAIEMENT"
    COMPTABILISEE = "COMPTABILISEE"
    MISE_A_DISPOSITION_COMPTABLE = "MISE_A_DISPOSITION_COMPTABLE"


class Arrival(StrEnum):
    DEPOT = "DEPOT"  # the history's first entry: the invoice arrived, by HTTP or as an event


class Action(StrEnum):
    VALIDATION = "VALIDATION"
    REFUS = "REFUS"
    MISE_EN_PAIEMENT = "MISE_EN_PAIEMENT"
    SUSPENSION = "SUSPENSION"
    REJET = "REJET"
    MISE_EN_RECYCLAGE = "MISE_EN_RECYCLAGE"
    MANDATEMENT = "MANDATEMENT"
    COMPTABILISATION = "COMPTABILISATION"
    MISE_A_DISPOSITION_COMPTABLE = "MISE_A_DISPOSITION_COMPTABLE"


class Capacity(StrEnum):
    SUPPLIER = "FOURNISSEUR"  # depositing the invoice
    RECIPIENT = "DESTINATAIRE"
    DELEGATE = "VALIDEUR_DELEGUE"
    SUBSTITUTE = "DESTINATAIRE_SUBSTITUT"  # the recipient deciding in the delegate's place


REASON_REQUIRED = frozenset({Action.REFUS, Action.SUSPENSION, Action.REJET})

# The delegate's decision is transmitted to the recipient.
DECISIONS = {Action.VALIDATION: "VALIDEE", Action.REFUS: "REFUSEE"}

# With TRAITEMENT the delegate processes the invoice itself; it is then not transmitted.
PROCESSING_BY_DELEGATE = {
    Action.MISE_EN_PAIEMENT: InvoiceStatus.MISE_EN_PAIEMENT,
    Action.SUSPENSION: InvoiceStatus.SUSPENDUE,
    Action.REJET: InvoiceStatus.REJETEE,
    Action.MISE_EN_RECYCLAGE: InvoiceStatus.A_RECYCLER,
}

RIGHTS: dict[Right, frozenset[Action]] = {
    Right.VALIDATION: frozenset(DECISIONS),
    Right.TRAITEMENT: frozenset(DECISIONS) | frozenset(PROCESSING_BY_DELEGATE),
}

# The recipient's own processing of an invoice made available to it (like `traiterFactureRecue`).
PROCESSING_BY_RECIPIENT = {
    Action.SUSPENSION: InvoiceStatus.SUSPENDUE,
    Action.REJET: InvoiceStatus.REJETEE,
    Action.MISE_EN_RECYCLAGE: InvoiceStatus.A_RECYCLER,
    Action.MANDATEMENT: InvoiceStatus.MANDATEE,
    Action.MISE_EN_PAIEMENT: InvoiceStatus.MISE_EN_PAIEMENT,
    Action.COMPTABILISATION: InvoiceStatus.COMPTABILISEE,
    Action.MISE_A_DISPOSITION_COMPTABLE: InvoiceStatus.MISE_A_DISPOSITION_COMPTABLE,
}


@dataclass(frozen=True)
class Outcome:
    status: InvoiceStatus
    capacity: Capacity
    decision: str | None  # the delegate's (or substitute's) VALIDEE / REFUSEE
    transmitted: bool  # the invoice is now with the recipient


def decide(
    action: Action,
    status: InvoiceStatus,
    is_recipient: bool,
    is_delegate: bool,
    right: Right | None,
    reason: str | None,
) -> Outcome:
    """What `action` does to an invoice in `status`, for a caller of the recipient and/or delegate."""
    if status is InvoiceStatus.A_VALIDER_1:
        if is_delegate and right is not None and action in RIGHTS[right]:
            outcome = (
                Outcome(InvoiceStatus.MISE_A_DISPOSITION, Capacity.DELEGATE, DECISIONS[action], True)
                if action in DECISIONS
                else Outcome(PROCESSING_BY_DELEGATE[action], Capacity.DELEGATE, None, False)
            )
        elif is_recipient and action in DECISIONS:
            outcome = Outcome(InvoiceStatus.MISE_A_DISPOSITION, Capacity.SUBSTITUTE, DECISIONS[action], True)
        else:
            granted = f"the {right} right" if is_delegate else "your role"
            raise ActionRefused(f"{action} is not permitted by {granted} on this invoice", Refusal.FORBIDDEN)
    elif is_recipient and action in PROCESSING_BY_RECIPIENT:
        if status is not InvoiceStatus.MISE_A_DISPOSITION:
            raise ActionRefused(f"{action} is not possible in status {status}", Refusal.NOT_NOW)
        outcome = Outcome(PROCESSING_BY_RECIPIENT[action], Capacity.RECIPIENT, None, True)
    elif is_recipient and action in DECISIONS:
        raise ActionRefused(f"{action} is only possible while the invoice awaits validation", Refusal.NOT_NOW)
    else:
        raise ActionRefused(f"{action} is not permitted to you on this invoice", Refusal.FORBIDDEN)
    if action in REASON_REQUIRED and not (reason and reason.strip()):
        raise ActionRefused(f"{action} requires a reason", Refusal.INCOMPLETE, "reason-required")
    return outcome
