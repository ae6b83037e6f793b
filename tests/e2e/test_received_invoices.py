"""Delegation of validation on the whole platform: routing by event, mail to the delegate, rights."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from chorus_common.auth import mint_dev_token
from chorus_testing.fixtures import BusProbe, eventually
from chorus_testing.platform import Platform
from received_invoices.domain import is_valid_siret


def siret() -> str:
    body = "".join(random.choices("0123456789", k=13))
    return next(body + key for key in "0123456789" if is_valid_siret(body + key))


class Actor:
    def __init__(self, kind: str, name: str) -> None:
        self.id, self.kind, self.name = siret(), kind, name
        self.email = f"{self.id}@example.fr"
        self.headers = {"authorization": "Bearer " + mint_dev_token(f"user-{self.id}", [self.id])}

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


async def register(
    http: httpx.AsyncClient, platform: Platform, actor: Actor, services: tuple[str, ...] = ()
) -> None:
    await call(
        http,
        platform,
        "POST",
        "/structures",
        actor,
        {"identifier": actor.id, "name": actor.name, "kind": actor.kind, "email": actor.email},
    )
    for code in services:
        await call(
            http, platform, "POST", f"/structures/{actor.id}/services", actor, {"code": code, "name": code}
        )


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
    ministry = Actor("PUBLIC", "Ministère de la Culture")
    validator = Actor("PRIVATE", "Cabinet Valide SARL")
    processor = Actor("PRIVATE", "Centre de Traitement SAS")
    supplier = Actor("PRIVATE", "Fournitures SA")
    await register(http, platform, ministry, ("DAF", "DRH", "DSI", "SG"))
    for actor in (validator, processor, supplier):
        await register(http, platform, actor)
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
