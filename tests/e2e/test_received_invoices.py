"""Received invoices on the whole platform: routing by event, mails to the delegate, the whole
lifecycle to payment, the end of a delegation, and the status changes an integrator follows."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from chorus_testing.directory import attached, registered
from chorus_testing.fixtures import BusProbe, eventually, take
from chorus_testing.platform import Platform, admin

READ_BY = ["received-invoices", "notifications"]


class Actor:
    """A structure of the platform's directory and a user of it."""

    def __init__(self, structure_id: str, name: str, headers: dict[str, str]) -> None:
        self.id, self.name, self.headers = structure_id, name, headers
        self.email = f"user-{structure_id}@example.fr"  # its user's, where its mail goes

    @classmethod
    async def registered(
        cls,
        http: httpx.AsyncClient,
        platform: Platform,
        kind: str,
        name: str,
        services: tuple[str, ...] = (),
    ) -> Actor:
        structure_id = await registered(
            http, platform, admin(), READ_BY, kind=kind, name=name, services=services
        )
        headers = await attached(http, platform, admin(), structure_id, f"user-{structure_id}", READ_BY)
        return cls(structure_id, name, headers)

    def party(self, service: str | None = None) -> dict[str, Any]:
        return {"structure_id": self.id, "name": self.name, "email": self.email, "service_code": service}


async def call(
    http: httpx.AsyncClient, platform: Platform, method: str, path: str, actor: Actor, body: Any = None
) -> Any:
    response = await http.request(
        method, platform.url("received-invoices") + path, json=body, headers=actor.headers
    )
    assert response.status_code < 300, response.text
    return response.json()


def submitted(supplier: Actor, ministry: Actor, service: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/edi/depot",
        "type": "invoice-submitted",
        "time": datetime.now(UTC).isoformat(),
        "data": {
            "external_id": f"EDI-{uuid.uuid4().hex[:10]}",
            "number": f"FA-{uuid.uuid4().hex[:6]}",
            "billing_frame": "A1",
            "supplier": supplier.party(),
            "recipient": ministry.party(service),
            "amount_ht": "500.00",
            "vat_amount": "100.00",
            "amount_ttc": "600.00",
            "currency": "EUR",
            "issue_date": "2026-11-20",
        },
    }


