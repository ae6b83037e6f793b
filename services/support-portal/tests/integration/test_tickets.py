"""Tickets signed in and signed out, with a real PostgreSQL and RabbitMQ."""

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from chorus_common.events import TicketSubmitted, TicketUpdated, parse_event
from chorus_testing.auth import bearer
from chorus_testing.captcha import with_captcha
from chorus_testing.directory import known_structure
from chorus_testing.fixtures import BusProbe, take, take_where
from support_portal.db import outbox, tickets

from .conftest import DGFIP, RunningSupportPortal

SUPPORT_AGENT = bearer("agent-support", roles=["support-agent"])  # the support team: a role, no structure


def ticket(category: str = "COMPTE", subcategory: str = "CONNEXION", **extra: Any) -> dict[str, Any]:
    return {
        "category": category,
        "subcategory": subcategory,
        "title": "Accès impossible",
        "description": "Je ne parviens pas à me connecter depuis hier.",
        "environment": "PRODUCTION",
        **extra,
    }


def signed_out(email: str, **extra: Any) -> dict[str, Any]:
    return {**ticket(**extra), "email": email, "name": "Jean Dupont"}


async def post_signed_out(client: httpx.AsyncClient, email: str, **extra: Any) -> httpx.Response:
    """A signed-out ticket posted as the portal's form does, its captcha solved."""
    return await client.post("/public/tickets", json=await with_captcha(client, signed_out(email, **extra)))


async def test_a_signed_in_requester_drafts_submits_answers_and_closes(
    service: RunningSupportPortal, bus: BusProbe
):
    submitted_tap, updated_tap = await bus.tap("ticket-submitted"), await bus.tap("ticket-updated")
    structure = f"S-{uuid.uuid4().hex[:6]}"
    sub = f"user-{uuid.uuid4().hex[:6]}"
    me = await service.user(sub, structure)
    draft = await service.client.post("/tickets", json={**ticket(), "structure_id": structure}, headers=me)
    assert draft.status_code == 201, draft.text
    body = draft.json()
    assert body["status"] == "BROUILLON" and body["reference"].startswith("SOL-2026-")
    drafts = await service.client.get("/tickets", params={"list": "drafts"}, headers=me)
    assert [t["id"] for t in drafts.json()["items"]] == [body["id"]]

    submitted = await service.act(me, body["id"], "SOUMISSION")
    assert submitted.json()["status"] == "SOUMIS"
    assert (
        await service.act(SUPPORT_AGENT, body["id"], "DEMANDE_COMPLEMENT", "Quel navigateur ?")
    ).status_code == 403
    assert (await service.act(SUPPORT_AGENT, body["id"], "PRISE_EN_CHARGE")).json()[
        "assigned_to"
    ] == "agent-support"
    asked = await service.act(SUPPORT_AGENT, body["id"], "DEMANDE_COMPLEMENT", "Quel navigateur ?")
    assert asked.json()["status"] == "COMPLEMENT_DEMANDE"
    required = await service.client.get("/tickets", params={"list": "actions-required"}, headers=me)
    assert [t["id"] for t in required.json()["items"]] == [body["id"]]
    assert (await service.act(me, body["id"], "COMPLEMENT")).status_code == 422
    answered = await service.act(me, body["id"], "COMPLEMENT", "Firefox 140")
    assert answered.json()["status"] == "COMPLEMENT_APPORTE"
    await service.act(SUPPORT_AGENT, body["id"], "PRISE_EN_CHARGE")
    solved = await service.act(SUPPORT_AGENT, body["id"], "PROPOSITION_SOLUTION", "Videz le cache.")
    resent = await service.act(me, body["id"], "RENVOI", "Toujours pas.")
    assert (solved.json()["status"], resent.json()["status"]) == ("SOLUTION_PROPOSEE", "RENVOYE")
    closed = await service.act(me, body["id"], "CLOTURE")
    assert closed.json()["status"] == "CLOTURE"
    assert [m["body"] for m in closed.json()["messages"]] == [
        "Je ne parviens pas à me connecter depuis hier.",
        "Quel navigateur ?",
        "Firefox 140",
        "Videz le cache.",
        "Toujours pas.",
    ]

    [message] = await take(submitted_tap, 1)
    _, data = parse_event(message.body)
    assert isinstance(data, TicketSubmitted)
    assert (data.reference, data.requester_email, data.follow_url) == (
        body["reference"],
        f"{sub}@example.fr",
        None,
    )
    updates = [parse_event(m.body)[1] for m in await take(updated_tap, 2)]
    assert [(u.status, u.message) for u in updates if isinstance(u, TicketUpdated)] == [
        ("COMPLEMENT_DEMANDE", "Quel navigateur ?"),
        ("SOLUTION_PROPOSEE", "Videz le cache."),
    ]


