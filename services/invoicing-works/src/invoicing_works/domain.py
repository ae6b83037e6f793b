"""Works invoices: billing frames, the status machine, the MOE's deadline. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

import holidays

from chorus_common.actions import ActionRefused, Refusal
from chorus_common.clock import paris_day
from chorus_common.frames import frame
from chorus_common.transitions import Transition

MOE_DEADLINE_DAYS = 7  # CCAG Travaux, article 12.2.2


class BillingFrame(StrEnum):
    """The works frames of Chorus Pro (`chorus_common.frames`, where `works` is true)."""

    A4 = "A4"  # projet de décompte mensuel
    A5 = "A5"
    A6 = "A6"
    A7 = "A7"
    A8 = "A8"
    A10 = "A10"
    A11 = "A11"  # projet de décompte final d'un sous-traitant
    A13 = "A13"
    A14 = "A14"
    A15 = "A15"
    A16 = "A16"
    A17 = "A17"
    A18 = "A18"
    A19 = "A19"
    A20 = "A20"
    A22 = "A22"
    A23 = "A23"
    A24 = "A24"
    A25 = "A25"


class Status(StrEnum):
    DEPOSEE = "DEPOSEE"
    MISE_A_DISPOSITION_MOE = "MISE_A_DISPOSITION_MOE"
    PRISE_EN_COMPTE_MOE = "PRISE_EN_COMPTE_MOE"
    MISE_A_DISPOSITION_MOA = "MISE_A_DISPOSITION_MOA"
    PRISE_EN_COMPTE_MOA = "PRISE_EN_COMPTE_MOA"
    TRANSMISE_MOA = "TRANSMISE_MOA"
    REFUSEE_MOE = "REFUSEE_MOE"
    REFUSEE_MOA = "REFUSEE_MOA"
    REJETEE = "REJETEE"
    MISE_EN_PAIEMENT = "MISE_EN_PAIEMENT"


class Role(StrEnum):
    FOURNISSEUR = "FOURNISSEUR"
    MOE = "MOE"
    MOA = "MOA"


class Filing(StrEnum):
    """The history's own action codes, besides the parties' actions."""

    DEPOT = "DEPOT"
    MISE_A_DISPOSITION = "MISE_A_DISPOSITION"
    TRAITEMENT_REJET = "TRAITEMENT_REJET"


# Where a works invoice names the structure of each of its parties.
PARTY_STRUCTURE = {
    Role.FOURNISSEUR: "supplier_structure_id",
    Role.MOE: "moe_structure_id",
    Role.MOA: "moa_structure_id",
}


def repeated_party(structures: dict[Role, str | None]) -> Role | None:
    """The first party naming a structure already named by another one: supplier, MOE and MOA are three
    different structures (a supplier naming itself MOE would validate its own invoice)."""
    seen: set[str] = set()
    for role in (Role.FOURNISSEUR, Role.MOE, Role.MOA):
        structure_id = structures.get(role)
        if structure_id is None:
            continue
        if structure_id in seen:
            return role
        seen.add(structure_id)
    return None


class Action(StrEnum):
    PRISE_EN_COMPTE = "PRISE_EN_COMPTE"
    VALIDATION = "VALIDATION"  # MOE: accept (amounts possibly modified) and pass to the MOA
    REFUS = "REFUS"
    REJET = "REJET"
    MISE_EN_PAIEMENT = "MISE_EN_PAIEMENT"


class RefusalReason(StrEnum):
    AUTRE = "AUTRE"
    MAUVAISE_MOE = "MAUVAISE_MOE"
    MAUVAISE_MOA = "MAUVAISE_MOA"
    REF_FAC_TRAVAUX = "REF_FAC_TRAVAUX"


MOE_STATUSES = frozenset({Status.MISE_A_DISPOSITION_MOE, Status.PRISE_EN_COMPTE_MOE})
MOA_STATUSES = frozenset({Status.MISE_A_DISPOSITION_MOA, Status.PRISE_EN_COMPTE_MOA})


# Keyed by (action, capacity): the MOE and the MOA take the same actions at their own stages.
TRANSITIONS: dict[tuple[Action, Role], Transition[Status, Role]] = {
    (Action.PRISE_EN_COMPTE, Role.MOE): Transition(
        Role.MOE, frozenset({Status.MISE_A_DISPOSITION_MOE}), Status.PRISE_EN_COMPTE_MOE
    ),
    (Action.VALIDATION, Role.MOE): Transition(Role.MOE, MOE_STATUSES, Status.MISE_A_DISPOSITION_MOA),
    (Action.REFUS, Role.MOE): Transition(Role.MOE, MOE_STATUSES, Status.REFUSEE_MOE),
    (Action.REJET, Role.MOE): Transition(Role.MOE, MOE_STATUSES, Status.REJETEE),
    (Action.PRISE_EN_COMPTE, Role.MOA): Transition(
        Role.MOA, frozenset({Status.MISE_A_DISPOSITION_MOA}), Status.PRISE_EN_COMPTE_MOA
    ),
    (Action.VALIDATION, Role.MOA): Transition(Role.MOA, MOA_STATUSES, Status.TRANSMISE_MOA),
    (Action.REFUS, Role.MOA): Transition(Role.MOA, MOA_STATUSES, Status.REFUSEE_MOA),
    (Action.REJET, Role.MOA): Transition(Role.MOA, MOA_STATUSES, Status.REJETEE),
    (Action.MISE_EN_PAIEMENT, Role.MOA): Transition(
        Role.MOA, frozenset({Status.TRANSMISE_MOA}), Status.MISE_EN_PAIEMENT
    ),
}


# Who deposits a document of each frame: the supplier (or its sub- or co-contractor, who deposits as
# the supplier party), the MOE (A15 to A18, A24) or the MOA (A19, A20, A25).
DEPOSITOR_ROLE = {
    "FOURNISSEUR": Role.FOURNISSEUR,
    "SOUS_TRAITANT": Role.FOURNISSEUR,
    "COTRAITANT": Role.FOURNISSEUR,
}


def depositor(billing_frame: BillingFrame) -> Role:
    return DEPOSITOR_ROLE.get(frame(billing_frame).depositor) or Role(frame(billing_frame).depositor)


def first_status(has_moe: bool, deposited_by: Role = Role.FOURNISSEUR) -> Status:
    """A deposited document is made available to its first actor after its depositor: a supplier's to
    the MOE (to the MOA without one), the MOE's to the MOA; the MOA's own is transmitted at once."""
    if deposited_by is Role.MOA:
        return Status.TRANSMISE_MOA
    if deposited_by is Role.MOE or not has_moe:
        return Status.MISE_A_DISPOSITION_MOA
    return Status.MISE_A_DISPOSITION_MOE


# Metropolitan France's public holidays (the package adds each year as it is asked for one).
FRENCH_HOLIDAYS = holidays.country_holidays("FR")


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in FRENCH_HOLIDAYS


def moe_deadline(made_available_at: datetime) -> date:
    """The last Europe/Paris day on which the MOE may process the draft in time: the 7th calendar day
    after it was made available, prolonged to the next working day when that one is a Saturday, a
    Sunday or a public holiday (CCAG Travaux, article 3.2)."""
    deadline = paris_day(made_available_at) + timedelta(days=MOE_DEADLINE_DAYS)
    while not is_working_day(deadline):
        deadline += timedelta(days=1)
    return deadline


def days_overdue(deadline: date, notice_date: date) -> int:
    return (notice_date - deadline).days


def oldest_kept_notice_day(today: date, kept_days: int) -> date:
    """The first day whose deadline notices retention still keeps: older notices are deleted, and a
    sweep of an older day is refused, since it could not tell which notices it issued already."""
    return today - timedelta(days=kept_days)


def is_overdue(deadline: date | None, today: date) -> bool:
    return deadline is not None and today > deadline


@dataclass(frozen=True)
class InvoiceState:
    billing_frame: BillingFrame
    status: Status
    has_moa: bool
    deadline: date | None


@dataclass(frozen=True)
class Decision:
    target: Status
    role: Role
    acting_for: Role | None  # the MOA acting in the MOE's place after the deadline


def check_amendment(decision: Decision) -> None:
    """The MOE's modified amounts go with the invoice passing to the MOA, and with nothing else."""
    if decision.target is not Status.MISE_A_DISPOSITION_MOA:
        raise ActionRefused(
            "amounts may be modified only when passing to the MOA", Refusal.INCOMPLETE, "action-invalid"
        )


