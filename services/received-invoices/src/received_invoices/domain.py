"""Received invoices: delegation coverage, routing and the rights matrix.

No I/O here: these are the rules of "Gérer délégation des factures reçues" (release note §2).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    check_coverage(unknown_services, delegator_id, coverage, active)


def check_coverage(
    unknown_services: set[str], delegator_id: str, coverage: Coverage, active: Iterable[tuple[str, Coverage]]
) -> None:
    """A delegation, made or modified, covers active services of its delegator, and no day of a
    structure/service another active delegation covers."""
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


def delegation_running(status: DelegationStatus, ended: bool, end_date: date | None, today: date) -> bool:
    """Whether a delegation still gives its delegate a say: not revoked, not ended, not past its end."""
    return status is DelegationStatus.ACTIVE and not ended and (end_date is None or end_date >= today)


def check_revocation(is_delegator: bool, status: DelegationStatus, delegation_id: str) -> None:
    """Only the delegating structure revokes a delegation, once."""
    if not is_delegator:
        raise ActionRefused(
            "Only the delegating structure revokes a delegation", Refusal.FORBIDDEN, title="Forbidden"
        )
    if status is not DelegationStatus.ACTIVE:
        raise ActionRefused(delegation_id, Refusal.NOT_NOW, title="Delegation already revoked")


def check_modification(
    is_delegator: bool, status: DelegationStatus, ended: bool, current: Coverage, wanted: Coverage
) -> None:
    """Only the delegating structure modifies a delegation still running, its end date and (over
    services) its services; its scope and start stay."""
    if not is_delegator:
        raise ActionRefused(
            "Only the delegating structure modifies a delegation", Refusal.FORBIDDEN, title="Forbidden"
        )
    if status is not DelegationStatus.ACTIVE or ended:
        raise ActionRefused("the delegation has ended", Refusal.NOT_NOW, title="Delegation ended")
    if current.scope is Scope.STRUCTURE and wanted.services:
        raise _delegation_refused("a delegation over the whole structure names no service", "scope-fixed")
    if current.scope is Scope.SERVICES and not wanted.services:
        raise _delegation_refused("a delegation over services keeps at least one", "scope-fixed")
    if wanted.end is not None and wanted.end < current.start:
        raise _delegation_refused("end_date is before start_date", "end-before-start")


ROUTED_FRAME = "A1"


class InvoiceStatus(StrEnum):
    """Chorus Pro's statuses of a received invoice (`statutFacture`)."""

    DEPOSEE = "DEPOSEE"  # deposited, before routing; again when a recycled invoice is deposited anew
    MISE_A_DISPOSITION = "MISE_A_DISPOSITION"
    A_VALIDER_1 = "A_VALIDER_1"  # waiting for the delegated validator
    VALIDEE_1 = "VALIDEE_1"  # the validator's decisions: the invoice then goes on to the recipient
    REFUSEE_1 = "REFUSEE_1"
    SERVICE_FAIT = "SERVICE_FAIT"
    MANDATEE = "MANDATEE"
    MISE_A_DISPOSITION_COMPTABLE = "MISE_A_DISPOSITION_COMPTABLE"
    COMPTABILISEE = "COMPTABILISEE"
    MISE_EN_PAIEMENT = "MISE_EN_PAIEMENT"
    SUSPENDUE = "SUSPENDUE"
    COMPLETEE = "COMPLETEE"
    REJETEE = "REJETEE"
    A_RECYCLER = "A_RECYCLER"


class Step(StrEnum):
    """The history's action codes."""

    DEPOT = "DEPOT"  # arrived, by HTTP or as an event
    ACHEMINEMENT = "ACHEMINEMENT"  # routed to the recipient or its delegate
    TRAITEMENT = "TRAITEMENT"  # a processing to a target status (`traiterFactureRecue`)
    TRANSMISSION = "TRANSMISSION"  # the validator's decision made, the invoice reaches the recipient
    COMPLETION = "COMPLETION"  # the supplier completed a suspended invoice
    RECYCLAGE = "RECYCLAGE"  # the supplier named a new recipient for an invoice to recycle
    TRAITEMENT_REJET = "TRAITEMENT_REJET"  # the supplier processed the rejection
    FIN_DELEGATION = "FIN_DELEGATION"  # "délégation terminée": back to the recipient


class Capacity(StrEnum):
    """The capacity a history entry's actor acted in."""

    SUPPLIER = "FOURNISSEUR"
    RECIPIENT = "DESTINATAIRE"
    DELEGATE = "VALIDEUR_DELEGUE"
    SUBSTITUTE = "DESTINATAIRE_SUBSTITUT"  # the recipient deciding in the delegate's place
    PLATFORM = "PLATEFORME"  # what the platform does by itself: routing, a delegation's end


class Role(StrEnum):
    """What a caller is to an invoice in its current state; the transition table is keyed by it."""

    SUPPLIER = "SUPPLIER"
    VALIDATOR = "VALIDATOR"  # the delegate, either right, of an invoice awaiting validation
    DELEGATE_PROCESSOR = "DELEGATE_PROCESSOR"  # the delegate with TRAITEMENT, processing in its place
    RECIPIENT = "RECIPIENT"  # the recipient, holding the invoice
    SUBSTITUTE = "SUBSTITUTE"  # the recipient, of an invoice awaiting its delegate's validation


