"""Support tickets ("sollicitations"): statuses, who may do what, references.

No I/O here (release note §4: the support portal).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from chorus_common.actions import ActionRefused, Refusal
from chorus_common.transitions import Transition


class Status(StrEnum):
    BROUILLON = "BROUILLON"
    SOUMIS = "SOUMIS"
    EN_COURS = "EN_COURS"
    COMPLEMENT_DEMANDE = "COMPLEMENT_DEMANDE"
    COMPLEMENT_APPORTE = "COMPLEMENT_APPORTE"
    SOLUTION_PROPOSEE = "SOLUTION_PROPOSEE"
    RENVOYE = "RENVOYE"
    CLOTURE = "CLOTURE"


class Environment(StrEnum):
    PRODUCTION = "PRODUCTION"
    QUALIFICATION = "QUALIFICATION"


class Action(StrEnum):
    # the requester's
    SOUMISSION = "SOUMISSION"
    COMPLEMENT = "COMPLEMENT"
    RENVOI = "RENVOI"
    CLOTURE = "CLOTURE"
    # the recipient's agents'
    PRISE_EN_CHARGE = "PRISE_EN_CHARGE"
    DEMANDE_COMPLEMENT = "DEMANDE_COMPLEMENT"
    PROPOSITION_SOLUTION = "PROPOSITION_SOLUTION"
    TRANSFERT_SUPPORT = "TRANSFERT_SUPPORT"


class Role(StrEnum):
    REQUESTER = "DEMANDEUR"
    AGENT = "AGENT"


# Statuses in which the recipient has something to do (the agents' to-do list).
TO_DO = frozenset({Status.SOUMIS, Status.COMPLEMENT_APPORTE, Status.RENVOYE})


class Creation(StrEnum):
    CREATION = "CREATION"  # the history's first entry


@dataclass(frozen=True)
class Rule(Transition[Status, Role]):
    assignment_required: bool = False  # the agent takes the ticket (PRISE_EN_CHARGE) before acting


MESSAGE = "message"
RULES: dict[Action, Rule] = {
    Action.SOUMISSION: Rule(Role.REQUESTER, frozenset({Status.BROUILLON}), Status.SOUMIS),
    Action.COMPLEMENT: Rule(
        Role.REQUESTER, frozenset({Status.COMPLEMENT_DEMANDE}), Status.COMPLEMENT_APPORTE, MESSAGE
    ),
    Action.RENVOI: Rule(Role.REQUESTER, frozenset({Status.SOLUTION_PROPOSEE}), Status.RENVOYE, MESSAGE),
    Action.CLOTURE: Rule(Role.REQUESTER, frozenset(set(Status) - {Status.CLOTURE}), Status.CLOTURE),
    Action.PRISE_EN_CHARGE: Rule(Role.AGENT, TO_DO, Status.EN_COURS),
    Action.DEMANDE_COMPLEMENT: Rule(
        Role.AGENT, frozenset({Status.EN_COURS}), Status.COMPLEMENT_DEMANDE, MESSAGE, True
    ),
    Action.PROPOSITION_SOLUTION: Rule(
        Role.AGENT, frozenset({Status.EN_COURS}), Status.SOLUTION_PROPOSEE, MESSAGE, True
    ),
    Action.TRANSFERT_SUPPORT: Rule(Role.AGENT, frozenset({Status.EN_COURS}), Status.SOUMIS, None, True),
}

AGENT_CLOSABLE = frozenset({Status.EN_COURS})

# Changes the requester is told about by e-mail.
NOTIFIED = frozenset({Action.DEMANDE_COMPLEMENT, Action.PROPOSITION_SOLUTION})


def decide(
    action: Action, role: Role, status: Status, message: str | None, assigned_to_caller: bool
) -> Status:
    """The status `action` leads to, or why the caller may not take it now."""
    if action is Action.CLOTURE and role is Role.AGENT:
        if not assigned_to_caller:
            raise ActionRefused("assign the ticket to yourself before acting on it", Refusal.FORBIDDEN)
        if status not in AGENT_CLOSABLE:
            raise ActionRefused(f"an agent closes a ticket it is handling, not one {status}", Refusal.NOT_NOW)
        return Status.CLOTURE
    rule = RULES[action]
    rule.allowed_to(action, {role}, "ticket")
    if rule.assignment_required and not assigned_to_caller:
        raise ActionRefused("assign the ticket to yourself before acting on it", Refusal.FORBIDDEN)
    return rule.from_status(action, status, message, "ticket")


def reference(year: int, sequence: int) -> str:
    """The human reference of a ticket: sequential per year, e.g. SOL-2026-000042."""
    return f"SOL-{year}-{sequence:06d}"


# Who handles the tickets routed to a structure of the directory: its managers (attached to it, or to
# the ticket's service), as the read model of the directory has them.
# Signed-out creations are counted over the last hour (the rate limit); older ones are deleted.
RATE_LIMIT_WINDOW = timedelta(hours=1)

HANDLING_ROLES = frozenset({"GESTIONNAIRE_PRINCIPAL", "GESTIONNAIRE"})


def handles(handled: frozenset[tuple[str, str | None]], structure_id: str, service_code: str | None) -> bool:
    """Whether a user managing `handled` (structure, service or None for the whole structure) handles
    a ticket of `structure_id` (and `service_code`)."""
    return (structure_id, None) in handled or (
        service_code is not None and (structure_id, service_code) in handled
    )