def decide(
    action: Action,
    roles: set[Role],
    invoice: InvoiceState,
    today: date,
    reason_code: RefusalReason | None,
    reason: str | None,
) -> Decision:
    """What `action` by a caller holding `roles` does to `invoice` today, or why it may not."""
    for role in (Role.MOE, Role.MOA):
        transition = TRANSITIONS.get((action, role))
        if role in roles and transition is not None and invoice.status in transition.sources:
            return _checked(
                action, transition, invoice, reason_code, reason, Decision(transition.target, role, None)
            )
    moe_transition = TRANSITIONS.get((action, Role.MOE))
    if Role.MOA in roles and moe_transition is not None and invoice.status in moe_transition.sources:
        if not is_overdue(invoice.deadline, today):
            when = (
                f"after {invoice.deadline.isoformat()}"
                if invoice.deadline
                else "on an A4 draft past its deadline"
            )
            raise ActionRefused(
                f"the MOA may act in the MOE's place only {when}", Refusal.FORBIDDEN, "take-over-too-early"
            )
        decision = Decision(moe_transition.target, Role.MOA, acting_for=Role.MOE)
        return _checked(action, moe_transition, invoice, reason_code, reason, decision)
    if any((action, role) in TRANSITIONS for role in roles):
        raise ActionRefused(f"{action} is not possible in status {invoice.status}", Refusal.NOT_NOW)
    raise ActionRefused(f"{action} is not an action of your role on this invoice", Refusal.FORBIDDEN)


def _checked(
    action: Action,
    transition: Transition[Status, Role],
    invoice: InvoiceState,
    reason_code: RefusalReason | None,
    reason: str | None,
    decision: Decision,
) -> Decision:
    if action is Action.REFUS and reason_code is None:
        raise ActionRefused("a refusal needs a reason_code", Refusal.INCOMPLETE)
    if action is Action.REJET and not (reason and reason.strip()):
        raise ActionRefused("a rejection needs a reason", Refusal.INCOMPLETE)
    if transition.target is Status.MISE_A_DISPOSITION_MOA and not invoice.has_moa:
        raise ActionRefused("no MOA is named on this invoice to pass it to", Refusal.INCOMPLETE)
    return decision


@dataclass(frozen=True)
class InvoiceQuery:
    """What a list of works invoices is filtered on (each criterion when given)."""

    role: Role | None = None
    status: Status | None = None
    billing_frame: BillingFrame | None = None
    number: str | None = None
