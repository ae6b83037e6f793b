"""Chorus Pro's API on the launched platform, through a real client: `chorus-api` from PyPI, unchanged,
its two URLs pointed at the gateway. A structure registered at the directory, its technical account and
an application registered with the gateway's command are all it needs."""

from __future__ import annotations

import asyncio
import json

import httpx
from chorusapi.client import ChorusAPI

from chorus_testing.directory import registered, row_exists
from chorus_testing.fixtures import eventually
from chorus_testing.platform import Platform, admin


async def test_chorus_api_takes_a_token_and_reads_the_directory_through_the_gateway(
    platform: Platform, http: httpx.AsyncClient
):
    ministry = await registered(
        http, platform, admin(), ["piste-gateway"], name="Ministère des Armées", services=["ACHATS"]
    )
    company = await registered(http, platform, admin(), ["piste-gateway"], kind="PRIVEE", name="BTP SA")
    created = await http.post(
        platform.url("directory") + f"/structures/{company}/technical-accounts", headers=admin()
    )
    assert created.status_code == 201, created.text
    account = created.json()
    await eventually(
        lambda: row_exists(
            platform,
            "piste-gateway",
            "SELECT 1 FROM technical_accounts WHERE login = $1 AND active",
            account["login"],
        ),
        within=30,
        what="the technical account in the gateway",
    )
    registration = json.loads(
        platform.run_command("piste-gateway", "clients", "create", "--name", "ERP", "--structure", company)
    )

    api = ChorusAPI(
        registration["client_id"],
        registration["client_secret"],
        tech_username=account["login"],
        tech_password=account["password"],
    )
    api.auth_url = platform.url("piste-gateway") + "/api/oauth/token"
    api.api_url = platform.url("piste-gateway")

    def session() -> tuple:
        api.auth()
        return (
            api.health_check(),
            api.rechercher_structure(ministry),
            api.devises(),
        )

    health, found, currencies = await asyncio.to_thread(session)
    assert health.status_code_value == 200
    assert found.code_retour == 0 and found.libelle == "GCU_MSG_01_000"
    [structure] = found.liste_structures
    assert (
        structure.identifiant_structure == ministry
        and structure.designation_structure == "Ministère des Armées"
    )
    assert "EUR" in {c.code_devise for c in currencies.liste_devises}

    def details() -> tuple:
        return (
            api.consulter_structure(structure.id_structure_cpp),
            api.rechercher_services(structure.id_structure_cpp),
        )

    consulted, services = await asyncio.to_thread(details)
    assert consulted.information_generales.structure_privee_publique == "PUBLIQUE"
    assert [s.code_service for s in services.liste_structures] == ["ACHATS"]
