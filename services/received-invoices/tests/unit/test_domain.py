from datetime import date

import pytest

from chorus_common.actions import ActionRefused, Refusal
from received_invoices.domain import (
    Capacity,
    Coverage,
    DelegationStatus,
    InvoiceStatus,
    Right,
    Scope,
    Standing,
    decide,
    delegation_running,
    first_overlap,
    next_statuses,
    roles_of,
)


def cov(scope: Scope, services: set[str], start: str, end: str | None = None) -> Coverage:
    return Coverage(
        scope, frozenset(services), date.fromisoformat(start), date.fromisoformat(end) if end else None
    )


def test_a_delegation_covers_its_services_between_its_dates():
    delegation = cov(Scope.SERVICES, {"S1", "S2"}, "2026-01-01", "2026-06-30")
    assert delegation.covers("S1", date(2026, 3, 1))
    assert not delegation.covers("S3", date(2026, 3, 1))
    assert not delegation.covers(None, date(2026, 3, 1)), "an invoice to the structure itself is not covered"
    assert not delegation.covers("S1", date(2026, 7, 1))
    assert cov(Scope.STRUCTURE, set(), "2026-01-01").covers(None, date(2030, 1, 1))


@pytest.mark.parametrize(
    ("first", "second", "overlap"),
    [
        (cov(Scope.SERVICES, {"S1"}, "2026-01-01"), cov(Scope.SERVICES, {"S2"}, "2026-01-01"), False),
        (cov(Scope.SERVICES, {"S1", "S2"}, "2026-01-01"), cov(Scope.SERVICES, {"S2"}, "2026-01-01"), True),
        (cov(Scope.STRUCTURE, set(), "2026-01-01"), cov(Scope.SERVICES, {"S9"}, "2026-01-01"), True),
        (
            cov(Scope.STRUCTURE, set(), "2026-01-01", "2026-01-31"),
            cov(Scope.STRUCTURE, set(), "2026-02-01"),
            False,
        ),
        (
            cov(Scope.STRUCTURE, set(), "2026-01-01", "2026-01-31"),
            cov(Scope.STRUCTURE, set(), "2026-01-31"),
            True,
        ),
        (
            cov(Scope.SERVICES, {"S1"}, "2026-03-01"),
            cov(Scope.SERVICES, {"S1"}, "2026-01-01", "2026-02-28"),
            False,
        ),
    ],
)
def test_overlap_means_a_structure_or_service_covered_twice_on_some_day(first, second, overlap):
    assert first.overlaps(second) is overlap
    assert second.overlaps(first) is overlap
    assert (first_overlap(first, [("d2", second)]) == "d2") is overlap


# The lifecycle as Chorus Pro has it, written out here independently of the domain's table: for each
# status, what the recipient holding the invoice may move it to.
RECIPIENT_PROCESSING = {
    "MISE_A_DISPOSITION": "SERVICE_FAIT MANDATEE MISE_EN_PAIEMENT SUSPENDUE REJETEE A_RECYCLER",
    "COMPLETEE": "SERVICE_FAIT MANDATEE MISE_EN_PAIEMENT SUSPENDUE REJETEE A_RECYCLER",
    "SERVICE_FAIT": "MANDATEE MISE_EN_PAIEMENT SUSPENDUE REJETEE",
    "MANDATEE": "MISE_A_DISPOSITION_COMPTABLE COMPTABILISEE MISE_EN_PAIEMENT",
    "MISE_A_DISPOSITION_COMPTABLE": "COMPTABILISEE MISE_EN_PAIEMENT",
    "COMPTABILISEE": "MISE_EN_PAIEMENT",
    "SUSPENDUE": "REJETEE",
}
# With TRAITEMENT the delegate pays, suspends, rejects and sends back for recycling, nothing else.
DELEGATE_PROCESSING = {"MISE_EN_PAIEMENT", "SUSPENDUE", "REJETEE", "A_RECYCLER"}
SUPPLIER_STEPS = {"SUSPENDUE": {"COMPLETEE"}, "A_RECYCLER": {"DEPOSEE"}}

# The callers an invoice meets: (name, standing without the holder, capacity expected when allowed).
CALLERS = {
    "supplier": (dict(supplier=True, recipient=False, delegate=False, right=None), Capacity.SUPPLIER),
    "recipient": (dict(supplier=False, recipient=True, delegate=False, right=None), None),
    "validator": (
        dict(supplier=False, recipient=False, delegate=True, right=Right.VALIDATION),
        Capacity.DELEGATE,
    ),
    "processor": (
        dict(supplier=False, recipient=False, delegate=True, right=Right.TRAITEMENT),
        Capacity.DELEGATE,
    ),
    # A delegate whose delegation ended, or any other structure: no say on the invoice.
    "former delegate": (
        dict(supplier=False, recipient=False, delegate=False, right=Right.TRAITEMENT),
        None,
    ),
}


