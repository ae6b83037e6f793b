"""Legal commitments: line arithmetic in exact decimals and the status machine. No I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from chorus_common.actions import ActionRefused, Refusal

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
MAX_AMOUNT = Decimal("9999999999999999.99")  # NUMERIC(18, 2)


class EngagementType(StrEnum):
    BON_DE_COMMANDE = "BON_DE_COMMANDE"
    BAIL = "BAIL"
    SUBVENTION = "SUBVENTION"
    ORDRE_DE_SERVICE = "ORDRE_DE_SERVICE"
    AUTRE = "AUTRE"


class EngagementStatus(StrEnum):
    BROUILLON = "BROUILLON"
    COMMANDE = "COMMANDE"
    PRISE_EN_COMPTE = "PRISE_EN_COMPTE"
    REFUSEE = "REFUSEE"
    INACTIF = "INACTIF"


class Action(StrEnum):
    VALIDATION = "VALIDATION"
    PRISE_EN_COMPTE = "PRISE_EN_COMPTE"
    REFUS = "REFUS"
    INACTIVATION = "INACTIVATION"


class Capacity(StrEnum):
    ISSUER = "EMETTEUR"
    SUPPLIER = "FOURNISSEUR"


class Origin(StrEnum):
    CHORUS_PRO = "CHORUS_PRO"
    EXTERNAL = "EXTERNE"


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineAmounts:
    amount_ht: Decimal
    amount_vat: Decimal
    amount_ttc: Decimal


def line_amounts(quantity: Decimal, unit_price_ht: Decimal, vat_rate: Decimal) -> LineAmounts:
    """HT = quantity * unit price, TTC = HT * (1 + rate/100), each rounded half-up to cents."""
    amount_ht = to_cents(quantity * unit_price_ht)
    amount_ttc = to_cents(amount_ht * (1 + vat_rate / HUNDRED))
    return LineAmounts(amount_ht, amount_ttc - amount_ht, amount_ttc)


def totals(lines: Iterable[LineAmounts]) -> LineAmounts:
    lines = list(lines)
    ht = sum((line.amount_ht for line in lines), Decimal("0.00"))
    ttc = sum((line.amount_ttc for line in lines), Decimal("0.00"))
    return LineAmounts(ht, ttc - ht, ttc)


@dataclass(frozen=True)
class Transition:
    capacity: Capacity
    sources: frozenset[EngagementStatus]
    target: EngagementStatus
    reason_required: bool = False


TRANSITIONS: dict[Action, Transition] = {
    Action.VALIDATION: Transition(
        Capacity.ISSUER, frozenset({EngagementStatus.BROUILLON}), EngagementStatus.COMMANDE
    ),
    Action.PRISE_EN_COMPTE: Transition(
        Capacity.SUPPLIER, frozenset({EngagementStatus.COMMANDE}), EngagementStatus.PRISE_EN_COMPTE
    ),
    Action.REFUS: Transition(
        Capacity.SUPPLIER,
        frozenset({EngagementStatus.COMMANDE}),
        EngagementStatus.REFUSEE,
        reason_required=True,
    ),
    Action.INACTIVATION: Transition(
        Capacity.ISSUER,
        frozenset(set(EngagementStatus) - {EngagementStatus.INACTIF}),
        EngagementStatus.INACTIF,
    ),
}


def decide(
    action: Action, capacities: set[Capacity], status: EngagementStatus, reason: str | None
) -> tuple[EngagementStatus, Capacity]:
    """The status `action` leads to from `status`, and the capacity the caller acts in."""
    transition = TRANSITIONS[action]
    if transition.capacity not in capacities:
        raise ActionRefused(
            f"{action} is taken by the engagement's {transition.capacity.name.lower()}", Refusal.FORBIDDEN
        )
    if status not in transition.sources:
        raise ActionRefused(f"{action} is not possible on an engagement in status {status}", Refusal.NOT_NOW)
    if transition.reason_required and not (reason and reason.strip()):
        raise ActionRefused(f"{action} requires a reason", Refusal.INCOMPLETE, "reason-required")
    return transition.target, transition.capacity


def visible_to_supplier(status: EngagementStatus) -> bool:
    """A supplier sees an engagement once it has been validated, never as a draft."""
    return status is not EngagementStatus.BROUILLON