async def test_tickets_are_routed_to_business_services_whose_agents_alone_see_them(
    service: RunningSupportPortal,
):
    structure = f"S-{uuid.uuid4().hex[:6]}"
    me = await service.user(f"user-{uuid.uuid4().hex[:6]}", structure)
    deleg_agent = await service.user("agent-deleg", DGFIP, roles=["agent:DELEG"])
    ej_agent = await service.user("agent-ej", DGFIP, roles=["agent:EJ"])
    created = await service.client.post(
        "/tickets",
        json={**ticket("FACTURATION", "DELEGATION"), "structure_id": structure, "submit": True},
        headers=me,
    )
    routed = created.json()
    assert routed["recipient"]["service_code"] == "DELEG"
    todo = await service.client.get(
        "/tickets", params={"list": "to-do", "page_size": 200}, headers=deleg_agent
    )
    assert routed["id"] in [t["id"] for t in todo.json()["items"]]
    for outsider in (ej_agent, SUPPORT_AGENT, await service.user("other-user", structure)):
        listed = await service.client.get(
            "/tickets", params={"list": "to-do", "page_size": 200}, headers=outsider
        )
        assert routed["id"] not in [t["id"] for t in listed.json()["items"]]
        assert (await service.client.get(f"/tickets/{routed['id']}", headers=outsider)).status_code == 404
        assert (await service.act(outsider, routed["id"], "PRISE_EN_CHARGE")).status_code == 404
    await service.act(deleg_agent, routed["id"], "PRISE_EN_CHARGE")
    transferred = await service.act(deleg_agent, routed["id"], "TRANSFERT_SUPPORT")
    assert (transferred.json()["status"], transferred.json()["recipient"]["kind"]) == ("SOUMIS", "SUPPORT")
    assert (await service.client.get(f"/tickets/{routed['id']}", headers=deleg_agent)).status_code == 404
    assert (await service.client.get(f"/tickets/{routed['id']}", headers=SUPPORT_AGENT)).status_code == 200


