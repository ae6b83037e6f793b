from datetime import date

import pytest

from chorus_common.actions import ActionRefused, Refusal
from received_invoices.domain import (
    DECISIONS,
    PROCESSING_BY_DELEGATE,
    PROCESSING_BY_RECIPIENT,
    Action,
    Capacity,
    Coverage,
    InvoiceStatus,
    Right,
    Scope,
    decide,
    first_overlap,
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


ALL_ACTIONS = list(Action)


@pytest.mark.parametrize("right", list(Right))
@pytest.mark.parametrize("action", ALL_ACTIONS)
def test_the_delegate_may_take_exactly_the_actions_of_its_right(right: Right, action: Action):
    allowed = set(DECISIONS) | (set(PROCESSING_BY_DELEGATE) if right is Right.TRAITEMENT else set())
    call = lambda: decide(action, InvoiceStatus.A_VALIDER_1, False, True, right, "motif")  # noqa: E731
    if action not in allowed:
        with pytest.raises(ActionRefused) as refused:
            call()
        assert refused.value.refusal is Refusal.FORBIDDEN
        return
    outcome = call()
    assert outcome.capacity is Capacity.DELEGATE
    if action in DECISIONS:
        assert (outcome.status, outcome.transmitted) == (InvoiceStatus.MISE_A_DISPOSITION, True)
        assert outcome.decision == DECISIONS[action]
    else:
        assert (outcome.status, outcome.transmitted) == (PROCESSING_BY_DELEGATE[action], False)


@pytest.mark.parametrize("action", ALL_ACTIONS)
def test_the_recipient_substitutes_for_the_delegate_only_to_validate_or_refuse(action: Action):
    call = lambda: decide(action, InvoiceStatus.A_VALIDER_1, True, False, Right.TRAITEMENT, "motif")  # noqa: E731
    if action in DECISIONS:
        outcome = call()
        assert (outcome.capacity, outcome.status, outcome.transmitted) == (
            Capacity.SUBSTITUTE,
            InvoiceStatus.MISE_A_DISPOSITION,
            True,
        )
    else:
        with pytest.raises(ActionRefused):
            call()


@pytest.mark.parametrize("action", ALL_ACTIONS)
def test_the_recipient_processes_what_was_made_available(action: Action):
    call = lambda: decide(action, InvoiceStatus.MISE_A_DISPOSITION, True, False, None, "motif")  # noqa: E731
    if action in PROCESSING_BY_RECIPIENT:
        assert call().status is PROCESSING_BY_RECIPIENT[action]
    else:
        with pytest.raises(ActionRefused) as refused:
            call()
        assert refused.value.refusal is Refusal.NOT_NOW


def test_the_delegate_has_nothing_left_to_do_once_transmitted():
    with pytest.raises(ActionRefused) as refused:
        decide(Action.VALIDATION, InvoiceStatus.MISE_A_DISPOSITION, False, True, Right.VALIDATION, None)
    assert refused.value.refusal is Refusal.FORBIDDEN


def test_processing_twice_is_a_conflict_and_reasons_are_required():
    with pytest.raises(ActionRefused) as refused:
        decide(Action.MANDATEMENT, InvoiceStatus.MANDATEE, True, False, None, None)
    assert refused.value.refusal is Refusal.NOT_NOW
    for action in (Action.REFUS, Action.SUSPENSION, Action.REJET):
        with pytest.raises(ActionRefused) as refused:
            decide(action, InvoiceStatus.A_VALIDER_1, False, True, Right.TRAITEMENT, " ")
        assert refused.value.refusal is Refusal.INCOMPLETE