CAPACITY = {
    Role.SUPPLIER: Capacity.SUPPLIER,
    Role.VALIDATOR: Capacity.DELEGATE,
    Role.DELEGATE_PROCESSOR: Capacity.DELEGATE,
    Role.RECIPIENT: Capacity.RECIPIENT,
    Role.SUBSTITUTE: Capacity.SUBSTITUTE,
}

S = InvoiceStatus

# The recipient's processing, from each status it holds the invoice in: the État's chain (service
# fait, mandat, mise en paiement) and the local sector's (mandat, mise à disposition du comptable,
# comptabilisation), with suspension, rejection and recycling while nothing is mandated yet.
PROCESSING: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    S.MISE_A_DISPOSITION: frozenset(
        {S.SERVICE_FAIT, S.MANDATEE, S.MISE_EN_PAIEMENT, S.SUSPENDUE, S.REJETEE, S.A_RECYCLER}
    ),
    S.COMPLETEE: frozenset(
        {S.SERVICE_FAIT, S.MANDATEE, S.MISE_EN_PAIEMENT, S.SUSPENDUE, S.REJETEE, S.A_RECYCLER}
    ),
    S.SERVICE_FAIT: frozenset({S.MANDATEE, S.MISE_EN_PAIEMENT, S.SUSPENDUE, S.REJETEE}),
    S.MANDATEE: frozenset({S.MISE_A_DISPOSITION_COMPTABLE, S.COMPTABILISEE, S.MISE_EN_PAIEMENT}),
    S.MISE_A_DISPOSITION_COMPTABLE: frozenset({S.COMPTABILISEE, S.MISE_EN_PAIEMENT}),
    S.COMPTABILISEE: frozenset({S.MISE_EN_PAIEMENT}),
    S.SUSPENDUE: frozenset({S.REJETEE}),  # giving up waiting for the supplier's completion
}

# The validator's decisions, transmitted to the recipient.
DECISIONS = frozenset({S.VALIDEE_1, S.REFUSEE_1})

DECISION_OF = {S.VALIDEE_1: "VALIDEE", S.REFUSEE_1: "REFUSEE"}  # the invoice's validation_decision

# With TRAITEMENT, the delegate processes in the recipient's place (release note §2): these keep the
# invoice from the recipient, and what follows (a completion) comes back to the delegate.
DELEGATED_PROCESSING = frozenset({S.MISE_EN_PAIEMENT, S.SUSPENDUE, S.REJETEE, S.A_RECYCLER})

# For each status and role, the statuses that role may move the invoice to. A status absent, or a role absent
# from a status, allows nothing: MISE_EN_PAIEMENT and REJETEE end the lifecycle (a rejection is then
# processed by the supplier, a status unchanged).
TRANSITIONS: dict[InvoiceStatus, dict[Role, frozenset[InvoiceStatus]]] = {
    S.A_VALIDER_1: {
        Role.VALIDATOR: DECISIONS,
        Role.DELEGATE_PROCESSOR: DELEGATED_PROCESSING,
        Role.SUBSTITUTE: DECISIONS,
    },
    S.SUSPENDUE: {
        Role.SUPPLIER: frozenset({S.COMPLETEE}),
        Role.RECIPIENT: PROCESSING[S.SUSPENDUE],
        Role.DELEGATE_PROCESSOR: PROCESSING[S.SUSPENDUE] & DELEGATED_PROCESSING,
    },
    # Recycling: the supplier names a new recipient, and the invoice is deposited and routed anew.
    S.A_RECYCLER: {Role.SUPPLIER: frozenset({S.DEPOSEE})},
    **{
        status: {Role.RECIPIENT: targets, Role.DELEGATE_PROCESSOR: targets & DELEGATED_PROCESSING}
        for status, targets in PROCESSING.items()
        if status is not S.SUSPENDUE
    },
}

# The statuses whose history entry carries the motif (`motif` of `invoice-status-changed`).
MOTIVATED = frozenset({S.SUSPENDUE, S.REJETEE, S.REFUSEE_1, S.A_RECYCLER})

# What a move to a status must come with, by the name of the request's field.
REQUIRED: dict[InvoiceStatus, str] = {
    S.SUSPENDUE: "motif",
    S.REJETEE: "motif",
    S.REFUSEE_1: "motif",
    S.MANDATEE: "numero_dp_mandat",
    S.COMPLETEE: "comment",
    S.DEPOSEE: "recipient",
}

# Where each move is requested: the recipient's (or delegate's) processing, or the supplier's own.
OPERATION = {S.COMPLETEE: "completion", S.DEPOSEE: "recycling"}

ROLE_ORDER = list(Role)  # a target two roles may reach is reached in the first one's capacity