async def test_a_signed_out_requester_follows_its_ticket_only_through_its_secret_link(
    service: RunningSupportPortal, bus: BusProbe
):
    tap = await bus.tap("ticket-submitted")
    email = f"jean-{uuid.uuid4().hex[:6]}@example.fr"
    created = await post_signed_out(service.client, email)
    assert created.status_code == 201
    assert set(created.json()) == {"reference", "status", "detail"}, "no token in the response"
    [message] = await take(tap, 1)
    _, data = parse_event(message.body)
    assert isinstance(data, TicketSubmitted) and data.requester_email == email
    assert data.follow_url and data.follow_url.startswith("https://support.example/suivi/")
    token = data.follow_url.rsplit("/", 1)[1]

    async with service.app.state.runtime.engine.connect() as conn:
        row = (
            (await conn.execute(sa.select(tickets).where(tickets.c.reference == created.json()["reference"])))
            .mappings()
            .one()
        )
        stored = await conn.scalar(
            sa.select(outbox.c.body).where(outbox.c.event_id == json.loads(message.body)["id"])
        )
    assert token.split(".", 1)[1] not in json.dumps({k: str(v) for k, v in row.items()})
    assert row["follow_token_hash"] and len(row["follow_token_hash"]) == 64
    await asyncio.sleep(0.3)
    async with service.app.state.runtime.engine.connect() as conn:
        stored = await conn.scalar(
            sa.select(outbox.c.body).where(outbox.c.event_id == json.loads(message.body)["id"])
        )
    assert stored == "", "the follow link does not stay in the outbox once published"

    view = await service.client.get(f"/public/follow/{token}")
    assert view.status_code == 200 and view.json()["reference"] == created.json()["reference"]
    assert "requester_email" not in view.text and email not in view.text
    wrong = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    for bad in (wrong, str(uuid.uuid4()) + "." + token.split(".", 1)[1], "garbage", str(row["id"])):
        assert (await service.client.get(f"/public/follow/{bad}")).status_code == 404
        assert (
            await service.client.post(f"/public/follow/{bad}/messages", json={"message": "x"})
        ).status_code == 404

    early = await service.client.post(f"/public/follow/{token}/messages", json={"message": "Bonjour"})
    assert early.status_code == 409, "nothing is asked yet"
    ticket_id = str(row["id"])
    await service.act(SUPPORT_AGENT, ticket_id, "PRISE_EN_CHARGE")
    await service.act(SUPPORT_AGENT, ticket_id, "DEMANDE_COMPLEMENT", "Votre SIRET ?")
    answered = await service.client.post(
        f"/public/follow/{token}/messages", json={"message": "11000000000015"}
    )
    assert answered.json()["status"] == "COMPLEMENT_APPORTE"
    assert [m["author_role"] for m in answered.json()["messages"]] == ["DEMANDEUR", "AGENT", "DEMANDEUR"]
    await service.act(SUPPORT_AGENT, ticket_id, "PRISE_EN_CHARGE")
    await service.act(SUPPORT_AGENT, ticket_id, "CLOTURE")
    assert (await service.client.get(f"/public/follow/{token}")).status_code == 404, (
        "closing revokes the link"
    )


