"""The gateway as a PISTE client meets it, with a real PostgreSQL and RabbitMQ: the directory's events
feed its read models, an operator registers an application, the application takes a token and calls
Chorus Pro's API with a technical account."""

from __future__ import annotations

import base64

from chorus_testing.auth import bearer
from chorus_testing.fixtures import BusProbe, eventually
from chorus_testing.identifiers import new_siret

from .conftest import ADMIN, RunningGateway, World, account_event, call, token


async def test_an_application_takes_a_token_with_its_credentials_in_the_body_or_as_basic(
    gateway: RunningGateway, world: World
):
    by_form = await gateway.client.post(
        "/api/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": world.client_id,
            "client_secret": world.client_secret,
        },
    )
    assert by_form.status_code == 200
    issued = by_form.json()
    assert issued["token_type"] == "Bearer" and 0 < issued["expires_in"] < 32_768
    basic = base64.b64encode(f"{world.client_id}:{world.client_secret}".encode()).decode()
    by_basic = await gateway.client.post(
        "/api/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"authorization": f"Basic {basic}"},
    )
    assert by_basic.status_code == 200 and by_basic.json()["access_token"]

    wrong = await gateway.client.post(
        "/api/oauth/token",
        data={"grant_type": "client_credentials", "client_id": world.client_id, "client_secret": "devine"},
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    grant = await gateway.client.post(
        "/api/oauth/token",
        data={"grant_type": "password", "client_id": world.client_id, "client_secret": "x"},
    )
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"


async def test_every_call_needs_a_token_and_a_technical_account_of_the_applications_structure(
    gateway: RunningGateway, world: World
):
    path = "/cpro/transverses/v1/health-check"
    bearer_token = "Bearer " + await token(gateway.client, world)
    healthy = await gateway.client.get(
        path, headers={"authorization": bearer_token, "cpro-account": world.account()}
    )
    assert healthy.status_code == 200 and healthy.json()["statusCodeValue"] == 200

    refusals = {
        "no token": {"cpro-account": world.account()},
        "a forged token": {"authorization": "Bearer abc.def.ghi", "cpro-account": world.account()},
        "no account": {"authorization": bearer_token},
        "a wrong password": {"authorization": bearer_token, "cpro-account": world.account(password="faux")},
        "not base64": {"authorization": bearer_token, "cpro-account": "%%%"},
    }
    for case, headers in refusals.items():
        refused = await gateway.client.get(path, headers=headers)
        assert refused.status_code == 401, case
        assert refused.json()["codeRetour"] in (20005, 20006) and refused.json()["libelle"], case
    # The application's token with the technical account of another structure, whose password is right.
    elsewhere = await gateway.client.get(
        path,
        headers={
            "authorization": bearer_token,
            "cpro-account": world.account(world.other_login, world.other_password),
        },
    )
    assert elsewhere.status_code == 403 and elsewhere.json()["codeRetour"] == 20006


async def test_every_cpro_endpoint_refuses_a_missing_token_and_another_structures_account(
    gateway: RunningGateway, world: World
):
    document = (await gateway.client.get("/openapi.json")).json()
    operations = [
        (method.upper(), path)
        for path, item in document["paths"].items()
        if path.startswith("/cpro/")
        for method in item
    ]
    assert len(operations) >= 32, operations  # every endpoint of the compatibility table
    bearer_token = "Bearer " + await token(gateway.client, world)
    elsewhere = world.account(world.other_login, world.other_password)
    for method, path in operations:
        anonymous = await gateway.client.request(
            method, path, json={}, headers={"cpro-account": world.account()}
        )
        assert anonymous.status_code == 401 and anonymous.json()["codeRetour"] == 20005, (
            path,
            anonymous.text,
        )
        crossed = await gateway.client.request(
            method, path, json={}, headers={"authorization": bearer_token, "cpro-account": elsewhere}
        )
        assert crossed.status_code == 403 and crossed.json()["codeRetour"] == 20006, (path, crossed.text)


async def test_structures_are_searched_and_consulted_as_chorus_pro_shows_them(
    gateway: RunningGateway, world: World
):
    found = await call(
        gateway,
        world,
        "/cpro/structures/v1/rechercher",
        {"structure": {"identifiantStructure": world.ministry["structure_id"]}},
    )
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["codeRetour"], body["libelle"]) == (0, "GCU_MSG_01_000")
    [ministry] = body["listeStructures"]
    assert ministry == {
        "idStructureCPP": world.ministry["cpp_id"],
        "identifiantStructure": world.ministry["structure_id"],
        "typeIdentifiantStructure": "SIRET",
        "designationStructure": "Ministère de la Culture",
        "statut": "ACTIF",
    }
    hidden = await call(
        gateway,
        world,
        "/cpro/structures/v1/rechercher",
        {"structure": {"identifiantStructure": world.other["structure_id"]}},
    )
    assert hidden.json()["listeStructures"] == [], "another company is private"
    mine = await call(
        gateway, world, "/cpro/structures/v1/consulter", {"idStructureCPP": world.company["cpp_id"]}
    )
    assert mine.json()["informationGenerales"]["raisonSocialeStructure"] == "BTP SA"

    consulted = await call(
        gateway, world, "/cpro/structures/v1/consulter", {"idStructure": ministry["idStructureCPP"]}
    )
    assert consulted.status_code == 200
    assert consulted.json()["informationGenerales"]["structurePriveePublique"] == "PUBLIQUE"
    assert consulted.json()["parametres"]["codeServiceDoitEtreRenseigne"] is False

    services = await call(
        gateway, world, "/cpro/structures/v1/rechercher/services", {"idStructure": ministry["idStructureCPP"]}
    )
    [service] = services.json()["listeServices"]
    assert (service["codeService"], service["estActif"]) == ("SERV-ACHATS", True)
    again = await call(
        gateway, world, "/cpro/structures/v1/rechercher/services", {"idStructure": ministry["idStructureCPP"]}
    )
    assert again.json()["listeServices"][0]["idService"] == service["idService"], "a stable integer id"
    detail = await call(
        gateway,
        world,
        "/cpro/structures/v1/consulter/service",
        {"idStructure": ministry["idStructureCPP"], "idService": service["idService"]},
    )
    assert detail.json()["informationsGenerales"]["codeService"] == "SERV-ACHATS"

    unknown = await call(gateway, world, "/cpro/structures/v1/consulter", {"idStructureCPP": 1})
    assert unknown.status_code == 400 and unknown.json()["codeRetour"] == 20002
    private = await call(
        gateway, world, "/cpro/structures/v1/consulter", {"idStructureCPP": world.other["cpp_id"]}
    )
    assert private.json()["codeRetour"] == 20002, "a private structure of others is not shown"
    malformed = await call(
        gateway, world, "/cpro/structures/v1/rechercher/services", {"idStructure": "douze"}
    )
    assert malformed.status_code == 400 and malformed.json()["codeRetour"] == 20001
    assert "idStructure" in malformed.json()["libelle"]