async def test_a_ministry_delegates_validation_and_processing(
    platform: Platform, http: httpx.AsyncClient, bus: BusProbe
):
    # An integrator subscribed to the status changes from the start (a queue of its own).
    feed = await bus.tap("invoice-status-changed")
    ministry = await Actor.registered(
        http, platform, "PUBLIQUE", "Ministère de la Culture", ("DAF", "DRH", "DSI", "SG")
    )
    validator = await Actor.registered(http, platform, "PRIVEE", "Cabinet Valide SARL")
    processor = await Actor.registered(http, platform, "PRIVEE", "Centre de Traitement SAS")
    supplier = await Actor.registered(http, platform, "PRIVEE", "Fournitures SA")
    today = datetime.now(UTC).date().isoformat()
    delegations = {}
    for delegate, right, services in (
        (validator, "VALIDATION", ["DAF", "DRH"]),
        (processor, "TRAITEMENT", ["SG"]),
    ):
        created = await call(
            http,
            platform,
            "POST",
            "/delegations",
            ministry,
            {
                "delegator_structure_id": ministry.id,
                "delegate_structure_id": delegate.id,
                "right": right,
                "scope": "SERVICES",
                "service_codes": services,
                "start_date": today,
            },
        )
        delegations[right] = created["id"]

    async def work_list(actor: Actor, name: str) -> list[str]:
        page = await call(http, platform, "GET", f"/invoices?list={name}&page_size=200", actor)
        return [item["id"] for item in page["items"]]

    async def process(actor: Actor, invoice_id: str, status: str, **extra: str) -> Any:
        body = {"status": status, **extra}
        return await call(http, platform, "POST", f"/invoices/{invoice_id}/processing", actor, body)

    # A1 to a delegated service, from an external system: the delegate gets it, and one mail.
    await bus.publish("invoice-submitted", submitted(supplier, ministry, "DAF"))
    [to_validate] = await eventually(lambda: work_list(validator, "to-validate"), within=30)
    [mail] = await eventually(lambda: platform.mails_to(validator.email), within=30)
    assert ministry.name in mail.get_content() and "service DAF" in mail.get_content()
    assert "droit de validation" in mail.get_content()
    validated = await process(validator, to_validate, "VALIDEE_1")
    assert (validated["status"], validated["validation_decision"]) == ("MISE_A_DISPOSITION", "VALIDEE")
    assert to_validate in await work_list(ministry, "received")
    # The ministry takes it to payment the way the État does: service fait, mandat, mise en paiement.
    allowed = await call(http, platform, "GET", f"/invoices/{to_validate}/next-statuses", ministry)
    assert "SERVICE_FAIT" in [n["status"] for n in allowed["next"]]
    await process(ministry, to_validate, "SERVICE_FAIT")
    await process(ministry, to_validate, "MANDATEE", numero_dp_mandat="DP-2026-0042")
    paid = await process(ministry, to_validate, "MISE_EN_PAIEMENT")
    assert paid["status"] == "MISE_EN_PAIEMENT"

    # A1 to a service that is not delegated goes straight to the ministry.
    await bus.publish("invoice-submitted", submitted(supplier, ministry, "DSI"))
    await eventually(lambda: _count(work_list(ministry, "received"), 2), within=30)

    # With TRAITEMENT the delegate suspends one; the supplier completes it; it returns to the delegate,
    # which pays it; the ministry never receives it.
    await bus.publish("invoice-submitted", submitted(supplier, ministry, "SG"))
    [to_process] = await eventually(lambda: work_list(processor, "to-validate"), within=30)
    await process(processor, to_process, "SUSPENDUE", motif="Bon de livraison manquant")
    assert await work_list(supplier, "to-process") == [to_process]
    piece = await http.post(
        platform.url("received-invoices") + f"/invoices/{to_process}/attachments",
        files={"file": ("bon-de-livraison-118.pdf", b"%PDF-1.7\n% BL 118\n" + b"0" * 400)},
        headers=supplier.headers,
    )
    assert piece.status_code == 201, piece.text
    completed = await call(
        http,
        platform,
        "POST",
        f"/invoices/{to_process}/completion",
        supplier,
        {"comment": "Bon de livraison n° 118 ajouté", "attachment_ids": [piece.json()["id"]]},
    )
    assert completed["status"] == "COMPLETEE"
    seen_by_delegate = await http.get(
        platform.url("received-invoices") + f"/invoices/{to_process}/attachments/{piece.json()['id']}",
        headers=processor.headers,
    )
    assert seen_by_delegate.content.startswith(b"%PDF-1.7")
    assert await work_list(processor, "to-validate") == [to_process]
    paid_by_delegate = await process(processor, to_process, "MISE_EN_PAIEMENT")
    assert paid_by_delegate["status"] == "MISE_EN_PAIEMENT"
    assert to_process not in await work_list(ministry, "received")

    # The ministry substitutes for the delegate, from its list of what waits at its delegates.
    await bus.publish("invoice-submitted", submitted(supplier, ministry, "SG"))
    [waiting] = await eventually(lambda: work_list(ministry, "awaiting-delegate"), within=30)
    substituted = await process(ministry, waiting, "VALIDEE_1")
    assert substituted["history"][-1]["capacity"] == "DESTINATAIRE_SUBSTITUT"
    assert await work_list(processor, "to-validate") == []
    assert waiting in await work_list(ministry, "received")

    # The validation delegation is revoked with two invoices waiting: both reach the ministry, the
    # former delegate can act on neither, and its users are told.
    for _ in range(2):
        await bus.publish("invoice-submitted", submitted(supplier, ministry, "DRH"))
    stranded = await eventually(lambda: _at_least(work_list(validator, "to-validate"), 2), within=30)
    await call(
        http,
        platform,
        "POST",
        f"/delegations/{delegations['VALIDATION']}/actions",
        ministry,
        {"action": "REVOCATION"},
    )
    received = await work_list(ministry, "received")
    assert set(stranded) <= set(received) and await work_list(validator, "to-validate") == []
    refused = await http.post(
        platform.url("received-invoices") + f"/invoices/{stranded[0]}/processing",
        json={"status": "VALIDEE_1"},
        headers=validator.headers,
    )
    assert refused.status_code == 403
    [ended] = await eventually(
        lambda: _mails(platform, validator.email, "a révoqué la délégation"), within=30
    )
    assert "Les 2 factures qui étaient en attente chez vous" in ended.get_content()
    assert len(platform.mails_to(processor.email)) == 2

    # The integrator saw every transition of every one of these invoices, in order per invoice.
    followed = [to_validate, to_process, waiting, *stranded]
    expected = {
        to_validate: "DEPOSEE A_VALIDER_1 VALIDEE_1 MISE_A_DISPOSITION SERVICE_FAIT MANDATEE "
        "MISE_EN_PAIEMENT",
        to_process: "DEPOSEE A_VALIDER_1 SUSPENDUE COMPLETEE MISE_EN_PAIEMENT",
        waiting: "DEPOSEE A_VALIDER_1 VALIDEE_1 MISE_A_DISPOSITION",
        **{invoice_id: "DEPOSEE A_VALIDER_1 MISE_A_DISPOSITION" for invoice_id in stranded},
    }
    seen: dict[str, list[tuple[int, str]]] = {invoice_id: [] for invoice_id in followed}
    total = sum(len(statuses.split()) for statuses in expected.values())
    while sum(map(len, seen.values())) < total and (messages := await take(feed, 1, within=30)):
        data = json.loads(messages[0].body)["data"]
        if data["invoice_id"] in seen:
            seen[data["invoice_id"]].append((data["sequence"], data["to_status"]))
    for invoice_id in followed:
        assert " ".join(status for _, status in seen[invoice_id]) == expected[invoice_id]
        assert [sequence for sequence, _ in seen[invoice_id]] == sorted(s for s, _ in seen[invoice_id])


async def _count(pending: Any, expected: int) -> bool:
    return len(await pending) >= expected


async def _at_least(pending: Any, expected: int) -> list[str]:
    found: list[str] = await pending
    return found if len(found) >= expected else []


def _mails(platform: Platform, address: str, saying: str) -> list[Any]:
    return [mail for mail in platform.mails_to(address) if saying in mail.get_content()]