def client_at(service: RunningSupportPortal, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=service.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://support-portal")


async def test_signed_out_creation_is_rate_limited_per_email_and_per_client(service: RunningSupportPortal):
    email = f"flood-{uuid.uuid4().hex[:6]}@example.fr"
    async with client_at(service, "192.0.2.10") as first, client_at(service, "192.0.2.11") as second:
        for _ in range(3):
            assert (await post_signed_out(first, email)).status_code == 201
        limited = await post_signed_out(second, email)
        assert limited.status_code == 429, "the e-mail address reached its limit, whatever the client"
        assert limited.headers["retry-after"] == "3600"
        assert limited.json()["type"] == "urn:chorus:problem:too-many-requests"
        other_email = await post_signed_out(first, f"o-{uuid.uuid4().hex[:6]}@example.fr")
        assert other_email.status_code == 429, "the client address reached its limit, whatever the e-mail"
        fresh = await post_signed_out(second, f"n-{uuid.uuid4().hex[:6]}@example.fr")
        assert fresh.status_code == 201
        service.clock.advance(timedelta(hours=1, seconds=1))
        assert (await post_signed_out(first, email)).status_code == 201

        # Retention deletes the creations out of the hour, and only those: the limit still counts
        # this hour's.
        done = await service.app.state.runtime.apply_retention()
        assert done["signed-out creations (rate limit)"] >= 4
        for _ in range(2):
            assert (await post_signed_out(first, email)).status_code == 201
        assert (await post_signed_out(second, email)).status_code == 429


async def test_concurrent_creations_never_share_a_reference(service: RunningSupportPortal):
    structure = f"S-{uuid.uuid4().hex[:6]}"
    me = await service.user("busy-user", structure)
    responses = await asyncio.gather(
        *(
            service.client.post("/tickets", json={**ticket(), "structure_id": structure}, headers=me)
            for _ in range(30)
        )
    )
    references = [r.json()["reference"] for r in responses]
    assert len(set(references)) == 30
    numbers = sorted(int(r.rsplit("-", 1)[1]) for r in references)
    assert numbers == list(range(numbers[0], numbers[0] + 30))


async def test_bad_requests_get_problems(service: RunningSupportPortal):
    structure = f"S-{uuid.uuid4().hex[:6]}"
    me = await service.user("user", structure)
    other_structure = await service.client.post(
        "/tickets", json={**ticket(), "structure_id": "NOT-MINE"}, headers=me
    )
    assert other_structure.status_code == 403
    short = await service.client.post(
        "/tickets", json={**ticket(description="court"), "structure_id": structure}, headers=me
    )
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "description"
    assert (
        await service.client.post("/public/tickets", json={**ticket(), "email": "not-an-email", "name": "x"})
    ).status_code == 422
    assert (await service.client.get("/tickets", params={"list": "drafts"})).status_code == 401


async def test_a_ticket_about_an_invoice_goes_to_the_managers_of_the_structure_it_concerns(
    service: RunningSupportPortal, bus: BusProbe
):
    tap = await bus.tap("ticket-submitted")
    engine = service.app.state.runtime.engine
    supplier = await known_structure(engine)
    ministry = await known_structure(
        engine, kind="PUBLIQUE", name="Ministère de la Culture", services=["DAF"]
    )
    tag = uuid.uuid4().hex[:6]
    me = await service.user(f"fred-{tag}", supplier)
    chief = await service.user(f"marie-{tag}", ministry, role="GESTIONNAIRE_PRINCIPAL")
    daf_manager = await service.user(f"dana-{tag}", ministry, role="GESTIONNAIRE", service_code="DAF")
    plain_user = await service.user(f"jules-{tag}", ministry)  # not a manager
    about_daf = {"structure_id": ministry, "service_code": "DAF"}
    body = {
        **ticket("FACTURATION", "FACTURES_RECUES"),
        "structure_id": supplier,
        "concerned": about_daf,
        "submit": True,
    }
    created = await service.client.post("/tickets", json=body, headers=me)
    assert created.status_code == 201, created.text
    routed = created.json()
    assert routed["recipient"] == {
        "kind": "STRUCTURE",
        "name": "Ministère de la Culture",
        "structure_id": ministry,
        "service_code": "DAF",
    }
    for agent in (chief, daf_manager):
        todo = await service.client.get("/tickets", params={"list": "to-do"}, headers=agent)
        assert routed["id"] in [t["id"] for t in todo.json()["items"]]
    for outsider in (plain_user, SUPPORT_AGENT):
        todo = await service.client.get(
            "/tickets", params={"list": "to-do", "page_size": 200}, headers=outsider
        )
        assert routed["id"] not in [t["id"] for t in todo.json()["items"]]
        assert (await service.act(outsider, routed["id"], "PRISE_EN_CHARGE")).status_code == 404
    taken = await service.act(daf_manager, routed["id"], "PRISE_EN_CHARGE")
    assert taken.json()["assigned_to"] == f"dana-{tag}"
    [message] = await take(tap, 1)
    _, data = parse_event(message.body)
    assert isinstance(data, TicketSubmitted) and data.recipient.kind == "STRUCTURE"

    # Without a structure concerned, the same category goes to the support team; an unknown one is a 422.
    plain = {**ticket("FACTURATION", "FACTURES_RECUES"), "structure_id": supplier, "submit": True}
    assert (await service.client.post("/tickets", json=plain, headers=me)).json()["recipient"][
        "kind"
    ] == "SUPPORT"
    unknown = {**plain, "concerned": {"structure_id": "NOT-IN-DIRECTORY"}}
    refused = await service.client.post("/tickets", json=unknown, headers=me)
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, "concerned.structure_id")


