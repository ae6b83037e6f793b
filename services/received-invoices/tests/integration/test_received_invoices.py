"""Delegations, routing and processing against the read model of the directory, with a real
PostgreSQL and RabbitMQ."""

import base64
import json
import uuid
from datetime import date
from typing import Any

import httpx

from chorus_common.events import DelegationRouted, parse_event
from chorus_common.messaging.topology import DEAD_LETTER_REASON_HEADER
from chorus_testing.auth import bearer
from chorus_testing.directory import into_replica, service_snapshot
from chorus_testing.fixtures import BusProbe, eventually, take, take_where
from received_invoices import use_cases

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

    message = await take_where(tap, lambda data: data["invoice_id"] == invoice["id"])
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
        (invoice_data(supplier, ministry, None, frame="A99"), 422),
        (invoice_data(supplier, ministry, None, frame="A4"), 422),  # a works frame
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


async def test_invoice_submitted_events_are_routed_once_bad_ones_dead_lettered_refused_ones_answered(
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

    # Chorus Pro's EDI channels name the frame in its long form.
    good = event(invoice_data(supplier, ministry, "S1", frame="A1_FACTURE_FOURNISSEUR"))
    await bus.publish("invoice-submitted", good)
    await bus.publish("invoice-submitted", good)
    replayed = event(good["data"])  # another event id, same external id
    await bus.publish("invoice-submitted", replayed)
    to_validate = await eventually(lambda: listed(client, company, "to-validate"))
    unknown_recipient = event(invoice_data(supplier, unknown("NOT-IN-DIRECTORY"), None))
    unknown_supplier = event(invoice_data(unknown("NOWHERE"), ministry, None))
    malformed = event({**invoice_data(supplier, ministry, None), "amount_ttc": "douze"})
    no_such_frame = event(invoice_data(supplier, ministry, None, frame="A0"))
    refusals = await bus.tap("invoice-refused")
    for bad in (unknown_recipient, unknown_supplier, malformed, no_such_frame):
        await bus.publish("invoice-submitted", bad)
    # Malformed events are dead-lettered with their reasons...
    dead = await bus.drain("received-invoices.dead-letter", 2)
    reasons = sorted(str(m.headers[DEAD_LETTER_REASON_HEADER]) for m in dead)
    assert reasons[0].startswith("invalid data: data.amount_ttc")
    assert reasons[1].startswith("invalid data: data.billing_frame: Value error, unknown billing frame 'A0'")
    # ...well-formed ones whose invoice is refused are answered, for the channel that submitted them.
    answered = {}
    for _ in range(2):
        message = await take_where(
            refusals,
            lambda data: (
                data["external_id"]
                in (unknown_recipient["data"]["external_id"], unknown_supplier["data"]["external_id"])
            ),
        )
        data = json.loads(message.body)["data"]
        answered[data["external_id"]] = data
    recipient_refused = answered[unknown_recipient["data"]["external_id"]]
    assert recipient_refused["reason"].startswith("recipient 'NOT-IN-DIRECTORY'")
    assert recipient_refused["submitted_by"] == "/edi/portail-depot"
    assert recipient_refused["supplier_structure_id"] == supplier.id
    supplier_refused = answered[unknown_supplier["data"]["external_id"]]
    assert supplier_refused["reason"].startswith("supplier 'NOWHERE' is not a structure of the directory")
    assert len(await listed(client, company, "to-validate")) == len(to_validate) == 1
    detail = (await client.get(f"/invoices/{to_validate[0]}", headers=company.user)).json()
    assert (detail["source"], detail["external_id"]) == ("/edi/portail-depot", good["data"]["external_id"])
    assert (detail["billing_frame"], detail["billing_frame_code"]) == ("A1", "A1_FACTURE_FOURNISSEUR")
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


def steps(invoice: dict[str, Any]) -> list[tuple[str, str | None, str, str]]:
    return [(h["action"], h["from_status"], h["to_status"], h["capacity"]) for h in invoice["history"]]


async def test_with_validation_right_the_delegate_validates_and_the_recipient_takes_it_to_payment(
    service: RunningReceivedInvoices,
):
    client = service.client
    ministry, company, supplier = await setup_delegation(service, "VALIDATION")
    invoice = (await deposit(client, supplier, invoice_data(supplier, ministry, "S1"))).json()
    assert steps(invoice) == [
        ("DEPOT", None, "DEPOSEE", "FOURNISSEUR"),
        ("ACHEMINEMENT", "DEPOSEE", "A_VALIDER_1", "PLATEFORME"),
    ]
    forbidden = await service.process(company.user, invoice["id"], "MISE_EN_PAIEMENT")
    assert forbidden.status_code == 403
    refused_without_motif = await service.process(company.user, invoice["id"], "REFUSEE_1")
    assert refused_without_motif.status_code == 422
    assert refused_without_motif.json()["field"] == "motif"
    validated = await service.process(company.user, invoice["id"], "VALIDEE_1")
    assert validated.status_code == 200
    body = validated.json()
    assert (body["status"], body["validation_decision"], body["with_recipient"]) == (
        "MISE_A_DISPOSITION",
        "VALIDEE",
        True,
    )
    assert steps(body)[-2:] == [
        ("TRAITEMENT", "A_VALIDER_1", "VALIDEE_1", "VALIDEUR_DELEGUE"),
        ("TRANSMISSION", "VALIDEE_1", "MISE_A_DISPOSITION", "VALIDEUR_DELEGUE"),
    ]
    assert invoice["id"] in await listed(client, ministry, "received")
    assert await listed(client, company, "to-validate") == []
    assert (await service.process(company.user, invoice["id"], "VALIDEE_1")).status_code == 403

    # The État's chain, as Pastell drives it: service fait, mandat (with its number), mise en paiement.
    assert (await service.process(ministry.user, invoice["id"], "SERVICE_FAIT")).status_code == 200
    without_number = await service.process(ministry.user, invoice["id"], "MANDATEE")
    assert (without_number.status_code, without_number.json()["field"]) == (422, "numero_dp_mandat")
    mandated = await service.process(ministry.user, invoice["id"], "MANDATEE", numero_dp_mandat="DP-1")
    assert mandated.json()["history"][-1]["dp_mandate_number"] == "DP-1"
    paid = await service.process(ministry.user, invoice["id"], "MISE_EN_PAIEMENT")
    assert paid.json()["status"] == "MISE_EN_PAIEMENT"
    again = await service.process(ministry.user, invoice["id"], "MISE_EN_PAIEMENT")
    assert again.status_code == 409 and again.json()["allowed"] == []


async def test_a_transition_not_allowed_is_a_409_listing_the_allowed_ones(service: RunningReceivedInvoices):
    client = service.client
    ministry = await register(service)
    supplier = await register(service, kind="PRIVATE")
    invoice = (await deposit(client, supplier, invoice_data(supplier, ministry, None))).json()
    refused = await service.process(ministry.user, invoice["id"], "COMPTABILISEE")
    assert refused.status_code == 409
    assert refused.json()["allowed"] == [
        "SERVICE_FAIT",
        "MANDATEE",
        "MISE_EN_PAIEMENT",
        "SUSPENDUE",
        "REJETEE",
        "A_RECYCLER",
    ]
    possible = (await client.get(f"/invoices/{invoice['id']}/next-statuses", headers=ministry.user)).json()
    assert [n["status"] for n in possible["next"]] == refused.json()["allowed"]
    assert {n["status"]: n["requires"] for n in possible["next"]}["MANDATEE"] == ["numero_dp_mandat"]
    supplier_view = await client.get(f"/invoices/{invoice['id']}/next-statuses", headers=supplier.user)
    assert supplier_view.json()["next"] == []
    unchanged = await client.get(f"/invoices/{invoice['id']}", headers=supplier.user)
    assert unchanged.json()["status"] == "MISE_A_DISPOSITION"


async def test_suspended_by_a_traitement_delegate_completed_by_the_supplier_then_paid_by_the_delegate(
    service: RunningReceivedInvoices,
):
    client = service.client
    ministry, company, supplier = await setup_delegation(service, "TRAITEMENT")
    invoice = (await deposit(client, supplier, invoice_data(supplier, ministry, "S1"))).json()
    assert (await service.process(company.user, invoice["id"], "SUSPENDUE")).status_code == 422
    suspended = await service.process(company.user, invoice["id"], "SUSPENDUE", motif="pièce manquante")
    assert (suspended.json()["status"], suspended.json()["with_recipient"]) == ("SUSPENDUE", False)
    assert await listed(client, supplier, "to-process") == [invoice["id"]]
    # the recipient neither completes it nor takes it from its delegate
    assert (await service.process(ministry.user, invoice["id"], "REJETEE", motif="x")).status_code == 403
    # the supplier attaches the missing piece; a file too large or of another kind is refused
    url = f"/invoices/{invoice['id']}/attachments"
    pdf = b"%PDF-1.7\n% bon de livraison\n" + b"0" * 1000
    too_large = await client.post(
        url, files={"file": ("bl.pdf", b"%PDF-1.7\n" + b"0" * 70_000)}, headers=supplier.user
    )
    assert (too_large.status_code, too_large.json()["type"]) == (
        413,
        "urn:chorus:problem:attachment-too-large",
    )
    wrong_type = await client.post(
        url, files={"file": ("bl.pdf", b"MZ\x90\x00 not a pdf")}, headers=supplier.user
    )
    assert (wrong_type.status_code, wrong_type.json()["type"]) == (
        415,
        "urn:chorus:problem:attachment-type-refused",
    )
    assert (await client.get(url, headers=supplier.user)).json() == []
    attached = await client.post(
        url, files={"file": ("BL 118.pdf", pdf, "text/plain")}, headers=supplier.user
    )
    assert attached.status_code == 201, attached.text
    piece = attached.json()
    assert (piece["content_type"], piece["size"], piece["filename"]) == (
        "application/pdf",
        len(pdf),
        "BL 118.pdf",
    )

    completion = {"comment": "Bon de livraison joint", "attachment_ids": [piece["id"]]}
    by_recipient = await client.post(
        f"/invoices/{invoice['id']}/completion", json=completion, headers=ministry.user
    )
    assert by_recipient.status_code == 403
    completed = await client.post(
        f"/invoices/{invoice['id']}/completion", json=completion, headers=supplier.user
    )
    assert completed.status_code == 200, completed.text
    assert steps(completed.json())[-1] == ("COMPLETION", "SUSPENDUE", "COMPLETEE", "FOURNISSEUR")
    assert completed.json()["history"][-1]["reason"] == "Bon de livraison joint (pièces jointes : BL 118.pdf)"
    # whoever may see the invoice downloads the piece; anyone else gets a 404
    downloaded = await client.get(f"{url}/{piece['id']}", headers=company.user)
    assert (downloaded.status_code, downloaded.content) == (200, pdf)
    assert downloaded.headers["content-type"] == "application/pdf"
    assert downloaded.headers["content-disposition"] == "attachment; filename*=UTF-8''BL%20118.pdf"
    stranger = await register(service)
    assert (await client.get(f"{url}/{piece['id']}", headers=stranger.user)).status_code == 404
    assert (await client.post(url, files={"file": ("x.pdf", pdf)}, headers=stranger.user)).status_code == 404
    # back to whoever suspended it: the delegate
    assert await listed(client, company, "to-validate") == [invoice["id"]]
    assert await listed(client, ministry, "awaiting-delegate") == [invoice["id"]]
    assert await listed(client, supplier, "to-process") == []
    paid = await service.process(company.user, invoice["id"], "MISE_EN_PAIEMENT")
    assert (paid.json()["status"], paid.json()["with_recipient"]) == ("MISE_EN_PAIEMENT", False)
    assert invoice["id"] not in await listed(client, ministry, "received")


async def test_the_recipient_substitutes_for_the_delegate_from_its_awaiting_delegate_list(
    service: RunningReceivedInvoices,
):
    client = service.client
    ministry, company, supplier = await setup_delegation(service, "TRAITEMENT")
    invoice = (await deposit(client, supplier, invoice_data(supplier, ministry, "S1"))).json()
    waiting = (
        await client.get("/invoices", params={"list": "awaiting-delegate"}, headers=ministry.user)
    ).json()
    [item] = waiting["items"]
    assert item["id"] == invoice["id"]
    assert (item["delegate"]["name"], item["delegation_id"]) == (company.name, invoice["delegation_id"])
    assert (await service.process(ministry.user, invoice["id"], "MISE_EN_PAIEMENT")).status_code == 403
    substituted = await service.process(ministry.user, invoice["id"], "REFUSEE_1", motif="non conforme")
    body = substituted.json()
    assert (body["status"], body["validation_decision"]) == ("MISE_A_DISPOSITION", "REFUSEE")
    assert body["history"][-2]["capacity"] == "DESTINATAIRE_SUBSTITUT"
    assert await listed(client, company, "to-validate") == []
    assert await listed(client, ministry, "awaiting-delegate") == []
    assert (await service.process(company.user, invoice["id"], "VALIDEE_1")).status_code == 403


async def test_rejected_then_processed_by_the_supplier_and_recycled_to_a_delegated_recipient(
    service: RunningReceivedInvoices,
):
    client = service.client
    ministry = await register(service)
    supplier = await register(service, kind="PRIVATE")
    other_ministry, delegate_of_other, _ = await setup_delegation(service, "VALIDATION")
    rejected = (await deposit(client, supplier, invoice_data(supplier, ministry, None))).json()
    to_recycle = (await deposit(client, supplier, invoice_data(supplier, ministry, None))).json()
    assert (
        await service.process(ministry.user, rejected["id"], "REJETEE", motif="doublon")
    ).status_code == 200
    assert (await service.process(ministry.user, to_recycle["id"], "A_RECYCLER")).status_code == 200
    assert sorted(await listed(client, supplier, "to-process")) == sorted([rejected["id"], to_recycle["id"]])

    report = await client.post(
        "/invoices/rejections/process",
        json={"ids": [rejected["id"], to_recycle["id"]]},
        headers=supplier.user,
    )
    assert [r["outcome"] for r in report.json()["results"]] == ["PROCESSED", "NOT_REJECTED"]
    assert await listed(client, supplier, "to-process") == [to_recycle["id"]]

    elsewhere = {"recipient": {"structure_id": other_ministry.id, "service_code": "S1"}}
    by_recipient = await client.post(
        f"/invoices/{to_recycle['id']}/recycling", json=elsewhere, headers=ministry.user
    )
    assert by_recipient.status_code == 403
    unknown_recipient = {"recipient": {"structure_id": "NOT-IN-DIRECTORY"}}
    refused = await client.post(
        f"/invoices/{to_recycle['id']}/recycling", json=unknown_recipient, headers=supplier.user
    )
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, "recipient")
    recycled = await client.post(
        f"/invoices/{to_recycle['id']}/recycling", json=elsewhere, headers=supplier.user
    )
    body = recycled.json()
    assert (body["status"], body["recipient_structure_id"], body["delegate_structure_id"]) == (
        "A_VALIDER_1",
        other_ministry.id,
        delegate_of_other.id,
    )
    assert steps(body)[-2:] == [
        ("RECYCLAGE", "A_RECYCLER", "DEPOSEE", "FOURNISSEUR"),
        ("ACHEMINEMENT", "DEPOSEE", "A_VALIDER_1", "PLATEFORME"),
    ]
    assert await listed(client, delegate_of_other, "to-validate") == [to_recycle["id"]]
    # the former recipient still sees the invoice's history, but it is no longer in its lists
    assert to_recycle["id"] not in await listed(client, ministry, "received")


