"""The directory over HTTP, with a real PostgreSQL and RabbitMQ: registration, services, users, events."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from chorus_testing.auth import bearer
from chorus_testing.events import cloud_event
from chorus_testing.fixtures import BusProbe, eventually, take
from chorus_testing.identifiers import new_siret
from directory.db import inbox, technical_accounts

from .conftest import RunningDirectory, about

ADMIN = bearer("operator", roles=["admin"])


def company(siret: str, **overrides: Any) -> dict[str, Any]:
    return {"identifier": siret, "name": "BTP SA", "email": "contact@btp.example.fr", **overrides}


def ministry(siret: str) -> dict[str, Any]:
    return {
        "identifier": siret,
        "name": "Ministère de la Culture",
        "kind": "PUBLIQUE",
        "public_category": "ETAT",
        "email": "daf@culture.example.fr",
    }


async def test_a_company_registers_itself_and_becomes_its_principal_manager(
    directory: RunningDirectory, bus: BusProbe
):
    siret = new_siret()
    sam = f"sam-{siret}"
    registered_tap = await bus.tap("structure-registered")
    attached_tap = await bus.tap("user-attached")

    created = await directory.client.post("/structures", json=company(siret), headers=bearer(sam))
    assert created.status_code == 201, created.text
    assert created.json()["id"] == siret and created.json()["kind"] == "PRIVEE"
    assert created.json()["cpp_id"] > 0 and created.json()["version"] == 1

    me = (await directory.client.get("/users/me", headers=bearer(sam))).json()
    assert [(a["structure_id"], a["role"], a["notifications"]) for a in me["attachments"]] == [
        (siret, "GESTIONNAIRE_PRINCIPAL", True)
    ]
    [event] = await about(registered_tap, siret)
    assert event["data"]["version"] == 1
    assert event["data"]["parameters"] == {
        "service_code_required": False,
        "engagement_required": False,
        "engagement_or_service_required": False,
        "moa_only": False,
    }
    [attached] = await about(attached_tap, sam)
    assert attached["data"]["email"] == f"{sam}@example.fr"
    assert [a["role"] for a in attached["data"]["attachments"]] == ["GESTIONNAIRE_PRINCIPAL"]


async def test_a_bad_siret_a_duplicate_and_a_self_made_public_structure_are_refused(
    directory: RunningDirectory,
):
    bad = await directory.client.post("/structures", json=company("11004601800014"), headers=bearer("sam"))
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {"source": "body", "field": "identifier", "message": "the SIRET's check digit is wrong (Luhn key)"}
    ]
    siret = new_siret()
    assert (
        await directory.client.post("/structures", json=company(siret), headers=bearer("sam"))
    ).status_code == 201
    again = await directory.client.post("/structures", json=company(siret), headers=bearer("ann"))
    assert again.status_code == 409 and again.json()["type"] == "urn:chorus:problem:structure-exists"

    public = await directory.client.post("/structures", json=ministry(new_siret()), headers=bearer("sam"))
    assert public.status_code == 403
    made_public = await directory.client.patch(
        f"/structures/{siret}", json={"kind": "PUBLIQUE", "public_category": "ETAT"}, headers=bearer("sam")
    )
    assert made_public.status_code == 403
    structure = (await directory.client.get(f"/structures/{siret}", headers=bearer("sam"))).json()
    assert structure["kind"] == "PRIVEE" and structure["version"] == 1


async def test_la_poste_registers_with_its_siret(directory: RunningDirectory):
    la_poste = await directory.client.post(
        "/structures", json=company("35600000049837", name="La Poste"), headers=bearer("lea")
    )
    assert la_poste.status_code == 201, la_poste.text


async def test_managers_attach_users_to_services_and_others_change_nothing(
    directory: RunningDirectory, bus: BusProbe
):
    siret = new_siret()
    created = await directory.client.post("/structures", json=ministry(siret), headers=ADMIN)
    assert created.status_code == 201, created.text
    principal = await directory.client.put(
        f"/structures/{siret}/users/marie",
        json={"role": "GESTIONNAIRE_PRINCIPAL", "email": "marie@culture.example.fr", "name": "Marie"},
        headers=ADMIN,
    )
    assert principal.status_code == 200, principal.text
    marie = bearer("marie")
    service = await directory.client.post(
        f"/structures/{siret}/services", json={"code": "DAF", "name": "Affaires financières"}, headers=marie
    )
    assert service.status_code == 201, service.text

    tap = await bus.tap("user-attached")
    jules = await directory.client.put(
        f"/structures/{siret}/users/jules",
        json={"service_code": "DAF", "email": "jules@culture.example.fr", "notifications": False},
        headers=marie,
    )
    assert jules.status_code == 200, jules.text
    [event] = await about(tap, "jules")
    assert event["data"]["attachments"] == [
        {"structure_id": siret, "service_code": "DAF", "role": "UTILISATEUR", "notifications": False}
    ]

    unknown = await directory.client.put(
        f"/structures/{siret}/users/zoe",
        json={"service_code": "NOPE", "email": "z@example.fr"},
        headers=marie,
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "service_code"
    not_mine = await directory.client.put(
        f"/structures/{siret}/users/zoe", json={"email": "z@example.fr"}, headers=bearer("jules")
    )
    assert not_mine.status_code == 403
    silenced = await directory.client.put(
        f"/structures/{siret}/users/marie",
        json={"role": "GESTIONNAIRE_PRINCIPAL", "notifications": False},
        headers=marie,
    )
    assert silenced.status_code == 422 and silenced.json()["type"].endswith("principal-manager-notified")
    second = await directory.client.put(
        f"/structures/{siret}/users/jules", json={"role": "GESTIONNAIRE_PRINCIPAL"}, headers=ADMIN
    )
    assert second.status_code == 409

    users = (await directory.client.get(f"/structures/{siret}/users", headers=marie)).json()
    assert {(u["sub"], u["service_code"], u["role"], u["notifications"]) for u in users} == {
        ("marie", None, "GESTIONNAIRE_PRINCIPAL", True),
        ("jules", "DAF", "UTILISATEUR", False),
    }
    assert (
        await directory.client.get(f"/structures/{siret}/users", headers=bearer("jules"))
    ).status_code == 403


async def test_detaching_publishes_what_the_user_keeps_with_a_newer_version(
    directory: RunningDirectory, bus: BusProbe
):
    first, second = new_siret(), new_siret()
    for siret in (first, second):
        assert (
            await directory.client.post("/structures", json=company(siret), headers=bearer("sam"))
        ).status_code == 201
    for siret in (first, second):
        attached = await directory.client.put(
            f"/structures/{siret}/users/tom", json={"email": "tom@example.fr"}, headers=bearer("sam")
        )
        assert attached.status_code == 200
    before = attached.json()["version"]
    tap = await bus.tap("user-detached")

    detached = await directory.client.delete(f"/structures/{first}/users/tom", headers=bearer("sam"))
    assert detached.status_code == 200, detached.text
    [event] = await about(tap, "tom")
    data = event["data"]
    assert data["version"] == before + 1
    assert [a["structure_id"] for a in data["attachments"]] == [second]
    again = await directory.client.delete(f"/structures/{first}/users/tom", headers=bearer("sam"))
    assert again.status_code == 404
    principal = await directory.client.delete(f"/structures/{first}/users/sam", headers=bearer("sam"))
    assert principal.status_code == 409


async def test_structures_are_found_by_identifier_and_part_of_their_name(directory: RunningDirectory):
    siret = new_siret()
    body = company(siret, name="Menuiserie Zéphyr 100%")
    assert (await directory.client.post("/structures", json=body, headers=bearer("sam"))).status_code == 201
    by_id = (
        await directory.client.get("/structures", params={"identifier": siret}, headers=bearer("x"))
    ).json()
    assert [s["name"] for s in by_id["items"]] == ["Menuiserie Zéphyr 100%"]
    by_name = (
        await directory.client.get("/structures", params={"name": "zéphyr 100%"}, headers=bearer("x"))
    ).json()
    assert siret in [s["id"] for s in by_name["items"]]
    none = (await directory.client.get("/structures", params={"name": "%"}, headers=bearer("x"))).json()
    assert siret in [s["id"] for s in none["items"]]  # '%' is a character, not a wildcard
    assert (await directory.client.get("/structures")).status_code == 401


async def test_a_token_for_another_structure_does_not_manage_this_one(directory: RunningDirectory):
    mine, other = new_siret(), new_siret()
    for siret in (mine, other):
        assert (
            await directory.client.post("/structures", json=company(siret), headers=bearer("kim"))
        ).status_code == 201
    narrowed = bearer("kim", other)  # kim manages both, but this token is for `other` only
    refused = await directory.client.patch(f"/structures/{mine}", json={"name": "Renamed"}, headers=narrowed)
    assert refused.status_code == 403
    forged = await directory.client.patch(
        f"/structures/{mine}", json={"name": "Renamed"}, headers=bearer("eve", mine)
    )
    assert forged.status_code == 403  # a claim never adds a structure the directory does not attach
    allowed = await directory.client.patch(f"/structures/{other}", json={"name": "Renamed"}, headers=narrowed)
    assert allowed.status_code == 200 and allowed.json()["version"] == 2


async def test_managers_create_technical_accounts_whose_password_is_shown_once(
    directory: RunningDirectory, bus: BusProbe
):
    tap = await bus.tap("technical-account-updated")
    siret = new_siret()
    assert (
        await directory.client.post("/structures", json=company(siret), headers=bearer("tess"))
    ).status_code == 201
    url = f"/structures/{siret}/technical-accounts"
    created = await directory.client.post(url, headers=bearer("tess"))
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["login"].startswith("TECH_") and len(account["password"]) >= 32 and account["active"]

    listed = (await directory.client.get(url, headers=bearer("tess"))).json()
    assert [a["login"] for a in listed] == [account["login"]]
    assert "password" not in listed[0] and "password_hash" not in listed[0]
    async with directory.runtime.engine.connect() as conn:
        stored = await conn.scalar(
            sa.select(technical_accounts.c.password_hash).where(
                technical_accounts.c.login == account["login"]
            )
        )
    assert stored is not None and account["password"] not in stored

    assert (await directory.client.post(url, headers=bearer("eve"))).status_code == 403
    assert (await directory.client.get(url, headers=bearer("eve"))).status_code == 403
    assert (
        await directory.client.delete(f"{url}/{account['login']}", headers=bearer("eve"))
    ).status_code == 403
    deactivated = await directory.client.delete(f"{url}/{account['login']}", headers=bearer("tess"))
    assert deactivated.status_code == 200 and deactivated.json()["active"] is False
    again = await directory.client.delete(f"{url}/{account['login']}", headers=bearer("tess"))
    assert again.status_code == 200, "deactivating twice is harmless"
    assert (await directory.client.delete(f"{url}/TECH_0_NONE", headers=bearer("tess"))).status_code == 404

    # The PISTE gateway's read model is fed a snapshot per change: the hash, never the password.
    snapshots = [json.loads(m.body)["data"] for m in await take(tap, 2)]
    assert [(d["login"], d["version"], d["active"]) for d in snapshots] == [
        (account["login"], 1, True),
        (account["login"], 2, False),
    ]
    assert snapshots[0]["password_hash"] == stored and account["password"] not in json.dumps(snapshots)
    assert await take(tap, 1, within=1) == [], "the second deactivation changed nothing"


def delegation_updated(delegate: str, status: str, version: int, delegation_id: str) -> dict[str, Any]:
    """received-invoices' snapshot of a delegation to `delegate`."""
    return cloud_event(
        "delegation-updated",
        {
            "delegation_id": delegation_id,
            "delegator_structure_id": new_siret(),
            "delegate_structure_id": delegate,
            "right": "VALIDATION",
            "scope": "STRUCTURE",
            "service_codes": [],
            "start_date": "2026-01-01",
            "end_date": None,
            "status": status,
            "version": version,
            "updated_at": datetime.now(UTC).isoformat(),
        },
        source="/services/received-invoices",
    )


