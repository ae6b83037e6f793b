"""The use cases of engagements called directly, without HTTP, against the real PostgreSQL and RabbitMQ."""

import json
import uuid
from decimal import Decimal

import pytest

from chorus_common.actions import ActionRefused, Refusal
from chorus_common.auth import Principal
from chorus_common.events import IssuerParty, Party
from chorus_common.problems import Problem
from chorus_common.runtime import ServiceRuntime
from chorus_testing.fixtures import BusProbe, take
from engagements import use_cases
from engagements.domain import Action, EngagementStatus, EngagementType, LineDraft

from .conftest import RunningEngagements


def new_engagement(issuer: str, supplier: str) -> use_cases.NewEngagement:
    return use_cases.NewEngagement(
        number=f"EJ-{uuid.uuid4().hex[:8]}",
        type=EngagementType.BON_DE_COMMANDE,
        issuer=IssuerParty(structure_id=issuer, name="Ministère", email="achats@example.fr", kind="ETAT"),
        supplier=Party(structure_id=supplier, name="BTP SA", email="contact@btp.example.fr"),
        invoice_recipient=None,
        currency="EUR",
        lines=[LineDraft(None, "Ciment", Decimal("2.5"), "T", Decimal("1234.567"), Decimal("20"))],
    )


def runtime_in(engagements: RunningEngagements) -> ServiceRuntime:
    runtime: ServiceRuntime = engagements.app.state.runtime
    return runtime


async def test_validating_an_engagement_commits_it_and_puts_its_event_on_the_bus(
    engagements: RunningEngagements, bus: BusProbe
):
    runtime = runtime_in(engagements)
    issuer, supplier = await engagements.public_issuer(), f"SUP-{uuid.uuid4().hex[:6]}"
    buyer = Principal(sub="marie", structures=frozenset({issuer}))
    tap = await bus.tap("engagement-validated")

    created = await use_cases.create_engagement(runtime.unit_of_work(buyer), new_engagement(issuer, supplier))
    assert created["total_ttc"] == Decimal("3703.70")
    validated = await use_cases.act_on_engagement(
        runtime.unit_of_work(buyer), created["id"], Action.VALIDATION, None
    )

    assert validated["status"] == EngagementStatus.COMMANDE
    assert [h["capacity"] for h in validated["history"]] == ["EMETTEUR", "EMETTEUR"]
    # Committing the validation woke the relay: the event is on the bus without anyone waking it.
    [message] = await take(tap, 1)
    assert json.loads(message.body)["data"]["engagement_id"] == str(created["id"])
    seller = Principal(sub="sam", structures=frozenset({supplier}))
    assert (await use_cases.engagement(runtime.unit_of_work(seller), created["id"]))["number"] == validated[
        "number"
    ]


async def test_a_supplier_cannot_see_a_draft_nor_validate_it(engagements: RunningEngagements):
    runtime = runtime_in(engagements)
    issuer, supplier = await engagements.public_issuer(), f"SUP-{uuid.uuid4().hex[:6]}"
    buyer = Principal(sub="marie", structures=frozenset({issuer}))
    seller = Principal(sub="sam", structures=frozenset({supplier, issuer + "-other"}))
    created = await use_cases.create_engagement(runtime.unit_of_work(buyer), new_engagement(issuer, supplier))

    with pytest.raises(Problem) as hidden:
        await use_cases.engagement(runtime.unit_of_work(seller), created["id"])
    assert hidden.value.status == 404
    with pytest.raises(Problem):
        await use_cases.act_on_engagement(
            runtime.unit_of_work(seller), created["id"], Action.VALIDATION, None
        )
    await use_cases.act_on_engagement(runtime.unit_of_work(buyer), created["id"], Action.VALIDATION, None)
    with pytest.raises(ActionRefused) as refused:
        await use_cases.act_on_engagement(runtime.unit_of_work(seller), created["id"], Action.REFUS, " ")
    assert refused.value.refusal is Refusal.INCOMPLETE
    details = await use_cases.engagement(runtime.unit_of_work(buyer), created["id"])
    assert details["status"] == EngagementStatus.COMMANDE and len(details["history"]) == 2