async def test_an_unrelated_structure_sees_and_changes_nothing(service: RunningReceivedInvoices):
    client = service.client
    ministry, company, supplier = await setup_delegation(service, "TRAITEMENT")
    stranger = await register(service)
    invoice = (await deposit(client, supplier, invoice_data(supplier, ministry, "S1"))).json()
    assert (await client.get(f"/invoices/{invoice['id']}", headers=stranger.user)).status_code == 404
    for status in ("VALIDEE_1", "MISE_EN_PAIEMENT"):
        assert (await service.process(stranger.user, invoice["id"], status, motif="x")).status_code == 404
    for name in ("to-validate", "awaiting-delegate", "received", "deposited", "to-process"):
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
    assert refused.json()["errors"][0] == {
        "source": "body",
        "field": "number",
        "message": "control character U+0000 not allowed",
    }
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


# --- The end of a delegation -----------------------------------------------------------------


async def test_a_revoked_delegation_hands_its_waiting_invoices_to_the_recipient(
    service: RunningReceivedInvoices, bus: BusProbe
):
    tap = await bus.tap("delegation-ended")
    client = service.client
    ministry, company, supplier = await setup_delegation(service, "TRAITEMENT")
    first = (await deposit(client, supplier, invoice_data(supplier, ministry, "S1"))).json()
    second = (await deposit(client, supplier, invoice_data(supplier, ministry, "S1"))).json()
    third = (await deposit(client, supplier, invoice_data(supplier, ministry, "S1"))).json()
    await service.process(company.user, third["id"], "SUSPENDUE", motif="attestation manquante")
    delegation_id = first["delegation_id"]

    revoked = await client.post(
        f"/delegations/{delegation_id}/actions", json={"action": "REVOCATION"}, headers=ministry.user
    )
    assert revoked.json()["ended_at"] is not None and revoked.json()["version"] == 2
    for invoice in (first, second):
        now = (await client.get(f"/invoices/{invoice['id']}", headers=ministry.user)).json()
        assert (now["status"], now["with_recipient"]) == ("MISE_A_DISPOSITION", True)
        entry = now["history"][-1]
        assert (entry["action"], entry["capacity"], entry["reason"]) == (
            "FIN_DELEGATION",
            "PLATEFORME",
            "délégation terminée (révoquée)",
        )
    # the suspended one comes back to the recipient too: its completion is the recipient's to process
    suspended = (await client.get(f"/invoices/{third['id']}", headers=ministry.user)).json()
    assert (suspended["status"], suspended["with_recipient"]) == ("SUSPENDUE", True)
    assert sorted(await listed(client, ministry, "received")) == sorted(
        [first["id"], second["id"], third["id"]]
    )
    assert await listed(client, ministry, "awaiting-delegate") == []
    assert await listed(client, company, "to-validate") == []
    # the former delegate may act on none of them: 403, nothing changed
    for invoice in (first, third):
        refused = await service.process(company.user, invoice["id"], "MISE_EN_PAIEMENT")
        assert refused.status_code == 403
    assert (await client.get(f"/invoices/{first['id']}", headers=ministry.user)).json()["status"] == (
        "MISE_A_DISPOSITION"
    )

    message = await take_where(tap, lambda data: data["delegation_id"] == delegation_id)
    data = json.loads(message.body)["data"]
    assert (data["delegation_id"], data["reason"], data["invoices_returned"]) == (
        delegation_id,
        "REVOCATION",
        3,
    )
    assert (data["delegate"]["structure_id"], data["delegate"]["email"]) == (company.id, company.email)