async def test_est_valideur_delegue_is_derived_from_the_active_delegations_in_any_order(
    directory: RunningDirectory, bus: BusProbe
):
    siret = new_siret()
    registered = await directory.client.post("/structures", json=company(siret), headers=bearer(f"u-{siret}"))
    assert registered.status_code == 201

    async def delegated_validator() -> bool:
        found = await directory.client.get(f"/structures/{siret}", headers=bearer("reader"))
        return bool(found.json()["parameters"]["delegated_validator"])

    assert not await delegated_validator()
    delegation = str(uuid.uuid4())
    await bus.publish("delegation-updated", delegation_updated(siret, "ACTIVE", 1, delegation))
    await eventually(delegated_validator, what="the delegate is a delegated validator")
    listed = await directory.client.get("/structures", params={"identifier": siret}, headers=bearer("reader"))
    assert listed.json()["items"][0]["parameters"]["delegated_validator"] is True

    await bus.publish("delegation-updated", delegation_updated(siret, "REVOKED", 2, delegation))
    await eventually(lambda: _not(delegated_validator()), what="revoked: no longer")
    # The creation's snapshot delivered again, late: older than the revocation, it changes nothing.
    late = delegation_updated(siret, "ACTIVE", 1, delegation)
    await bus.publish("delegation-updated", late)
    await eventually(lambda: _consumed(directory, late["id"]), what="the late snapshot consumed")
    assert not await delegated_validator()


async def _not(check: Any) -> bool:
    return not await check


async def _consumed(directory: RunningDirectory, event_id: str) -> bool:
    async with directory.app.state.runtime.engine.connect() as conn:
        found = await conn.scalar(sa.select(inbox.c.event_id).where(inbox.c.event_id == event_id))
    return found is not None