async def test_referentials_come_from_their_sources(gateway: RunningGateway, world: World):
    currencies = await call(gateway, world, "/cpro/transverses/v1/recuperer/devises", {"codeLangue": "FR"})
    listed = {c["codeDevise"]: c["libelleDevise"] for c in currencies.json()["listeDevises"]}
    assert listed["EUR"] == "Euro" and listed["XPF"] and len(listed) > 100
    works = await call(
        gateway,
        world,
        "/cpro/transverses/v1/recuperer/cadrefacturation",
        {"typeDemandePaiement": "FACTURE_TRAVAUX"},
    )
    codes = [f["codeCadreFacturation"] for f in works.json()["listeCadreFacturation"]]
    assert "A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR" in codes and "A1_FACTURE_FOURNISSEUR" not in codes


async def test_a_deactivated_technical_account_or_application_opens_nothing(
    gateway: RunningGateway, world: World, bus: BusProbe
):
    path = "/cpro/transverses/v1/health-check"
    first = await gateway.client.get(
        path,
        headers={
            "authorization": "Bearer " + await token(gateway.client, world),
            "cpro-account": world.account(),
        },
    )
    assert first.status_code == 200
    await bus.publish(
        "technical-account-updated",
        account_event(world.company["structure_id"], world.login, world.password, version=2, active=False),
        as_="directory",
    )
    bearer_token = "Bearer " + await token(gateway.client, world)

    async def refused() -> bool:
        answer = await gateway.client.get(
            path, headers={"authorization": bearer_token, "cpro-account": world.account()}
        )
        return answer.status_code == 401

    await eventually(refused, within=15)
    gone = await gateway.client.delete(f"/admin/clients/{world.client_id}", headers=ADMIN)
    assert gone.status_code == 200 and gone.json()["active"] is False
    no_token = await gateway.client.post(
        "/api/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": world.client_id,
            "client_secret": world.client_secret,
        },
    )
    assert no_token.status_code == 401
    assert (await gateway.client.get("/admin/clients", headers=bearer("someone"))).status_code == 403
    unknown = await gateway.client.post(
        "/admin/clients", json={"name": "ERP", "structure_id": new_siret()}, headers=ADMIN
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "structure_id"
