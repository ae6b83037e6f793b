"""Delegations, routing and processing against the read model of the directory, with a real
PostgreSQL and RabbitMQ."""

import json
import uuid
from typing import Any

import httpx

from chorus_common.events import DelegationRouted, parse_event
from chorus_common.messaging.topology import DEAD_LETTER_REASON_HEADER
from chorus_testing.auth import bearer
from chorus_testing.fixtures import BusProbe, eventually, take

from .conftest import RunningReceivedInvoices
from .directory import Structure, deactivate, delegate, invoice_data, register, unknown


async def deposit(client: httpx.AsyncClient, supplier: Structure, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/invoices", json=body, headers=supplier.user)


async def listed(client: httpx.AsyncClient, who: Structure, name: str) -> list[str]:
    response = await client.get("/invoices", params={"list": name, "page_size": 200}, headers=who.user)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


# --- Delegations -----------------------------------------------------------------------------


async def test_delegation_rules(service: RunningReceivedInvoices):
    client = service.client
    ministry = await register(service, services=("S1", "S2", "S3"))
    company = await register(service, kind="PRIVATE")
    other = await register(service, services=("Z1",))
    created = await delegate(client, ministry, company, "VALIDATION", ["S1", "S2"])
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "ACTIVE"

    cases = [
        (await delegate(client, ministry, ministry, "VALIDATION"), 422, "self-delegation"),
        (await delegate(client, company, ministry, "VALIDATION"), 422, "private-delegator"),
        (await delegate(client, ministry, company, "TRAITEMENT", ["Z1"]), 422, "unknown-services"),
        (await delegate(client, ministry, company, "TRAITEMENT", ["S2", "S3"]), 409, "delegation-overlap"),
        (await delegate(client, ministry, other, "TRAITEMENT"), 409, "delegation-overlap"),
    ]
    for response, code, slug in cases:
        assert response.status_code == code, response.text
        assert response.json()["type"] == f"urn:chorus:problem:{slug}"
    by_stranger = await client.post(
        "/delegations",
        json={
            "delegator_structure_id": ministry.id,
            "delegate_structure_id": company.id,
            "right": "VALIDATION",
            "scope": "STRUCTURE",
            "start_date": "2027-01-01",
        },
        headers=other.user,
    )
    assert by_stranger.status_code == 403
    later = await delegate(
        client, ministry, other, "TRAITEMENT", ["S3"], start="2026-01-01", end="2026-12-31"
    )
    assert later.status_code == 201

    given = await client.get("/delegations", params={"direction": "given"}, headers=ministry.user)
    assert given.json()["total"] == 2
    received = await client.get("/delegations", params={"direction": "received"}, headers=company.user)
    assert [d["id"] for d in received.json()["items"]] == [created.json()["id"]]

    delegation_id = created.json()["id"]
    assert (await client.get(f"/delegations/{delegation_id}", headers=other.user)).status_code == 404
    assert (
        await client.post(
            f"/delegations/{delegation_id}/actions", json={"action": "REVOCATION"}, headers=other.user
        )
    ).status_code == 404
    assert (
        await client.post(
            f"/delegations/{delegation_id}/actions", json={"action": "REVOCATION"}, headers=company.user
        )
    ).status_code == 403
    revoked = await client.post(
        f"/delegations/{delegation_id}/actions", json={"action": "REVOCATION"}, headers=ministry.user
    )
    assert revoked.json()["status"] == "REVOKED"
    again = await client.post(
        f"/delegations/{delegation_id}/actions", json={"action": "REVOCATION"}, headers=ministry.user
    )
    assert again.status_code == 409
    assert (await delegate(client, ministry, company, "TRAITEMENT", ["S2"])).status_code == 201


# --- Routing ---------------------------------------------------------------------------------


async def test_an_a1_invoice_for_a_delegated_service_goes_to_the_delegate(
    service: RunningReceivedInvoices, bus: BusProbe
):
    tap = await bus.tap("delegation-routed")
    client = service.client
    ministry = await register(service, services=("S1", "S2"))
    company = await register(service, kind="PRIVATE")
    supplier = await register(service, kind="PRIVATE")
    delegation = (await delegate(client, ministry, company, "VALIDATION", ["S1"])).json()

    routed = await deposit(client, supplier, invoice_data(supplier, ministry, "S1"))
    assert routed.status_code == 201, routed.text
    invoice = routed.json()
    assert (invoice["status"], invoice["delegate_structure_id"], invoice["delegation_right"]) == (
        "A_VALIDER_1",
        company.id,
        "VALIDATION",
    )
    direct = (await deposit(client, supplier, invoice_data(supplier, ministry, "S2"))).json()
    assert direct["status"] == "MISE_A_DISPOSITION" and direct["delegate_structure_id"] is None
    other_frame = (await deposit(client, supplier, invoice_data(supplier, ministry, "S1", frame="A2"))).json()
    assert other_frame["status"] == "MISE_A_DISPOSITION"

    [message] = await take(tap, 1)
    envelope, data = parse_event(message.body)
    assert isinstance(data, DelegationRouted)
    assert (data.invoice_id, data.delegation_id, data.right) == (
        invoice["id"],
        delegation["id"],
        "VALIDATION",
    )
    assert (data.delegate.structure_id, data.delegate.email) == (company.id, company.email)
    assert (data.recipient.structure_id, data.recipient.service_code) == (ministry.id, "S1")
    assert str(data.amount_ttc) == "1200.00" and envelope.source == "/services/received-invoices"

    assert await listed(client, company, "to-validate") == [invoice["id"]]
    assert invoice["id"] not in await listed(client, ministry, "received")
    assert sorted(await listed(client, supplier, "deposited")) == sorted(
        [invoice["id"], direct["id"], other_frame["id"]]
    )


async def test_a_deposit_with_the_same_external_id_creates_nothing_new(service: RunningReceivedInvoices):
    client = service.client
    ministry = await register(service)
    supplier = await register(service, kind="PRIVATE")
    body = invoice_data(supplier, ministry, None)
    first = await deposit(client, supplier, body)
    second = await deposit(client, supplier, body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert len(await listed(client, supplier, "deposited")) == 1


async def test_bad_deposits_are_refused(service: RunningReceivedInvoices):
    client = service.client
    ministry = await register(service, services=("S1",))
    supplier = await register(service, kind="PRIVATE")
    await deactivate(service, ministry, "S1")
    for body, code in [
        (invoice_data(supplier, ministry, "S1"), 422),
        (invoice_data(supplier, ministry, "NOPE"), 422),
        (invoice_data(supplier, unknown("UNKNOWN"), None), 422),
        ({**invoice_data(supplier, ministry, None), "amount_ttc": "1200.01"}, 422),
        ({**invoice_data(supplier, ministry, None), "amount_ht": "1e400"}, 422),
    ]:
        response = await deposit(client, supplier, body)
        assert response.status_code == code, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert (
        await client.post("/invoices", json=invoice_data(supplier, ministry, None), headers=ministry.user)
    ).status_code == 403


async def test_invoice_submitted_events_are_routed_once_and_bad_ones_dead_lettered(
    service: RunningReceivedInvoices, bus: BusProbe
):
    client = service.client
    ministry = await register(service, services=("S1",))
    company = await register(service, kind="PRIVATE")
    supplier = await register(service, kind="PRIVATE")
    await delegate(client, ministry, company, "TRAITEMENT")

    def event(data: dict[str, Any]) -> dict[str, Any]:
        return {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/edi/portail-depot",
            "type": "invoice-submitted",
            "time": "2026-11-02T09:00:00Z",
            "data": data,
        }

    good = event(invoice_data(supplier, ministry, "S1"))
    await bus.publish("invoice-submitted", good)
    await bus.publish("invoice-submitted", good)
    replayed = event(good["data"])  # another event id, same external id
    await bus.publish("invoice-submitted", replayed)
    to_validate = await eventually(lambda: listed(client, company, "to-validate"))
    unknown_recipient = event(invoice_data(supplier, unknown("NOT-IN-DIRECTORY"), None))
    unknown_supplier = event(invoice_data(unknown("NOWHERE"), ministry, None))
    malformed = event({**invoice_data(supplier, ministry, None), "amount_ttc": "douze"})
    for bad in (unknown_recipient, unknown_supplier, malformed):
        await bus.publish("invoice-submitted", bad)
    dead = await bus.drain("received-invoices.dead-letter", 3)
    reasons = sorted(str(m.headers[DEAD_LETTER_REASON_HEADER]) for m in dead)
    assert reasons[0].startswith("invalid data: data.amount_ttc")
    assert reasons[1].startswith("invoice refused: recipient 'NOT-IN-DIRECTORY'")
    assert reasons[2].startswith("invoice refused: supplier 'NOWHERE' is not a structure of the directory")
    assert len(await listed(client, company, "to-validate")) == len(to_validate) == 1
    detail = (await client.get(f"/invoices/{to_validate[0]}", headers=company.user)).json()
    assert (detail["source"], detail["external_id"]) == ("/edi/portail-depot", good["data"]["external_id"])
    assert json.loads(json.dumps(detail["history"][0]))["capacity"] == "FOURNISSEUR"


# --- Actions ---------------------------------------------------------------------------------


async def setup_delegation(
    service: RunningReceivedInvoices, right: str
) -> tuple[Structure, Structure, Structure]:
    client = service.client
    ministry = await register(service, services=("S1",))
    company = await register(service, kind="PRIVATE")
    supplier = await register(service, kind="PRIVATE")
    assert (await delegate(client, ministry, company, right, ["S1"])).status_code == 201
    return ministry, company, supplier


async def test_with_validation_right_the_delegate_validates_and_the_invoice_reaches_the_recipient(
    service: RunningReceivedInvoices,
):
    client = service.client
    ministry, company, supplier = await setup_delegation(service, "VALIDATION")
    invoice = (await deposit(client, supplier, invoice_data(supplier, ministry, "S1"))).json()
    forbidden = await service.act(company.user, invoice["id"], "MISE_EN_PAIEMENT")
    assert forbidden.status_code == 403
    refused_without_reason = await service.act(company.user, invoice["id"], "REFUS")
    assert refused_without_reason.status_code == 422
    validated = await service.act(company.user, invoice["id"], "VALIDATION")
    assert validated.status_code == 200
    body = validated.json()
    assert (body["status"], body["validation_decision"], body["with_recipient"]) == (
        "MISE_A_DISPOSITION",
        "VALIDEE",
        True,
    )
    assert body["history"][-1]["capacity"] == "VALIDEUR_DELEGUE"
    assert invoice["id"] in await listed(client, ministry, "received")
    assert await listed(client, company, "to-validate") == []
    paid_by_delegate = await service.act(company.user, invoice["id"], "VALIDATION")
    assert paid_by_delegate.status_code == 403
    mandated = await service.act(ministry.user, invoice["id"], "MANDATEMENT")
    assert mandated.json()["status"] == "MANDATEE"
    assert (await service.act(ministry.user, invoice["id"], "MISE_EN_PAIEMENT")).status_code == 409


async def test_with_processing_right_the_delegate_pays_and_the_recipient_never_receives_it(
    service: RunningReceivedInvoices,
):
    client = service.client
    ministry, company, supplier = await setup_delegation(service, "TRAITEMENT")
    invoice = (await deposit(client, supplier, invoice_data(supplier, ministry, "S1"))).json()
    paid = await service.act(company.user, invoice["id"], "MISE_EN_PAIEMENT")
    assert (paid.json()["status"], paid.json()["with_recipient"]) == ("MISE_EN_PAIEMENT", False)
    assert invoice["id"] not in await listed(client, ministry, "received")
    suspended = (await deposit(client, supplier, invoice_data(supplier, ministry, "S1"))).json()
    assert (await service.act(company.user, suspended["id"], "SUSPENSION")).status_code == 422
    done = await service.act(company.user, suspended["id"], "SUSPENSION", reason="pièce manquante")
    assert done.json()["status"] == "SUSPENDUE"


async def test_the_recipient_substitutes_for_the_delegate(service: RunningReceivedInvoices):
    client = service.client
    ministry, company, supplier = await setup_delegation(service, "TRAITEMENT")
    invoice = (await deposit(client, supplier, invoice_data(supplier, ministry, "S1"))).json()
    assert (await service.act(ministry.user, invoice["id"], "MISE_EN_PAIEMENT")).status_code == 403
    substituted = await service.act(ministry.user, invoice["id"], "REFUS", reason="non conforme")
    body = substituted.json()
    assert (body["status"], body["validation_decision"]) == ("MISE_A_DISPOSITION", "REFUSEE")
    assert body["history"][-1]["capacity"] == "DESTINATAIRE_SUBSTITUT"
    assert await listed(client, company, "to-validate") == []
    assert (await service.act(company.user, invoice["id"], "VALIDATION")).status_code == 403


async def test_an_unrelated_structure_sees_and_changes_nothing(service: RunningReceivedInvoices):
    client = service.client
    ministry, company, supplier = await setup_delegation(service, "TRAITEMENT")
    stranger = await register(service)
    invoice = (await deposit(client, supplier, invoice_data(supplier, ministry, "S1"))).json()
    assert (await client.get(f"/invoices/{invoice['id']}", headers=stranger.user)).status_code == 404
    for action in ("VALIDATION", "MISE_EN_PAIEMENT"):
        assert (await service.act(stranger.user, invoice["id"], action, reason="x")).status_code == 404
    for name in ("to-validate", "received", "deposited"):
        assert await listed(client, stranger, name) == []
    assert (await client.get("/delegations", headers=stranger.user)).json()["total"] == 0
    unchanged = await client.get(f"/invoices/{invoice['id']}", headers=supplier.user)
    assert unchanged.json()["status"] == "A_VALIDER_1"
    assert await listed(client, company, "to-validate") == [invoice["id"]]
    assert (await client.get("/invoices", params={"list": "received"})).status_code == 401


async def test_a_nul_character_is_a_clear_422_and_stores_nothing(service: RunningReceivedInvoices):
    ministry = await register(service)
    supplier = await register(service, kind="PRIVATE")
    body = {**invoice_data(supplier, ministry, None), "number": "F\u00001"}
    refused = await deposit(service.client, supplier, body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == "urn:chorus:problem:invalid-text"
    assert await listed(service.client, supplier, "deposited") == []


async def test_the_parties_stored_are_the_directorys_whatever_the_invoice_says(
    service: RunningReceivedInvoices,
):
    ministry = await register(service)
    supplier = await register(service, kind="PRIVATE")
    body = invoice_data(supplier, ministry, None)
    body["supplier"] = {**body["supplier"], "name": "Quelqu'un d'autre", "email": "me@evil.example"}
    created = (await deposit(service.client, supplier, body)).json()
    assert (created["supplier"]["name"], created["supplier"]["email"]) == (supplier.name, supplier.email)
    # nobody acts for a structure the directory does not know, whatever the token claims
    not_in_directory = {**invoice_data(supplier, ministry, None), "supplier": unknown("NOWHERE").party()}
    refused = await deposit(service.client, unknown("NOWHERE"), not_in_directory)
    assert refused.status_code == 401
    claimed = await service.client.post("/invoices", json=not_in_directory, headers=bearer("x", "NOWHERE"))
    assert claimed.status_code == 403