async def test_a_delegation_past_its_end_date_ends_in_the_daily_job_once(service: RunningReceivedInvoices):
    client = service.client
    ministry = await register(service, services=("S1",))
    company = await register(service, kind="PRIVATE")
    supplier = await register(service, kind="PRIVATE")
    created = await delegate(client, ministry, company, "VALIDATION", ["S1"], end="2026-11-30")
    assert created.status_code == 201
    invoice = (await deposit(client, supplier, invoice_data(supplier, ministry, "S1"))).json()
    assert invoice["status"] == "A_VALIDER_1"

    uow = service.runtime.unit_of_work
    assert await use_cases.end_past_delegations(uow(), date(2026, 11, 30)) == 0, (
        "its end date is its last day"
    )
    assert await use_cases.end_past_delegations(uow(), date(2026, 12, 1)) >= 1
    assert await use_cases.end_past_delegations(uow(), date(2026, 12, 1)) == 0
    now = (await client.get(f"/invoices/{invoice['id']}", headers=ministry.user)).json()
    assert (now["status"], now["history"][-1]["reason"]) == (
        "MISE_A_DISPOSITION",
        "délégation terminée (échéance atteinte)",
    )
    ended = (await client.get(f"/delegations/{created.json()['id']}", headers=ministry.user)).json()
    assert ended["ended_at"] is not None and ended["status"] == "ACTIVE"


