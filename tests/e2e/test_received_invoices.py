"""Delegation of validation on the whole platform: routing by event, mail to the delegate, rights."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from chorus_testing.directory import attached, registered
from chorus_testing.fixtures import BusProbe, eventually
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
    ministry = await Actor.registered(
        http, platform, "PUBLIQUE", "Ministère de la Culture", ("DAF", "DRH", "DSI", "SG")
    )
    validator = await Actor.registered(http, platform, "PRIVEE", "Cabinet Valide SARL")
    processor = await Actor.registered(http, platform, "PRIVEE", "Centre de Traitement SAS")
    supplier = await Actor.registered(http, platform, "PRIVEE", "Fournitures SA")
    today = datetime.now(UTC).date().isoformat()
    for delegate, right, services in (
        (validator, "VALIDATION", ["DAF", "DRH"]),
        (processor, "TRAITEMENT", ["SG"]),
    ):
        await call(
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

    async def work_list(actor: Actor, name: str) -> list[str]:
        page = await call(http, platform, "GET", f"/invoices?list={name}&page_size=200", actor)
        return [item["id"] for item in page["items"]]

    # A1 to a delegated service, from an external system: the delegate gets it, and one mail.
    await bus.publish("invoice-submitted", submitted(supplier, ministry, "DAF"))
    [to_validate] = await eventually(lambda: work_list(validator, "to-validate"), within=30)
    [mail] = await eventually(lambda: platform.mails_to(validator.email), within=30)
    assert ministry.name in mail.get_content() and "service DAF" in mail.get_content()
    assert "droit de validation" in mail.get_content()
    validated = await call(
        http, platform, "POST", f"/invoices/{to_validate}/actions", validator, {"action": "VALIDATION"}
    )
    assert (validated["status"], validated["validation_decision"]) == ("MISE_A_DISPOSITION", "VALIDEE")
    assert to_validate in await work_list(ministry, "received")

    # A1 to a service that is not delegated goes straight to the ministry.
    await bus.publish("invoice-submitted", submitted(supplier, ministry, "DSI"))
    await eventually(lambda: _count(work_list(ministry, "received"), 2), within=30)

    # With TRAITEMENT, the delegate pays; the ministry never receives it.
    await bus.publish("invoice-submitted", submitted(supplier, ministry, "SG"))
    [to_process] = await eventually(lambda: work_list(processor, "to-validate"), within=30)
    paid = await call(
        http, platform, "POST", f"/invoices/{to_process}/actions", processor, {"action": "MISE_EN_PAIEMENT"}
    )
    assert paid["status"] == "MISE_EN_PAIEMENT"
    assert to_process not in await work_list(ministry, "received")

    # The ministry substitutes for the delegate on another one.
    await bus.publish("invoice-submitted", submitted(supplier, ministry, "SG"))
    [waiting] = await eventually(lambda: work_list(processor, "to-validate"), within=30)
    substituted = await call(
        http, platform, "POST", f"/invoices/{waiting}/actions", ministry, {"action": "VALIDATION"}
    )
    assert substituted["history"][-1]["capacity"] == "DESTINATAIRE_SUBSTITUT"
    assert await work_list(processor, "to-validate") == []
    assert waiting in await work_list(ministry, "received")
    assert len(platform.mails_to(validator.email)) == 1 and len(platform.mails_to(processor.email)) == 2


async def _count(pending: Any, expected: int) -> bool:
    return len(await pending) >= expected
