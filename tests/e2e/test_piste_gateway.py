"""Chorus Pro's API on the launched platform, through a real client: `chorus-api` from PyPI, unchanged,
its two URLs pointed at the gateway. A structure registered at the directory, its technical account and
an application registered with the gateway's command are all it needs."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import date, timedelta

import httpx
from chorusapi.client import ChorusAPI

from chorus_testing.directory import registered, row_exists
from chorus_testing.fixtures import eventually
from chorus_testing.invoice_files import Invoice, cii, facturx_pdf, ubl
from chorus_testing.platform import Platform, admin


async def connected(platform: Platform, http: httpx.AsyncClient) -> tuple[ChorusAPI, str, str]:
    """A ministry with a service ACHATS, a company with a technical account, and `chorus-api` connected
    to the gateway as the company's ERP: the client, the ministry's and the company's identifiers."""
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
    return api, ministry, company


async def test_chorus_api_takes_a_token_and_reads_the_directory_through_the_gateway(
    platform: Platform, http: httpx.AsyncClient
):
    api, ministry, _ = await connected(platform, http)

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


async def test_chorus_api_deposits_factur_x_and_cii_flows_that_become_received_invoices(
    platform: Platform, http: httpx.AsyncClient
):
    api, ministry, company = await connected(platform, http)
    invoice = Invoice(
        number=f"F-{uuid.uuid4().hex[:8]}",
        seller_id=company,
        buyer_id=ministry,
        seller_name="BTP SA",
        buyer_name="Ministère des Armées",
        service_code="ACHATS",
        issue_date=date.today() - timedelta(days=1),
    )
    files = [
        ("IN_DP_E2_CII_FACTURX", "facture.pdf", facturx_pdf(invoice)),
        ("IN_DP_E1_CII_16B", "facture.xml", cii(invoice.but(number=invoice.number + "-CII"))),
        # An invoice to a structure the directory does not know: received-invoices refuses it.
        (
            "IN_DP_E1_UBL_INVOICE",
            "inconnu.xml",
            ubl(invoice.but(number=invoice.number + "-X", buyer_id="NOWHERE")),
        ),
    ]

    def deposit_all() -> list:
        api.auth()
        return [
            api.deposer_flux(base64.b64encode(content).decode(), name, syntaxe_flux=syntax)
            for syntax, name, content in files
        ]

    deposits = await asyncio.to_thread(deposit_all)
    for deposited in deposits:
        assert deposited.code_retour == 0 and deposited.numero_flux_depot.startswith("CPP"), vars(deposited)

    async def state(numero: str, *wanted: str) -> object:
        async def reached() -> object:
            report = await asyncio.to_thread(api.consulter_cr_detaille, numero)
            return report if report.etat_courant_depot_flux in wanted else None

        return await eventually(reached, within=30, what=f"flow {numero} in {wanted}")

    for deposited in deposits[:2]:
        await state(deposited.numero_flux_depot, "IN_INTEGRE")
        assert await row_exists(
            platform,
            "received-invoices",
            "SELECT 1 FROM received_invoices WHERE external_id = $1 AND supplier_structure_id = $2",
            deposited.numero_flux_depot,
            company,
        )
    refused = await state(deposits[2].numero_flux_depot, "IN_REJETE")
    [error] = refused.liste_erreur_dp  # type: ignore[attr-defined]
    assert error.numero_dp == invoice.number + "-X" and "NOWHERE" in error.libelle_erreur_dP
    summary = await asyncio.to_thread(api.consulter_cr, deposits[0].numero_flux_depot)
    assert summary.etat_courant_flux == "IN_INTEGRE" and summary.nom_fichier_flux == "facture.pdf"
    assert base64.b64decode(summary.fichier_cr).startswith(b"%PDF-")