async def test_a_delegation_modified_keeps_the_overlap_rules_and_hands_back_what_it_no_longer_covers(
    service: RunningReceivedInvoices,
):
    client = service.client
    ministry = await register(service, services=("S1", "S2", "S3"))
    company = await register(service, kind="PRIVATE")
    other = await register(service, kind="PRIVATE")
    supplier = await register(service, kind="PRIVATE")
    delegation = (await delegate(client, ministry, company, "VALIDATION", ["S1", "S2"])).json()
    assert (await delegate(client, ministry, other, "VALIDATION", ["S3"])).status_code == 201
    on_s1 = (await deposit(client, supplier, invoice_data(supplier, ministry, "S1"))).json()
    on_s2 = (await deposit(client, supplier, invoice_data(supplier, ministry, "S2"))).json()
    url = f"/delegations/{delegation['id']}"

    overlap = await client.patch(url, json={"service_codes": ["S1", "S3"]}, headers=ministry.user)
    assert (overlap.status_code, overlap.json()["type"]) == (409, "urn:chorus:problem:delegation-overlap")
    assert (await client.patch(url, json={"service_codes": ["S1"]}, headers=company.user)).status_code == 403
    unknown_service = await client.patch(url, json={"service_codes": ["S1", "S9"]}, headers=ministry.user)
    assert unknown_service.status_code == 422

    narrowed = await client.patch(
        url, json={"service_codes": ["S1"], "end_date": "2027-06-30"}, headers=ministry.user
    )
    assert narrowed.status_code == 200, narrowed.text
    assert (narrowed.json()["service_codes"], narrowed.json()["end_date"], narrowed.json()["version"]) == (
        ["S1"],
        "2027-06-30",
        2,
    )
    assert await listed(client, company, "to-validate") == [on_s1["id"]]
    handed_back = (await client.get(f"/invoices/{on_s2['id']}", headers=ministry.user)).json()
    assert (handed_back["status"], handed_back["history"][-1]["action"]) == (
        "MISE_A_DISPOSITION",
        "FIN_DELEGATION",
    )


