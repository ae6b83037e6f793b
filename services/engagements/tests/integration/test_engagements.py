"""Engagements over HTTP, with a real PostgreSQL and RabbitMQ."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from chorus_common.replica import SNAPSHOT_EVENTS
from chorus_testing.directory import into_replica, structure_snapshot
from chorus_testing.fixtures import BusProbe, eventually, take

from .conftest import RunningEngagements


def new_structure(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def engagement_body(issuer: str, supplier: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "number": f"EJ-{uuid.uuid4().hex[:8]}",
        "type": "BON_DE_COMMANDE",
        "issuer": {
            "structure_id": issuer,
            "name": "Ministère des Armées",
            "email": "achats@defense.gouv.fr",
            "kind": "ETAT",
        },
        "supplier": {"structure_id": supplier, "name": "BTP SA", "email": "contact@btp.example.fr"},
        "currency": "EUR",
        "lines": [
            {"description": "Ciment", "quantity": 2.5, "unit": "T", "unit_price_ht": 1234.567, "vat_rate": 20}
        ],
    }
    body.update(overrides)
    return body


async def test_decimal_quantities_and_prices_are_kept_exactly(engagements: RunningEngagements):
    issuer, supplier = await engagements.public_issuer(), new_structure("SUP")
    body = engagement_body(issuer, supplier)
    body["lines"].append(
        {"description": "Sable", "quantity": "0.1", "unit": "T", "unit_price_ht": 0.1, "vat_rate": "5.5"}
    )
    body["lines"].append(
        {
            "description": "Vis",
            "quantity": 0.123456,
            "unit": "U",
            "unit_price_ht": "99999.999999",
            "vat_rate": 10,
        }
    )
    response = await engagements.create(await engagements.user("alice", issuer), body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert [(line["quantity"], line["unit_price_ht"]) for line in created["lines"]] == [
        ("2.5", "1234.567"),
        ("0.1", "0.1"),
        ("0.123456", "99999.999999"),
    ]
    assert [line["amount_ht"] for line in created["lines"]] == ["3086.42", "0.01", "12345.60"]
    assert created["total_ht"] == "15432.03"
    assert created["total_ttc"] == "17283.87"  # 3703.70 + 0.01 + 13580.16
    assert created["status"] == "BROUILLON"
    fetched = await engagements.client.get(
        f"/engagements/{created['id']}", headers=await engagements.user("alice", issuer)
    )
    assert fetched.json() == created


@pytest.mark.parametrize(
    ("line_override", "field"),
    [
        ({"quantity": "abc"}, "lines.0.quantity"),
        ({"quantity": -1}, "lines.0.quantity"),
        ({"quantity": "1.1234567"}, "lines.0.quantity"),
        ({"unit_price_ht": "NaN"}, "lines.0.unit_price_ht"),
        ({"unit_price_ht": 1e13}, "lines.0.unit_price_ht"),
        ({"vat_rate": 120}, "lines.0.vat_rate"),
        ({"quantity": True}, "lines.0.quantity"),
    ],
)
async def test_malformed_or_out_of_range_values_get_a_422_naming_the_field(
    engagements: RunningEngagements, line_override: dict[str, Any], field: str
):
    issuer = await engagements.public_issuer()
    body = engagement_body(issuer, new_structure("SUP"))
    body["lines"][0].update(line_override)
    response = await engagements.create(await engagements.user("alice", issuer), body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_an_issuer_must_be_one_of_the_callers_structures(engagements: RunningEngagements):
    response = await engagements.create(
        await engagements.user("mallory", new_structure("OTHER")),
        engagement_body(await engagements.public_issuer(), "SUP"),
    )
    assert response.status_code == 403
    assert response.json()["type"] == "urn:chorus:problem:not-your-structure"


async def test_an_engagement_number_is_unique_per_issuer(engagements: RunningEngagements):
    issuer = await engagements.public_issuer()
    body = engagement_body(issuer, new_structure("SUP"))
    assert (await engagements.create(await engagements.user("alice", issuer), body)).status_code == 201
    again = await engagements.create(await engagements.user("alice", issuer), body)
    assert again.status_code == 409
    other_issuer = await engagements.public_issuer()
    assert (
        await engagements.create(
            await engagements.user("bob", other_issuer),
            {**body, "issuer": {**body["issuer"], "structure_id": other_issuer}},
        )
    ).status_code == 201


async def test_validation_publishes_engagement_validated_and_the_supplier_takes_it_into_account(
    engagements: RunningEngagements, bus: BusProbe
):
    tap = await bus.tap("engagement-validated")
    transitions = await bus.tap("engagement-status-changed")
    issuer, supplier = await engagements.public_issuer(), new_structure("SUP")
    created = (
        await engagements.create(await engagements.user("alice", issuer), engagement_body(issuer, supplier))
    ).json()

    hidden = await engagements.client.get(
        f"/engagements/{created['id']}", headers=await engagements.user("sam", supplier)
    )
    assert hidden.status_code == 404, "a supplier does not see drafts"
    validated = await engagements.act(await engagements.user("alice", issuer), created["id"], "VALIDATION")
    assert validated.status_code == 200
    assert validated.json()["status"] == "COMMANDE"

    [message] = await take(tap, 1)
    event = json.loads(message.body)
    assert message.delivery_mode == 2
    assert event["source"] == "/services/engagements"
    assert event["data"]["engagement_id"] == created["id"]
    assert event["data"]["total_ttc"] == "3703.70"
    assert event["data"]["issuer"]["kind"] == "ETAT"

    again = await engagements.act(await engagements.user("alice", issuer), created["id"], "VALIDATION")
    assert again.status_code == 409
    forbidden = await engagements.act(await engagements.user("sam", supplier), created["id"], "INACTIVATION")
    assert forbidden.status_code == 403
    no_reason = await engagements.act(await engagements.user("sam", supplier), created["id"], "REFUS")
    assert no_reason.status_code == 422
    taken = await engagements.act(await engagements.user("sam", supplier), created["id"], "PRISE_EN_COMPTE")
    assert taken.status_code == 200
    history = taken.json()["history"]
    assert [(h["action"], h["capacity"]) for h in history] == [
        ("CREATION", "EMETTEUR"),
        ("VALIDATION", "EMETTEUR"),
        ("PRISE_EN_COMPTE", "FOURNISSEUR"),
    ]
    # Every transition, its creation included, is announced in order, with the amounts.
    announced = [json.loads(m.body)["data"] for m in await take(transitions, 3)]
    assert [(d["engagement_id"], d["sequence"]) for d in announced] == [(created["id"], n) for n in (1, 2, 3)]
    assert [(d["step"], d["from_status"], d["to_status"]) for d in announced] == [
        ("CREATION", None, "BROUILLON"),
        ("VALIDATION", "BROUILLON", "COMMANDE"),
        ("PRISE_EN_COMPTE", "COMMANDE", "PRISE_EN_COMPTE"),
    ]
    assert {(d["amount_ttc"], d["issuer_structure_id"], d["supplier_structure_id"]) for d in announced} == {
        ("3703.70", issuer, supplier)
    }


async def test_the_supplier_refuses_with_a_reason(engagements: RunningEngagements):
    issuer, supplier = await engagements.public_issuer(), new_structure("SUP")
    created = (
        await engagements.create(await engagements.user("alice", issuer), engagement_body(issuer, supplier))
    ).json()
    await engagements.act(await engagements.user("alice", issuer), created["id"], "VALIDATION")
    refused = await engagements.act(
        await engagements.user("sam", supplier), created["id"], "REFUS", "Prix erroné"
    )
    assert refused.json()["status"] == "REFUSEE"
    assert refused.json()["history"][-1]["reason"] == "Prix erroné"


async def test_other_structures_see_and_change_nothing(engagements: RunningEngagements):
    issuer = await engagements.public_issuer()
    created = (
        await engagements.create(
            await engagements.user("alice", issuer), engagement_body(issuer, new_structure("SUP"))
        )
    ).json()
    stranger = await engagements.user("eve", new_structure("EVE"))
    assert (
        await engagements.client.get(f"/engagements/{created['id']}", headers=stranger)
    ).status_code == 404
    assert (await engagements.act(stranger, created["id"], "VALIDATION")).status_code == 404
    listed = await engagements.client.get("/engagements", headers=stranger)
    assert listed.json()["total"] == 0
    still = await engagements.client.get(
        f"/engagements/{created['id']}", headers=await engagements.user("alice", issuer)
    )
    assert still.json()["status"] == "BROUILLON"
    assert (await engagements.client.get("/engagements")).status_code == 401


async def test_lists_are_filtered_and_paginated(engagements: RunningEngagements):
    issuer, supplier = await engagements.public_issuer(), new_structure("SUP")
    ids = [
        (
            await engagements.create(
                await engagements.user("alice", issuer), engagement_body(issuer, supplier)
            )
        ).json()["id"]
        for _ in range(3)
    ]
    await engagements.act(await engagements.user("alice", issuer), ids[0], "VALIDATION")
    page = await engagements.client.get(
        "/engagements", params={"page_size": 2}, headers=await engagements.user("alice", issuer)
    )
    assert page.json()["total"] == 3 and len(page.json()["items"]) == 2
    orders = await engagements.client.get(
        "/engagements", params={"status": "COMMANDE"}, headers=await engagements.user("alice", issuer)
    )
    assert [item["id"] for item in orders.json()["items"]] == [ids[0]]
    supplier_view = await engagements.client.get(
        "/engagements", headers=await engagements.user("sam", supplier)
    )
    assert [item["id"] for item in supplier_view.json()["items"]] == [ids[0]]


async def test_engagements_validated_in_the_state_erp_are_recorded(
    engagements: RunningEngagements, bus: BusProbe
):
    issuer, supplier = await engagements.public_issuer(), new_structure("SUP")
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/erp/chorus-etat",
        "type": "engagement-validated",
        "time": datetime.now(UTC).isoformat(),
        "data": {
            "number": "EJ-ERP-0001",
            "issuer": {
                "structure_id": issuer,
                "name": "DGFiP",
                "email": "dgfip@finances.gouv.fr",
                "kind": "ETAT",
            },
            "supplier": {"structure_id": supplier, "name": "Fournisseur", "email": "f@example.fr"},
            "total_ht": "1000.00",
            "total_ttc": "1200.00",
            "currency": "EUR",
            "validated_at": datetime.now(UTC).isoformat(),
        },
    }
    await bus.publish("engagement-validated", event)
    await bus.publish("engagement-validated", event)

    async def recorded() -> list[dict[str, Any]]:
        response = await engagements.client.get(
            "/engagements", headers=await engagements.user("alice", issuer)
        )
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    [item] = await eventually(recorded)
    assert (item["number"], item["origin"], item["status"], item["total_ttc"]) == (
        "EJ-ERP-0001",
        "EXTERNE",
        "COMMANDE",
        "1200.00",
    )
    detail = (
        await engagements.client.get(
            f"/engagements/{item['id']}", headers=await engagements.user("sam", supplier)
        )
    ).json()
    assert detail["source"] == "/erp/chorus-etat"
    assert len(await recorded()) == 1


async def test_the_asyncapi_document_describes_published_and_consumed_events(engagements: RunningEngagements):
    document = (await engagements.client.get("/asyncapi.json")).json()
    replica = {f"engagements.{event_type}" for event_type in SNAPSHOT_EVENTS}  # its directory read model
    published = {"engagement-validated", "engagement-status-changed"}
    assert set(document["channels"]) == published | {"engagements.engagement-validated"} | replica
    schemas = document["components"]["schemas"]
    assert schemas["EngagementValidatedEvent"]["properties"]["type"]["const"] == "engagement-validated"
    assert "total_ttc" in schemas["EngagementValidated"]["properties"]
    assert schemas["UserAttachedEvent"]["properties"]["type"]["const"] == "user-attached"
    payloads = set()
    for message in document["components"]["messages"].values():
        payloads.add(message["payload"]["$ref"])
        assert message["contentType"] == "application/cloudevents+json"
    assert "#/components/schemas/EngagementValidatedEvent" in payloads


async def test_the_issuer_is_a_public_structure_of_the_directory_whose_kind_is_the_directorys(
    engagements: RunningEngagements, bus: BusProbe
):
    unknown = new_structure("MIN")
    refused = await engagements.create(await engagements.user("alice"), engagement_body(unknown, "SUP"))
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"source": "body", "field": "issuer.structure_id", "message": "unknown to the directory"}
    ]
    company = structure_snapshot(kind="PRIVEE")
    await into_replica(engagements.app.state.runtime.engine, company)
    private = await engagements.create(
        await engagements.user("alice", company.structure_id), engagement_body(company.structure_id, "SUP")
    )
    assert private.status_code == 422 and "public structure" in private.json()["errors"][0]["message"]

    city = await engagements.public_issuer("COLLECTIVITE")
    body = engagement_body(city, new_structure("SUP"))  # the body still says "ETAT"
    created = await engagements.create(await engagements.user("lina", city), body)
    assert created.status_code == 201, created.text
    assert created.json()["issuer"]["kind"] == "COLLECTIVITE"
    del body["issuer"]["kind"]
    body["number"] += "-2"
    assert (await engagements.create(await engagements.user("lina", city), body)).status_code == 201

    tap = await bus.tap("engagement-validated")
    await engagements.act(await engagements.user("lina", city), created.json()["id"], "VALIDATION")
    [message] = await take(tap, 1)
    assert json.loads(message.body)["data"]["issuer"]["kind"] == "COLLECTIVITE"