def expected(status: str, with_recipient: bool, caller: str) -> set[str]:
    allowed = set(SUPPLIER_STEPS.get(status, set())) if caller == "supplier" else set()
    if status == "A_VALIDER_1":
        if caller in ("recipient", "validator", "processor"):
            allowed |= {"VALIDEE_1", "REFUSEE_1"}
        if caller == "processor":
            allowed |= DELEGATE_PROCESSING
    elif with_recipient and caller == "recipient":
        allowed |= set(RECIPIENT_PROCESSING.get(status, "").split())
    elif not with_recipient and caller == "processor":
        allowed |= set(RECIPIENT_PROCESSING.get(status, "").split()) & DELEGATE_PROCESSING
    return allowed


GIVEN = {"motif": "Pièce manquante", "numero_dp_mandat": "DP-2026-001", "comment": "Voici", "recipient": "X"}


@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize("with_recipient", [True, False])
@pytest.mark.parametrize("status", list(InvoiceStatus))
def test_the_whole_transition_table(status: InvoiceStatus, with_recipient: bool, caller: str):
    """Every status, either holder, every caller, every target: allowed exactly as Chorus Pro has it;
    otherwise 403 when the move is another party's (or the caller has no say), 409 listing the allowed."""
    if status is InvoiceStatus.A_VALIDER_1 and with_recipient:
        return  # awaiting validation, an invoice is at its delegate
    relations, capacity = CALLERS[caller]
    roles = roles_of(status, Standing(with_recipient=with_recipient, **relations))  # type: ignore[arg-type]
    allowed = expected(status, with_recipient, caller)
    assert {str(target) for target in next_statuses(status, roles)} == allowed
    anybody = set().union(*(expected(status, holder, other) for other in CALLERS for holder in (True, False)))
    for target in InvoiceStatus:
        if str(target) in allowed:
            move = decide(target, status, roles, GIVEN)
            if capacity is not None:
                assert move.capacity is capacity
            elif status is InvoiceStatus.A_VALIDER_1:
                assert move.capacity is Capacity.SUBSTITUTE
            else:
                assert move.capacity is Capacity.RECIPIENT
            continue
        with pytest.raises(ActionRefused) as refused:
            decide(target, status, roles, GIVEN)
        if not roles or str(target) in anybody:
            assert refused.value.refusal is Refusal.FORBIDDEN, (status, target, caller)
        else:
            assert refused.value.refusal is Refusal.NOT_NOW, (status, target, caller)
            assert refused.value.extensions["allowed"] == [t for t in InvoiceStatus if str(t) in allowed]


def test_a_decision_transmits_the_invoice_and_the_delegates_processing_keeps_it():
    validator = roles_of(InvoiceStatus.A_VALIDER_1, Standing(False, False, True, Right.TRAITEMENT, False))
    assert decide(InvoiceStatus.VALIDEE_1, InvoiceStatus.A_VALIDER_1, validator, {}).with_recipient is True
    suspended = decide(InvoiceStatus.SUSPENDUE, InvoiceStatus.A_VALIDER_1, validator, GIVEN)
    assert suspended.with_recipient is False
    held = roles_of(InvoiceStatus.COMPLETEE, Standing(False, False, True, Right.TRAITEMENT, False))
    assert decide(InvoiceStatus.MISE_EN_PAIEMENT, InvoiceStatus.COMPLETEE, held, {}).with_recipient is False
    recipient = roles_of(InvoiceStatus.MISE_A_DISPOSITION, Standing(False, True, False, None, True))
    assert (
        decide(InvoiceStatus.SERVICE_FAIT, InvoiceStatus.MISE_A_DISPOSITION, recipient, {}).with_recipient
        is None
    )


@pytest.mark.parametrize(
    ("target", "field"),
    [
        (InvoiceStatus.SUSPENDUE, "motif"),
        (InvoiceStatus.REJETEE, "motif"),
        (InvoiceStatus.MANDATEE, "numero_dp_mandat"),
    ],
)
def test_a_motif_or_a_mandate_number_is_required_where_chorus_pro_requires_it(target, field):
    recipient = roles_of(InvoiceStatus.MISE_A_DISPOSITION, Standing(False, True, False, None, True))
    for missing in ({}, {field: "  "}):
        with pytest.raises(ActionRefused) as refused:
            decide(target, InvoiceStatus.MISE_A_DISPOSITION, recipient, missing)
        assert refused.value.refusal is Refusal.INCOMPLETE
        assert refused.value.extensions["field"] == field
    assert decide(target, InvoiceStatus.MISE_A_DISPOSITION, recipient, {field: "x"}).target is target


def test_a_delegation_gives_a_say_until_it_is_revoked_ended_or_past_its_end_date():
    today = date(2026, 12, 1)
    assert delegation_running(DelegationStatus.ACTIVE, False, None, today)
    assert delegation_running(DelegationStatus.ACTIVE, False, today, today), "its end date is its last day"
    assert not delegation_running(DelegationStatus.ACTIVE, False, date(2026, 11, 30), today)
    assert not delegation_running(DelegationStatus.ACTIVE, True, None, today)
    assert not delegation_running(DelegationStatus.REVOKED, False, None, today)
