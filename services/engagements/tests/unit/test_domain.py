from decimal import Decimal

import pytest

from chorus_common.actions import ActionRefused, Refusal
from engagements.domain import (
    Action,
    Capacity,
    EngagementStatus,
    decide,
    issuer_problem,
    line_amounts,
    totals,
)


def test_decimal_quantities_and_prices_give_exact_amounts_rounded_half_up():
    amounts = line_amounts(Decimal("2.5"), Decimal("1234.567"), Decimal("20"))
    assert amounts.amount_ht == Decimal("3086.42")  # 3086.4175
    assert amounts.amount_ttc == Decimal("3703.70")  # 3703.704
    assert amounts.amount_vat == Decimal("617.28")


@pytest.mark.parametrize(
    ("quantity", "price", "rate", "ht", "ttc"),
    [
        ("0.1", "0.1", "0", "0.01", "0.01"),
        ("1", "0.005", "0", "0.01", "0.01"),  # half-up, not banker's rounding
        ("3", "0.333333", "5.5", "1.00", "1.06"),
        ("0.000001", "999999", "20", "1.00", "1.20"),
    ],
)
def test_rounding_cases(quantity: str, price: str, rate: str, ht: str, ttc: str):
    amounts = line_amounts(Decimal(quantity), Decimal(price), Decimal(rate))
    assert (amounts.amount_ht, amounts.amount_ttc) == (Decimal(ht), Decimal(ttc))


def test_totals_are_sums_of_rounded_lines():
    lines = [line_amounts(Decimal("1"), Decimal("0.005"), Decimal("0")) for _ in range(3)]
    assert totals(lines).amount_ht == Decimal("0.03")


def test_the_issuer_validates_a_draft_into_an_order():
    assert decide(Action.VALIDATION, {Capacity.ISSUER}, EngagementStatus.BROUILLON, None) == (
        EngagementStatus.COMMANDE,
        Capacity.ISSUER,
    )


def test_the_supplier_may_not_validate():
    with pytest.raises(ActionRefused) as refused:
        decide(Action.VALIDATION, {Capacity.SUPPLIER}, EngagementStatus.BROUILLON, None)
    assert refused.value.refusal is Refusal.FORBIDDEN


def test_an_order_cannot_be_validated_twice():
    with pytest.raises(ActionRefused) as refused:
        decide(Action.VALIDATION, {Capacity.ISSUER}, EngagementStatus.COMMANDE, None)
    assert refused.value.refusal is Refusal.NOT_NOW


def test_the_supplier_refuses_only_with_a_reason():
    with pytest.raises(ActionRefused) as refused:
        decide(Action.REFUS, {Capacity.SUPPLIER}, EngagementStatus.COMMANDE, "  ")
    assert refused.value.refusal is Refusal.INCOMPLETE
    assert (
        decide(Action.REFUS, {Capacity.SUPPLIER}, EngagementStatus.COMMANDE, "prix")[0]
        is EngagementStatus.REFUSEE
    )


def test_an_inactive_engagement_cannot_be_inactivated_again():
    with pytest.raises(ActionRefused):
        decide(Action.INACTIVATION, {Capacity.ISSUER}, EngagementStatus.INACTIF, None)


def test_only_a_public_structure_of_the_directory_issues_an_engagement():
    assert issuer_problem(True, "PUBLIQUE", "ETAT") is None
    assert issuer_problem(False, None, None) == "unknown to the directory"
    refused = issuer_problem(True, "PRIVEE", None)
    assert refused is not None and "public structure" in refused
    assert issuer_problem(True, "PUBLIQUE", None) is not None  # a public structure always has a category