# --- Status events ---------------------------------------------------------------------------


async def test_every_transition_is_an_invoice_status_changed_event_in_order(
    service: RunningReceivedInvoices, bus: BusProbe
):
    tap = await bus.tap("invoice-status-changed")
    client = service.client
    ministry, company, supplier = await setup_delegation(service, "VALIDATION")
    invoice = (await deposit(client, supplier, invoice_data(supplier, ministry, "S1"))).json()
    await service.process(company.user, invoice["id"], "VALIDEE_1")
    await service.process(ministry.user, invoice["id"], "SUSPENDUE", motif="RIB manquant")

    changes: list[dict[str, Any]] = []
    while len(changes) < 5 and (messages := await take(tap, 1)):
        data = json.loads(messages[0].body)["data"]
        if data["invoice_id"] == invoice["id"]:
            changes.append(data)
    assert [(c["from_status"], c["to_status"], c["capacity"]) for c in changes] == [
        (None, "DEPOSEE", "FOURNISSEUR"),
        ("DEPOSEE", "A_VALIDER_1", "PLATEFORME"),
        ("A_VALIDER_1", "VALIDEE_1", "VALIDEUR_DELEGUE"),
        ("VALIDEE_1", "MISE_A_DISPOSITION", "VALIDEUR_DELEGUE"),
        ("MISE_A_DISPOSITION", "SUSPENDUE", "DESTINATAIRE"),
    ]
    assert [c["sequence"] for c in changes] == sorted(c["sequence"] for c in changes)
    assert changes[-1]["motif"] == "RIB manquant" and changes[2]["motif"] is None
    assert {
        (c["supplier_structure_id"], c["recipient_structure_id"], c["delegate_structure_id"]) for c in changes
    } == {(supplier.id, ministry.id, company.id)}


