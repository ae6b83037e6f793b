"""The use cases of the support portal called directly, without HTTP, against the real PostgreSQL."""

import uuid

import pytest

from chorus_common.actions import ActionRefused
from chorus_common.auth import Principal
from chorus_common.problems import Problem
from chorus_common.runtime import ServiceRuntime
from chorus_testing.captcha import solve
from support_portal import use_cases
from support_portal.domain import Action, Status

from .conftest import RunningSupportPortal


def new_ticket() -> use_cases.NewTicket:
    return use_cases.NewTicket(
        "AUTRE", "AUTRE", "Accès au portail", "Je ne parviens pas à me connecter.", "PRODUCTION"
    )


def captcha(portal: use_cases.Portal) -> str:
    return solve(portal.guard.challenge())


async def test_a_signed_out_ticket_is_answered_through_its_follow_link(service: RunningSupportPortal):
    runtime: ServiceRuntime = service.app.state.runtime
    portal: use_cases.Portal = service.app.state.portal
    email = f"{uuid.uuid4().hex[:8]}@example.fr"
    ticket = await use_cases.open_signed_out(
        runtime.unit_of_work(), portal, new_ticket(), email, "Jeanne", "10.1.2.3", captcha(portal)
    )
    assert ticket["status"] == Status.SOUMIS and ticket["recipient_kind"] == "SUPPORT"

    agent = Principal(sub=f"agent-{uuid.uuid4().hex[:6]}", roles=frozenset({use_cases.SUPPORT_AGENT_ROLE}))
    with pytest.raises(ActionRefused):  # an agent takes the ticket before asking anything
        await use_cases.act_on_ticket(
            runtime.unit_of_work(agent), portal, ticket["id"], Action.DEMANDE_COMPLEMENT, "?"
        )
    await use_cases.act_on_ticket(
        runtime.unit_of_work(agent), portal, ticket["id"], Action.PRISE_EN_CHARGE, None
    )
    await use_cases.act_on_ticket(
        runtime.unit_of_work(agent), portal, ticket["id"], Action.DEMANDE_COMPLEMENT, "Quel est votre SIRET ?"
    )
    with pytest.raises(Problem):  # a wrong secret opens nothing
        await use_cases.ticket_for_token(runtime.unit_of_work(), f"{ticket['id']}.wrong")

    details = await use_cases.ticket(runtime.unit_of_work(agent), ticket["id"])
    assert [(h["action"], h["capacity"]) for h in details["history"]] == [
        ("CREATION", "DEMANDEUR"),
        ("SOUMISSION", "DEMANDEUR"),
        ("PRISE_EN_CHARGE", "AGENT"),
        ("DEMANDE_COMPLEMENT", "AGENT"),
    ]


async def test_signed_out_creation_is_limited_per_hour_and_address(service: RunningSupportPortal):
    runtime: ServiceRuntime = service.app.state.runtime
    portal: use_cases.Portal = service.app.state.portal
    address = f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    for n in range(portal.signed_out_limit_per_hour):
        await use_cases.open_signed_out(
            runtime.unit_of_work(), portal, new_ticket(), f"a{n}@example.fr", "A", address, captcha(portal)
        )
    with pytest.raises(Problem) as limited:
        await use_cases.open_signed_out(
            runtime.unit_of_work(), portal, new_ticket(), "b@example.fr", "B", address, captcha(portal)
        )
    assert limited.value.status == 429
