from datetime import UTC, date, datetime, timedelta

import pytest

from chorus_common.actions import ActionRefused, Refusal
from invoicing_works.domain import (
    Action,
    BillingFrame,
    InvoiceState,
    RefusalReason,
    Role,
    Status,
    days_overdue,
    decide,
    is_working_day,
    moe_deadline,
)


@pytest.mark.parametrize(
    ("made_available_at", "deadline"),
    [
        # 23:30 UTC on 30 Nov is already 1 Dec in Paris: the clock starts on the Paris day.
        (datetime(2026, 11, 30, 23, 30, tzinfo=UTC), date(2026, 12, 8)),
        (datetime(2026, 11, 30, 22, 59, tzinfo=UTC), date(2026, 12, 7)),
        # Month and year ends.
        (datetime(2026, 1, 28, 12, 0, tzinfo=UTC), date(2026, 2, 4)),
        (datetime(2028, 2, 25, 12, 0, tzinfo=UTC), date(2028, 3, 3)),  # leap year, a Friday deposit
        (datetime(2026, 12, 28, 12, 0, tzinfo=UTC), date(2027, 1, 4)),
        # Across the clock changes: Saturday 4 April, then Easter Monday, prolong to Tuesday 7 April;
        # Saturday 31 October, then Sunday 1 November (Toussaint), to Monday 2 November.
        (datetime(2026, 3, 27, 23, 30, tzinfo=UTC), date(2026, 4, 7)),
        (datetime(2026, 10, 24, 22, 30, tzinfo=UTC), date(2026, 11, 2)),
        (datetime(2026, 10, 24, 21, 59, tzinfo=UTC), date(2026, 11, 2)),
        # 14 July, a Tuesday: Wednesday 15.
        (datetime(2026, 7, 7, 10, 0, tzinfo=UTC), date(2026, 7, 15)),
        # The eve of the Ascension weekend: Thursday 14 May is a holiday, Friday 15 is worked.
        (datetime(2026, 5, 7, 10, 0, tzinfo=UTC), date(2026, 5, 15)),
        # Pentecost Monday, then Christmas on a Friday: to the Monday after.
        (datetime(2026, 5, 18, 10, 0, tzinfo=UTC), date(2026, 5, 26)),
        (datetime(2026, 12, 18, 10, 0, tzinfo=UTC), date(2026, 12, 28)),
        (datetime(2026, 11, 6, 10, 0, tzinfo=UTC), date(2026, 11, 13)),  # a Friday deposit
    ],
)
def test_the_moe_has_seven_paris_calendar_days_prolonged_to_a_working_day(
    made_available_at: datetime, deadline: date
):
    assert moe_deadline(made_available_at) == deadline


def test_over_two_years_the_deadline_is_the_first_working_day_from_the_seventh():
    day = date(2026, 1, 1)
    while day < date(2028, 1, 1):
        deadline = moe_deadline(datetime(day.year, day.month, day.day, 11, 0, tzinfo=UTC))
        seventh = day + timedelta(days=7)
        assert deadline >= seventh and is_working_day(deadline), day
        assert all(not is_working_day(seventh + timedelta(days=n)) for n in range((deadline - seventh).days))
        assert (deadline - seventh).days <= 3, day  # at most a holiday and a weekend
        day += timedelta(days=1)


def test_days_overdue_counts_from_the_day_after_the_deadline():
    assert days_overdue(date(2026, 12, 7), date(2026, 12, 8)) == 1
    assert days_overdue(date(2026, 12, 7), date(2027, 1, 6)) == 30


def a4(status: Status, deadline: date | None = date(2026, 12, 7), has_moa: bool = True) -> InvoiceState:
    return InvoiceState(BillingFrame.A4, status, has_moa, deadline)


TODAY = date(2026, 12, 5)
AFTER = date(2026, 12, 8)


def test_the_moe_passes_the_draft_to_the_moa():
    decision = decide(Action.VALIDATION, {Role.MOE}, a4(Status.MISE_A_DISPOSITION_MOE), TODAY, None, None)
    assert (decision.target, decision.role, decision.acting_for) == (
        Status.MISE_A_DISPOSITION_MOA,
        Role.MOE,
        None,
    )