async def test_the_frames_of_received_invoices_are_listed(service: RunningReceivedInvoices):
    someone = await register(service)
    frames = (await service.client.get("/billing-frames", headers=someone.user)).json()
    assert [(f["code"], f["name"]) for f in frames][:2] == [
        ("A1", "A1_FACTURE_FOURNISSEUR"),
        ("A2", "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE"),
    ]
    assert "A4" not in {f["code"] for f in frames}


# --- Engagements -----------------------------------------------------------------------------


def engagement_validated(issuer: Structure, supplier: Structure, number: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/services/engagements",
        "type": "engagement-validated",
        "time": "2026-11-02T08:00:00Z",
        "data": {
            "number": number,
            "issuer": {**issuer.party(), "kind": "ETAT"},
            "supplier": supplier.party(),
            "total_ht": "1000.00",
            "total_ttc": "1200.00",
            "currency": "EUR",
            "validated_at": "2026-11-02T08:00:00Z",
            "engagement_id": "e-1",
        },
    }


async def test_an_invoice_references_an_engagement_its_recipient_validated(
    service: RunningReceivedInvoices, bus: BusProbe
):
    client = service.client
    ministry = await register(service, services=("S1",), parameters={"engagement_required": True})
    supplier = await register(service, kind="PRIVATE")
    other_supplier = await register(service, kind="PRIVATE")
    number = f"EJ-{uuid.uuid4().hex[:8]}"

    without = await deposit(client, supplier, invoice_data(supplier, ministry, "S1"))
    assert (without.status_code, without.json()["type"]) == (422, "urn:chorus:problem:engagement-required")
    assert without.json()["errors"][0]["field"] == "engagement_number"
    not_yet = await deposit(
        client, supplier, {**invoice_data(supplier, ministry, "S1"), "engagement_number": number}
    )
    assert (not_yet.status_code, not_yet.json()["type"]) == (422, "urn:chorus:problem:unknown-engagement")

    await bus.publish("engagement-validated", engagement_validated(ministry, supplier, number))

    async def accepted() -> dict[str, Any] | None:
        body = {**invoice_data(supplier, ministry, "S1"), "engagement_number": number}
        response = await deposit(client, supplier, body)
        return response.json() if response.status_code == 201 else None

    invoice = await eventually(accepted)
    assert (invoice["engagement_number"], invoice["engagement"]["engagement_id"]) == (number, "e-1")
    assert invoice["engagement"]["total_ttc"] == "1200.00"
    # another supplier may not invoice against it
    theirs = await deposit(
        client, other_supplier, {**invoice_data(other_supplier, ministry, "S1"), "engagement_number": number}
    )
    assert theirs.json()["type"] == "urn:chorus:problem:engagement-of-another-supplier"


