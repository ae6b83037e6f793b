import json
from typing import Any

import pytest
from pydantic import ValidationError

from chorus_common.actions import ActionRefused, Refusal
from support_portal.domain import Action, Role, Status, decide, reference
from support_portal.routing import RoutingTable


def test_references_are_sequential_per_year_and_zero_padded():
    assert reference(2026, 42) == "SOL-2026-000042"
    assert reference(2027, 1) == "SOL-2027-000001"


def test_the_requester_submits_answers_re_sends_and_closes():
    assert decide(Action.SOUMISSION, Role.REQUESTER, Status.BROUILLON, None, False) is Status.SOUMIS
    assert (
        decide(Action.COMPLEMENT, Role.REQUESTER, Status.COMPLEMENT_DEMANDE, "voici", False)
        is Status.COMPLEMENT_APPORTE
    )
    assert decide(Action.RENVOI, Role.REQUESTER, Status.SOLUTION_PROPOSEE, "non", False) is Status.RENVOYE
    assert decide(Action.CLOTURE, Role.REQUESTER, Status.SOLUTION_PROPOSEE, None, False) is Status.CLOTURE


def test_an_agent_assigns_the_ticket_to_itself_before_acting():
    with pytest.raises(ActionRefused) as refused:
        decide(Action.DEMANDE_COMPLEMENT, Role.AGENT, Status.EN_COURS, "précisez", assigned_to_caller=False)
    assert refused.value.refusal is Refusal.FORBIDDEN
    assert decide(Action.PRISE_EN_CHARGE, Role.AGENT, Status.SOUMIS, None, False) is Status.EN_COURS
    assert (
        decide(Action.DEMANDE_COMPLEMENT, Role.AGENT, Status.EN_COURS, "précisez", True)
        is Status.COMPLEMENT_DEMANDE
    )
    assert (
        decide(Action.PROPOSITION_SOLUTION, Role.AGENT, Status.EN_COURS, "voici", True)
        is Status.SOLUTION_PROPOSEE
    )
    assert decide(Action.TRANSFERT_SUPPORT, Role.AGENT, Status.EN_COURS, None, True) is Status.SOUMIS
    assert decide(Action.CLOTURE, Role.AGENT, Status.EN_COURS, None, True) is Status.CLOTURE


@pytest.mark.parametrize(
    ("action", "role", "status", "message", "refusal"),
    [
        (Action.SOUMISSION, Role.AGENT, Status.BROUILLON, None, Refusal.FORBIDDEN),
        (Action.PRISE_EN_CHARGE, Role.REQUESTER, Status.SOUMIS, None, Refusal.FORBIDDEN),
        (Action.COMPLEMENT, Role.REQUESTER, Status.SOUMIS, "x", Refusal.NOT_NOW),
        (Action.COMPLEMENT, Role.REQUESTER, Status.COMPLEMENT_DEMANDE, "  ", Refusal.INCOMPLETE),
        (Action.PRISE_EN_CHARGE, Role.AGENT, Status.CLOTURE, None, Refusal.NOT_NOW),
        (Action.CLOTURE, Role.REQUESTER, Status.CLOTURE, None, Refusal.NOT_NOW),
    ],
)
def test_refusals(action: Action, role: Role, status: Status, message: str | None, refusal: Refusal):
    with pytest.raises(ActionRefused) as refused:
        decide(action, role, status, message, assigned_to_caller=True)
    assert refused.value.refusal is refusal


TABLE: dict[str, Any] = {
    "default": {"kind": "SUPPORT", "name": "Support"},
    "routes": [
        {
            "category": "FACTURATION",
            "subcategory": "DELEGATION",
            "recipient": {
                "kind": "SERVICE",
                "name": "Délégations",
                "structure_id": "S",
                "service_code": "DELEG",
            },
        },
        {
            "category": "ENGAGEMENTS",
            "subcategory": "*",
            "recipient": {"kind": "SERVICE", "name": "EJ", "structure_id": "S", "service_code": "EJ"},
        },
    ],
}


def test_the_routing_table_picks_exact_then_wildcard_then_default():
    table = RoutingTable.model_validate(TABLE)
    assert table.recipient_for("FACTURATION", "DELEGATION").service_code == "DELEG"
    assert table.recipient_for("ENGAGEMENTS", "ANYTHING").service_code == "EJ"
    assert table.recipient_for("FACTURATION", "AUTRE").kind == "SUPPORT"
    assert table.recipient_for("INCONNU", "AUTRE").name == "Support"


def test_the_shipped_referential_holds_the_shipped_routing_tables_categories(tmp_path):
    from support_portal.app import load_referential, load_routing_table
    from support_portal.settings import DEFAULT_CATEGORIES, DEFAULT_ROUTING_TABLE

    routing = load_routing_table(DEFAULT_ROUTING_TABLE)
    referential = load_referential(DEFAULT_CATEGORIES, routing)
    assert {c.code for c in referential.active()} >= {"FACTURATION", "ENGAGEMENTS", "COMPTE", "AUTRE"}
    unknown = tmp_path / "routing.json"
    support = {"kind": "SUPPORT", "name": "S"}
    route = {"category": "INCONNUE", "subcategory": "*", "recipient": support}
    unknown.write_text(json.dumps({"default": support, "routes": [route]}))
    with pytest.raises(SystemExit, match="INCONNUE"):
        load_referential(DEFAULT_CATEGORIES, load_routing_table(unknown))


@pytest.mark.parametrize(
    "broken",
    [
        {**TABLE, "routes": [*TABLE["routes"], TABLE["routes"][0]]},
        {**TABLE, "default": {"kind": "SERVICE", "name": "x"}},
        {**TABLE, "default": {"kind": "SUPPORT", "name": "x", "service_code": "Y"}},
        {"routes": []},
    ],
    ids=["duplicate-route", "service-without-code", "support-with-code", "no-default"],
)
def test_an_invalid_routing_table_is_refused(broken: dict[str, object]):
    with pytest.raises(ValidationError):
        RoutingTable.model_validate(broken)
