"""Legal commitments: line arithmetic in exact decimals and the status machine. No I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from chorus_common.transitions import Transition

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
    EXTERNAL_SYSTEM = "SYSTEME_EXTERNE"  # recorded from a State system's event


class CreationAction(StrEnum):
    CREATION = "CREATION"


class Origin(StrEnum):
    CHORUS_PRO = "CHORUS_PRO"
    EXTERNAL = "EXTERNE"


PUBLIC = "PUBLIQUE"  # the directory's kind of a public structure


def issuer_problem(known: bool, kind: str | None, category: str | None) -> str | None:
    """Why a structure of the directory (as this service's replica has it) cannot issue an
    engagement, or None: only a public structure issues one, and its category is the directory's."""
    if not known:
        return "unknown to the directory"
    if kind != PUBLIC or category is None:
        return "an engagement is issued by a public structure (PUBLIQUE in the directory)"
    return None


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


TRANSITIONS: dict[Action, Transition[EngagementStatus, Capacity]] = {
    Action.VALIDATION: Transition(
        Capacity.ISSUER, frozenset({EngagementStatus.BROUILLON}), EngagementStatus.COMMANDE
    ),
    Action.PRISE_EN_COMPTE: Transition(
        Capacity.SUPPLIER, frozenset({EngagementStatus.COMMANDE}), EngagementStatus.PRISE_EN_COMPTE
    ),
    Action.REFUS: Transition(
        Capacity.SUPPLIER, frozenset({EngagementStatus.COMMANDE}), EngagementStatus.REFUSEE, needs="reason"
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
    return transition.apply(action, capacities, status, reason, "engagement"), transition.capacity


def capacities(
    structures: frozenset[str], issuer_structure_id: str, supplier_structure_id: str, status: EngagementStatus
) -> set[Capacity]:
    """The capacities in which a user of `structures` may see and act on an engagement."""
    found = set()
    if issuer_structure_id in structures:
        found.add(Capacity.ISSUER)
    if supplier_structure_id in structures and visible_to_supplier(status):
        found.add(Capacity.SUPPLIER)
    return found


@dataclass(frozen=True)
class LineDraft:
    """A line as the issuer writes it; an unnumbered line takes its position."""

    line_number: int | None
    description: str
    quantity: Decimal
    unit: str
    unit_price_ht: Decimal
    vat_rate: Decimal


@dataclass(frozen=True)
class Line:
    line_number: int
    description: str
    quantity: Decimal
    unit: str
    unit_price_ht: Decimal
    vat_rate: Decimal
    amount_ht: Decimal
    amount_ttc: Decimal


def priced(drafts: Iterable[LineDraft]) -> tuple[list[Line], LineAmounts]:
    """The lines of a new engagement with their amounts, and its totals (each amount computed once)."""
    lines, amounts = [], []
    for index, draft in enumerate(drafts, start=1):
        line = line_amounts(draft.quantity, draft.unit_price_ht, draft.vat_rate)
        amounts.append(line)
        lines.append(
            Line(
                draft.line_number or index,
                draft.description,
                draft.quantity,
                draft.unit,
                draft.unit_price_ht,
                draft.vat_rate,
                line.amount_ht,
                line.amount_ttc,
            )
        )
    return lines, totals(amounts)


def visible_to_supplier(status: EngagementStatus) -> bool:
    """A supplier sees an engagement once it has been validated, never as a draft."""
    return status is not EngagementStatus.BROUILLON


@dataclass(frozen=True)
class EngagementQuery:
    """What a list of engagements is filtered on (each criterion when given)."""

    status: EngagementStatus | None = None
    type: EngagementType | None = None
    number: str | None = None
    issuer_structure_id: str | None = None
    supplier_structure_id: str | None = None