async def test_categories_and_subcategories_come_from_the_referential_and_are_both_required(
    service: RunningSupportPortal,
):
    listed = (await service.client.get("/public/categories")).json()
    compte = next(c for c in listed if c["code"] == "COMPTE")
    assert compte["label"] == "Compte et habilitations"
    assert {s["code"] for s in compte["subcategories"]} == {"CREATION", "CONNEXION", "HABILITATIONS"}
    raccordement = next(c for c in listed if c["code"] == "RACCORDEMENT")
    assert "SERVICE_WEB_V1" not in {s["code"] for s in raccordement["subcategories"]}, "inactive"

    structure = f"S-{uuid.uuid4().hex[:6]}"
    me = await service.user(f"u-{uuid.uuid4().hex[:6]}", structure)
    for body, field, slug in [
        (ticket("INCONNUE", "AUTRE"), "category", "unknown-category"),
        (ticket("COMPTE", "EDI"), "subcategory", "unknown-subcategory"),  # another category's
        (ticket("RACCORDEMENT", "SERVICE_WEB_V1"), "subcategory", "unknown-subcategory"),  # inactive
    ]:
        refused = await service.client.post("/tickets", json={**body, "structure_id": structure}, headers=me)
        assert (refused.status_code, refused.json()["type"]) == (422, f"urn:chorus:problem:{slug}")
        assert refused.json()["errors"][0]["field"] == field
    without = {k: v for k, v in ticket().items() if k != "subcategory"}
    missing = await service.client.post("/tickets", json={**without, "structure_id": structure}, headers=me)
    assert (missing.status_code, missing.json()["errors"][0]["field"]) == (422, "subcategory")
    drafts = await service.client.get("/tickets", params={"list": "drafts"}, headers=me)
    assert drafts.json()["items"] == [], "nothing was created"


async def signed_out_ticket(service: RunningSupportPortal, bus: BusProbe) -> tuple[str, str]:
    """A signed-out ticket, taken by the support team: (its id, its follow token)."""
    tap = await bus.tap("ticket-submitted")
    email = f"jean-{uuid.uuid4().hex[:6]}@example.fr"
    # from an address of its own: signed-out creation is limited per client address
    async with client_at(service, f"198.51.100.{uuid.uuid4().int % 250}") as client:
        created = await post_signed_out(client, email)
    assert created.status_code == 201
    message = await take_where(tap, lambda data: data["requester_email"] == email)
    _, data = parse_event(message.body)
    assert isinstance(data, TicketSubmitted) and data.follow_url
    assert data.category_label == "Compte et habilitations", "the referential's label, for the mail"
    token = data.follow_url.rsplit("/", 1)[1]
    return token.split(".", 1)[0], token


async def test_a_signed_out_requester_resends_an_unsatisfactory_solution_then_closes(
    service: RunningSupportPortal, bus: BusProbe
):
    ticket_id, token = await signed_out_ticket(service, bus)
    await service.act(SUPPORT_AGENT, ticket_id, "PRISE_EN_CHARGE")
    await service.act(SUPPORT_AGENT, ticket_id, "PROPOSITION_SOLUTION", "Videz le cache du navigateur.")
    url = f"/public/follow/{token}/actions"
    without_why = await service.client.post(url, json={"action": "RENVOI"})
    assert without_why.status_code == 422
    resent = await service.client.post(url, json={"action": "RENVOI", "message": "Toujours bloqué."})
    assert resent.status_code == 200, resent.text
    assert resent.json()["status"] == "RENVOYE"
    assert resent.json()["messages"][-1] == {**resent.json()["messages"][-1], "body": "Toujours bloqué."}
    assert (await service.client.post(url, json={"action": "PRISE_EN_CHARGE"})).status_code == 422
    todo = await service.client.get(
        "/tickets", params={"list": "to-do", "page_size": 200}, headers=SUPPORT_AGENT
    )
    assert ticket_id in [t["id"] for t in todo.json()["items"]]

    closed = await service.client.post(url, json={"action": "CLOTURE"})
    assert closed.json()["status"] == "CLOTURE"
    assert (await service.client.get(f"/public/follow/{token}")).status_code == 404, "closing revokes it"
    assert (await service.client.post(url, json={"action": "CLOTURE"})).status_code == 404