async def test_the_recipients_service_and_parameters_say_what_an_invoice_must_name(
    service: RunningReceivedInvoices,
):
    client = service.client
    supplier = await register(service, kind="PRIVATE")
    needs_service = await register(service, services=("S1",), parameters={"service_code_required": True})
    refused = await deposit(client, supplier, invoice_data(supplier, needs_service, None))
    assert (refused.json()["type"], refused.json()["errors"][0]["field"]) == (
        "urn:chorus:problem:service-code-required",
        "recipient.service_code",
    )
    assert (await deposit(client, supplier, invoice_data(supplier, needs_service, "S1"))).status_code == 201

    either = await register(service, services=("S1",), parameters={"engagement_or_service_required": True})
    refused = await deposit(client, supplier, invoice_data(supplier, either, None))
    assert refused.json()["type"] == "urn:chorus:problem:engagement-or-service-required"
    assert (await deposit(client, supplier, invoice_data(supplier, either, "S1"))).status_code == 201

    ministry = await register(service)
    await into_replica(
        service.runtime.engine, service_snapshot(ministry.id, "MARCHES", engagement_required=True)
    )
    refused = await deposit(client, supplier, invoice_data(supplier, ministry, "MARCHES"))
    assert refused.json()["type"] == "urn:chorus:problem:engagement-required"
    assert "service MARCHES" in refused.json()["detail"]
    assert (await deposit(client, supplier, invoice_data(supplier, ministry, None))).status_code == 201