def test_the_moe_refuses_only_with_a_reason_code():
    with pytest.raises(ActionRefused) as refused:
        decide(Action.REFUS, {Role.MOE}, a4(Status.MISE_A_DISPOSITION_MOE), TODAY, None, "x")
    assert refused.value.refusal is Refusal.INCOMPLETE
    decision = decide(
        Action.REFUS, {Role.MOE}, a4(Status.PRISE_EN_COMPTE_MOE), TODAY, RefusalReason.MAUVAISE_MOA, None
    )
    assert decision.target is Status.REFUSEE_MOE


def test_the_moa_may_not_take_over_before_the_deadline():
    with pytest.raises(ActionRefused) as refused:
        decide(
            Action.VALIDATION, {Role.MOA}, a4(Status.MISE_A_DISPOSITION_MOE), date(2026, 12, 7), None, None
        )
    assert (refused.value.refusal, refused.value.slug) == (Refusal.FORBIDDEN, "take-over-too-early")
    assert "2026-12-07" in str(refused.value)


def test_after_the_deadline_the_moa_acts_in_the_moes_place():
    decision = decide(Action.REJET, {Role.MOA}, a4(Status.MISE_A_DISPOSITION_MOE), AFTER, None, "incomplet")
    assert (decision.target, decision.role, decision.acting_for) == (Status.REJETEE, Role.MOA, Role.MOE)


def test_the_moa_validates_what_the_moe_passed_on_then_puts_it_into_payment():
    validated = decide(Action.VALIDATION, {Role.MOA}, a4(Status.MISE_A_DISPOSITION_MOA), TODAY, None, None)
    assert validated.target is Status.TRANSMISE_MOA
    paid = decide(Action.MISE_EN_PAIEMENT, {Role.MOA}, a4(Status.TRANSMISE_MOA), TODAY, None, None)
    assert paid.target is Status.MISE_EN_PAIEMENT


def test_a_supplier_may_not_act_and_a_finished_invoice_cannot_change():
    with pytest.raises(ActionRefused) as refused:
        decide(Action.VALIDATION, {Role.FOURNISSEUR}, a4(Status.MISE_A_DISPOSITION_MOE), TODAY, None, None)
    assert refused.value.refusal is Refusal.FORBIDDEN
    with pytest.raises(ActionRefused) as refused:
        decide(Action.VALIDATION, {Role.MOE}, a4(Status.REJETEE), TODAY, None, None)
    assert refused.value.refusal is Refusal.NOT_NOW


def test_without_an_moa_the_moe_cannot_pass_the_draft_on():
    with pytest.raises(ActionRefused) as refused:
        decide(
            Action.VALIDATION, {Role.MOE}, a4(Status.MISE_A_DISPOSITION_MOE, has_moa=False), TODAY, None, None
        )
    assert refused.value.refusal is Refusal.INCOMPLETE


def test_the_works_frames_are_chorus_pros_and_each_has_its_depositor():
    from chorus_common.frames import frames_out
    from invoicing_works.domain import depositor, first_status

    assert [f.code for f in frames_out(works=True)] == list(BillingFrame)
    assert depositor(BillingFrame.A4) is depositor(BillingFrame.A11) is Role.FOURNISSEUR
    assert {
        depositor(f) for f in (BillingFrame.A15, BillingFrame.A16, BillingFrame.A17, BillingFrame.A18)
    } == {Role.MOE}
    assert depositor(BillingFrame.A24) is Role.MOE
    assert {depositor(f) for f in (BillingFrame.A19, BillingFrame.A20, BillingFrame.A25)} == {Role.MOA}
    assert first_status(True, Role.FOURNISSEUR) is Status.MISE_A_DISPOSITION_MOE
    assert first_status(False, Role.FOURNISSEUR) is Status.MISE_A_DISPOSITION_MOA
    assert first_status(True, Role.MOE) is Status.MISE_A_DISPOSITION_MOA
    assert first_status(True, Role.MOA) is Status.TRANSMISE_MOA