PDF = b"%PDF-1.7\n% capture\n" + b"0" * 500
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 100


async def test_files_are_attached_to_tickets_and_downloaded_by_whoever_sees_them(
    service: RunningSupportPortal, bus: BusProbe
):
    structure = f"S-{uuid.uuid4().hex[:6]}"
    me = await service.user(f"u-{uuid.uuid4().hex[:6]}", structure)
    created = await service.client.post(
        "/tickets", json={**ticket(), "structure_id": structure, "submit": True}, headers=me
    )
    ticket_id = created.json()["id"]
    url = f"/tickets/{ticket_id}/attachments"
    attached = await service.client.post(
        url, files={"file": ("écran.png", PNG, "application/pdf")}, headers=me
    )
    assert attached.status_code == 201, attached.text
    assert (attached.json()["content_type"], attached.json()["filename"]) == ("image/png", "écran.png")
    refused = await service.client.post(url, files={"file": ("page.html", b"<html><script>")}, headers=me)
    assert refused.status_code == 415
    listed = await service.client.get(url, headers=SUPPORT_AGENT)
    assert [a["filename"] for a in listed.json()] == ["écran.png"]
    downloaded = await service.client.get(f"{url}/{attached.json()['id']}", headers=SUPPORT_AGENT)
    assert (downloaded.content, downloaded.headers["x-content-type-options"]) == (PNG, "nosniff")
    stranger = await service.user(f"s-{uuid.uuid4().hex[:6]}", f"S-{uuid.uuid4().hex[:6]}")
    assert (await service.client.get(f"{url}/{attached.json()['id']}", headers=stranger)).status_code == 404
    assert (
        await service.client.post(url, files={"file": ("x.pdf", PDF)}, headers=stranger)
    ).status_code == 404

    # signed out, through the follow link
    other_id, token = await signed_out_ticket(service, bus)
    public = await service.client.post(
        f"/public/follow/{token}/attachments", files={"file": ("facture.pdf", PDF)}
    )
    assert public.status_code == 201, public.text
    view = (await service.client.get(f"/public/follow/{token}")).json()
    assert [a["filename"] for a in view["attachments"]] == ["facture.pdf"]
    again = await service.client.get(f"/public/follow/{token}/attachments/{public.json()['id']}")
    assert again.content == PDF
    # a ticket's attachment is not reachable through another ticket
    assert (
        await service.client.get(f"/public/follow/{token}/attachments/{attached.json()['id']}")
    ).status_code == 404
    agent_view = await service.client.get(f"/tickets/{other_id}/attachments", headers=SUPPORT_AGENT)
    assert [a["uploaded_by"] for a in agent_view.json()] == [view["attachments"][0]["uploaded_by"]]


async def test_the_signed_out_limit_counts_one_mailbox_whatever_its_case_or_tag(
    service: RunningSupportPortal,
):
    local = f"victime-{uuid.uuid4().hex[:6]}"
    variants = [f"{local}@example.fr", f"{local.upper()}+1@Example.FR", f"{local}+suivi@example.fr"]
    for n, email in enumerate(variants):
        async with client_at(service, f"203.0.113.{n + 1}") as client:
            assert (await post_signed_out(client, email)).status_code == 201
    async with client_at(service, "203.0.113.99") as client:
        limited = await post_signed_out(client, f"{local}+4@example.fr")
    assert limited.status_code == 429, "the same mailbox, its limit reached"


async def test_a_burst_of_signed_out_creations_cannot_overrun_the_limit(service: RunningSupportPortal):
    email = f"burst-{uuid.uuid4().hex[:6]}@example.fr"

    async def one(n: int) -> int:
        async with client_at(service, f"198.18.{n}.{uuid.uuid4().int % 250}") as client:
            return (await post_signed_out(client, email)).status_code

    answers = await asyncio.gather(*(one(n) for n in range(10)))
    assert sorted(answers) == [201] * 3 + [429] * 7, "exactly the limit (3), however close together"