@dataclass(frozen=True)
class Standing:
    """The caller's relations to an invoice, and what the invoice's state makes of them."""

    supplier: bool
    recipient: bool
    delegate: bool  # the caller acts for the invoice's delegate, and that delegation still runs
    right: Right | None
    with_recipient: bool  # the recipient holds the invoice (not its delegate)


def roles_of(status: InvoiceStatus, standing: Standing) -> frozenset[Role]:
    roles: set[Role] = set()
    if standing.supplier:
        roles.add(Role.SUPPLIER)
    if status is S.A_VALIDER_1:
        if standing.delegate:
            roles.add(Role.VALIDATOR)
            if standing.right is Right.TRAITEMENT:
                roles.add(Role.DELEGATE_PROCESSOR)
        if standing.recipient:
            roles.add(Role.SUBSTITUTE)
    elif standing.with_recipient:
        if standing.recipient:
            roles.add(Role.RECIPIENT)
    elif standing.delegate and standing.right is Right.TRAITEMENT:
        roles.add(Role.DELEGATE_PROCESSOR)
    return frozenset(roles)


def next_statuses(status: InvoiceStatus, roles: frozenset[Role]) -> dict[InvoiceStatus, Role]:
    """Each status the caller may move the invoice to, in the lifecycle's order, with the role it does
    it in."""
    allowed: dict[InvoiceStatus, Role] = {}
    for target in InvoiceStatus:  # in the lifecycle's order
        for role in ROLE_ORDER:
            if role in roles and target in TRANSITIONS.get(status, {}).get(role, frozenset()):
                allowed[target] = role
                break
    return allowed


@dataclass(frozen=True)
class Move:
    target: InvoiceStatus
    role: Role

    @property
    def capacity(self) -> Capacity:
        return CAPACITY[self.role]

    @property
    def with_recipient(self) -> bool | None:
        """Who holds the invoice after the move: the recipient (True), the delegate (False), unchanged
        (None)."""
        if self.target in DECISIONS:
            return True
        if self.role is Role.DELEGATE_PROCESSOR:
            return False
        return None


def decide(
    target: InvoiceStatus, status: InvoiceStatus, roles: frozenset[Role], given: Mapping[str, str | None]
) -> Move:
    """The move to `target` by a caller in `roles`, or why it may not: 403 when the move is another
    party's (or the caller has no say on the invoice now), 409 listing the allowed statuses when
    nobody moves the invoice there from its status, 422 naming what the move lacks."""
    allowed = next_statuses(status, roles)
    role = allowed.get(target)
    if role is None:
        listed = list(allowed)
        theirs = any(
            target in targets for other, targets in TRANSITIONS.get(status, {}).items() if other not in roles
        )
        if not roles or theirs:
            raise ActionRefused(
                f"moving this invoice from {status} to {target} is not yours to do",
                Refusal.FORBIDDEN,
                allowed=listed,
            )
        raise ActionRefused(
            f"{target} is not possible from {status}; allowed: {', '.join(listed) or 'none'}",
            Refusal.NOT_NOW,
            allowed=listed,
        )
    needed = REQUIRED.get(target)
    if needed is not None and not (given.get(needed) or "").strip():
        raise ActionRefused(
            f"{target} requires {needed}",
            Refusal.INCOMPLETE,
            f"{needed.replace('_', '-')}-required",
            field=needed,
        )
    return Move(target, role)


# An invoice waits at its delegate while it awaits validation, or while the delegate with TRAITEMENT
# holds it suspended or completed: what the recipient's "awaiting-delegate" list shows, what the
# delegate's "to-validate" list shows, and what a delegation's end hands back to the recipient.
WAITING_AT_DELEGATE = frozenset({S.A_VALIDER_1, S.SUSPENDUE, S.COMPLETEE})


@dataclass(frozen=True)
class RuleBroken:
    """A rule of the recipient (its directory parameters) an invoice does not follow."""

    field: str
    slug: str
    message: str


def recipient_rules(
    structure_id: str,
    parameters: Mapping[str, object],
    service_code: str | None,
    service_requires_engagement: bool,
    engagement_number: str | None,
) -> RuleBroken | None:
    """What the recipient's parameters in the directory (`structures/v1/consulter`) demand of an
    invoice: a service code, an engagement number, or one of the two."""
    if parameters.get("service_code_required") and service_code is None:
        return RuleBroken(
            "recipient.service_code",
            "service-code-required",
            f"structure {structure_id} requires a service code (code service obligatoire)",
        )
    if engagement_number is not None:
        return None
    if parameters.get("engagement_required"):
        return RuleBroken(
            "engagement_number",
            "engagement-required",
            f"structure {structure_id} requires an engagement number (numéro d'engagement obligatoire)",
        )
    if service_requires_engagement:
        return RuleBroken(
            "engagement_number",
            "engagement-required",
            f"service {service_code} of structure {structure_id} requires an engagement number",
        )
    if parameters.get("engagement_or_service_required") and service_code is None:
        return RuleBroken(
            "engagement_number",
            "engagement-or-service-required",
            f"structure {structure_id} requires an engagement number or a service code",
        )
    return None