async def test_the_lifecycle_says_what_each_role_may_do_from_each_status(service: RunningReceivedInvoices):
    ministry = await register(service, services=("S1",))
    answer = await service.client.get("/lifecycle", headers=ministry.user)
    assert answer.status_code == 200
    steps = {step["status"]: step["targets"] for step in answer.json()}
    assert {"SERVICE_FAIT", "MANDATEE", "MISE_EN_PAIEMENT"} <= set(steps["MISE_A_DISPOSITION"]["RECIPIENT"])
    assert set(steps["A_VALIDER_1"]["VALIDATOR"]) == {"VALIDEE_1", "REFUSEE_1"}
    assert steps["MISE_EN_PAIEMENT"] == {} and steps["DEPOSEE"] == {}, (
        "the end, and a status nobody moves from"
    )
    assert (await service.client.get("/lifecycle")).status_code == 401


async def test_an_invoice_submitted_with_its_file_keeps_it_as_its_main_document(
    service: RunningReceivedInvoices, bus: BusProbe
):
    client = service.client
    ministry = await register(service, services=("S1",))
    supplier = await register(service, kind="PRIVATE")
    xml = b'<?xml version="1.0"?><rsm:CrossIndustryInvoice xmlns:rsm="urn:x"/>'
    refusals = await bus.tap("invoice-refused")

    def submitted(content: bytes, filename: str) -> dict[str, Any]:
        data = invoice_data(supplier, ministry, "S1")
        data["main_document"] = {"filename": filename, "content": base64.b64encode(content).decode()}
        return {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/edi/portail-depot",
            "type": "invoice-submitted",
            "time": "2026-11-02T09:00:00Z",
            "data": data,
        }

    kept, refused = submitted(xml, "facture.xml"), submitted(b"MZ\x90\x00 not an invoice", "f.exe")
    await bus.publish_many([("invoice-submitted", kept), ("invoice-submitted", refused)])
    answer = await take_where(refusals, lambda data: data["external_id"] == refused["data"]["external_id"])
    assert json.loads(answer.body)["data"]["reason"].startswith("main document: f.exe: not a PDF")

    async def received() -> dict[str, Any] | None:
        for invoice_id in await listed(client, ministry, "received"):
            detail = (await client.get(f"/invoices/{invoice_id}", headers=ministry.user)).json()
            if detail["external_id"] == kept["data"]["external_id"]:
                return detail
        return None

    invoice = await eventually(received, what="the invoice with its main document")
    assert invoice["main_attachment_id"]
    url = f"/invoices/{invoice['id']}/attachments/{invoice['main_attachment_id']}"
    download = await client.get(url, headers=ministry.user)
    assert download.status_code == 200 and download.content == xml
    assert download.headers["content-type"].startswith("application/xml")
