"""Chorus Pro's API on the launched platform, through a real client: `chorus-api` from PyPI, unchanged,
its two URLs pointed at the gateway. A structure registered at the directory, its technical account and
an application registered with the gateway's command are all it needs."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import uuid
import zipfile
from datetime import date, timedelta

import httpx
from chorusapi.client import ChorusAPI

from chorus_testing.directory import attached, registered, row_exists
from chorus_testing.fixtures import eventually
from chorus_testing.invoice_files import Invoice, cii, facturx_pdf, ubl
from chorus_testing.platform import Platform, admin


async def erp_of(platform: Platform, http: httpx.AsyncClient, structure: str) -> ChorusAPI:
    """`chorus-api` connected to the gateway as the ERP of `structure`: a technical account created at
    the directory, an application registered with the gateway's command."""
    created = await http.post(
        platform.url("directory") + f"/structures/{structure}/technical-accounts", headers=admin()
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
        platform.run_command("piste-gateway", "clients", "create", "--name", "ERP", "--structure", structure)
    )
    api = ChorusAPI(
        registration["client_id"],
        registration["client_secret"],
        tech_username=account["login"],
        tech_password=account["password"],
    )
    api.auth_url = platform.url("piste-gateway") + "/api/oauth/token"
    api.api_url = platform.url("piste-gateway")
    return api


async def connected(platform: Platform, http: httpx.AsyncClient) -> tuple[ChorusAPI, str, str]:
    """A ministry with a service ACHATS, a company, and `chorus-api` connected to the gateway as the
    company's ERP: the client, the ministry's and the company's identifiers."""
    ministry = await registered(
        http, platform, admin(), ["piste-gateway"], name="Ministère des Armées", services=["ACHATS"]
    )
    company = await registered(http, platform, admin(), ["piste-gateway"], kind="PRIVEE", name="BTP SA")
    return await erp_of(platform, http, company), ministry, company


async def cpro(api: ChorusAPI, path: str, body: dict) -> dict:
    """An endpoint chorus-api does not wrap, called with its token and its headers."""

    def post() -> dict:
        api.auth()
        answer = httpx.post(api.api_url + path, json=body, headers=api._make_headers(), timeout=30)
        assert answer.status_code == 200, answer.text
        found: dict = answer.json()
        assert found["codeRetour"] == 0, found
        return found

    return await asyncio.to_thread(post)


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

    for deposited, (_, _, content) in zip(deposits[:2], files, strict=False):
        await state(deposited.numero_flux_depot, "IN_INTEGRE")
        # received-invoices has the invoice, and the file deposited as its main document.
        assert await row_exists(
            platform,
            "received-invoices",
            "SELECT 1 FROM received_invoices i JOIN attachment_contents c ON c.id = i.main_attachment_id"
            " WHERE i.external_id = $1 AND i.supplier_structure_id = $2 AND c.data = $3",
            deposited.numero_flux_depot,
            company,
            content,
        )
    refused = await state(deposits[2].numero_flux_depot, "IN_REJETE")
    [error] = refused.liste_erreur_dp  # type: ignore[attr-defined]
    assert error.numero_dp == invoice.number + "-X" and "NOWHERE" in error.libelle_erreur_dP

    # The supplier finds its flow's invoice as chorus-api searches it (rechercher/fournisseur).
    async def searched() -> list | None:
        found = await asyncio.to_thread(api.rechercher_facture, deposits[0].numero_flux_depot)
        routed = [f for f in found.liste_factures if f.statut == "MISE_A_DISPOSITION"]
        return routed or None

    [found] = await eventually(searched, within=30, what="the flow's invoice in the gateway's searches")
    assert (found.numero_facture, found.mode_depot, found.devise) == (invoice.number, "FLUX", "EUR")
    assert found.montant_ttc == float(invoice.totals()["grand_total"]) and found.code_destinataire == ministry
    assert found.numero_flux_depot == deposits[0].numero_flux_depot
    summary = await asyncio.to_thread(api.consulter_cr, deposits[0].numero_flux_depot)
    assert summary.etat_courant_flux == "IN_INTEGRE" and summary.nom_fichier_flux == "facture.pdf"
    assert base64.b64decode(summary.fichier_cr).startswith(b"%PDF-")


async def test_the_delegate_validates_the_ministry_pays_and_the_supplier_processes_a_rejection(
    platform: Platform, http: httpx.AsyncClient
):
    readers = ["piste-gateway", "received-invoices"]
    ministry = await registered(
        http, platform, admin(), readers, name="Ministère de la Culture", services=["ACHATS", "DAF"]
    )
    delegate = await registered(http, platform, admin(), readers, kind="PRIVEE", name="Cabinet Valide")
    supplier = await registered(http, platform, admin(), readers, kind="PRIVEE", name="Fournitures SA")
    manager = await attached(http, platform, admin(), ministry, f"user-{ministry}", readers)
    delegation = await http.post(
        platform.url("received-invoices") + "/delegations",
        json={
            "delegator_structure_id": ministry,
            "delegate_structure_id": delegate,
            "right": "VALIDATION",
            "scope": "SERVICES",
            "service_codes": ["ACHATS"],
            "start_date": date.today().isoformat(),
        },
        headers=manager,
    )
    assert delegation.status_code == 201, delegation.text
    erp = {
        name: await erp_of(platform, http, s)
        for name, s in (("ministry", ministry), ("delegate", delegate), ("supplier", supplier))
    }

    base = Invoice(
        number=f"F-{uuid.uuid4().hex[:8]}",
        seller_id=supplier,
        buyer_id=ministry,
        seller_name="Fournitures SA",
        buyer_name="Ministère de la Culture",
        service_code="ACHATS",
        issue_date=date.today() - timedelta(days=1),
    )
    to_validate, to_reject = base, base.but(number=base.number + "-R", service_code="DAF")

    pdf = facturx_pdf(to_validate)

    def deposit_both() -> list:
        api = erp["supplier"].auth()
        return [
            api.deposer_flux(base64.b64encode(pdf).decode(), "a.pdf"),
            api.deposer_flux(
                base64.b64encode(cii(to_reject)).decode(), "b.xml", syntaxe_flux="IN_DP_E1_CII_16B"
            ),
        ]

    for deposited in await asyncio.to_thread(deposit_both):
        assert deposited.code_retour == 0

    async def listed(api: ChorusAPI, path: str, body: dict, status: str) -> dict:
        async def found() -> dict | None:
            answer = await cpro(api, path, body)
            invoices = [i for i in answer["listeFactures"] if i["statut"] == status]
            return invoices[0] if invoices else None

        found_one: dict = await eventually(found, within=30, what=f"an invoice {status} at {path}")
        return found_one

    # The delegate finds the invoice to validate, and validates it.
    waiting = await listed(
        erp["delegate"],
        "/cpro/factures/v1/rechercher/valideur",
        {"numeroFacture": to_validate.number},
        "A_VALIDER_1",
    )
    assert waiting["codeFournisseur"] == supplier and waiting["identifiantValideur"] == delegate
    validated = await cpro(
        erp["delegate"],
        "/cpro/factures/v1/traiter/factureAValider",
        {"idFacture": waiting["idFacture"], "action": "VALIDATION"},
    )
    assert validated["numeroFacture"] == to_validate.number
    # The ministry then takes it to payment, step by step, as received-invoices allows.
    received = await listed(
        erp["ministry"],
        "/cpro/factures/v1/rechercher/recipiendaire",
        {"numeroFacture": to_validate.number},
        "MISE_A_DISPOSITION",
    )
    status = "MISE_A_DISPOSITION"
    for step in (
        {"nouveauStatut": "SERVICE_FAIT"},
        {"nouveauStatut": "MANDATEE", "numeroDPMandat": "DP-2026-0042"},
        {"nouveauStatut": "MISE_EN_PAIEMENT"},
    ):
        possible = await cpro(
            erp["ministry"], "/cpro/transverses/v1/recuperer/etats/traitement", {"statutCourant": status}
        )
        allowed = [p["statutPossiblePourTraitement"] for p in possible["listeStatutsPossiblesPourTraitement"]]
        assert step["nouveauStatut"] in allowed, (status, allowed)
        done = await cpro(
            erp["ministry"], "/cpro/factures/v1/traiter/recue", {"idFacture": received["idFacture"], **step}
        )
        assert done["nouveauStatut"] == step["nouveauStatut"]
        status = done["nouveauStatut"]
    final = await cpro(
        erp["ministry"], "/cpro/transverses/v1/recuperer/etats/traitement", {"statutCourant": status}
    )
    assert final["listeStatutsPossiblesPourTraitement"] == [], "MISE_EN_PAIEMENT ends the lifecycle"

    # The ministry downloads the file the supplier deposited.
    bundle = await cpro(
        erp["ministry"],
        "/cpro/factures/v1/telecharger/groupe",
        {"listeFacture": [{"idFacture": received["idFacture"]}]},
    )
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(bundle["fichierResultat"]))) as archive:
        assert [archive.read(name) for name in archive.namelist()] == [pdf]

    # What is not allowed now is refused with the owning service's reason, as codeRetour 20003.
    def again() -> httpx.Response:
        api = erp["ministry"].auth()
        return httpx.post(
            api.api_url + "/cpro/factures/v1/traiter/recue",
            json={"idFacture": received["idFacture"], "nouveauStatut": "SERVICE_FAIT"},
            headers=api._make_headers(),
            timeout=30,
        )

    refused = await asyncio.to_thread(again)
    assert refused.status_code == 400 and refused.json()["codeRetour"] == 20003, refused.text

    async def paid() -> list[str] | None:
        history = await cpro(
            erp["supplier"], "/cpro/factures/v1/consulter/historique", {"idFacture": received["idFacture"]}
        )
        codes = [entry["histoStatutCode"] for entry in history["historiquesDesStatuts"]["histoStatut"]]
        return codes if codes[-1] == "MISE_EN_PAIEMENT" else None

    codes = await eventually(paid, within=30, what="the payment in the supplier's history")
    assert codes[-3:] == ["SERVICE_FAIT", "MANDATEE", "MISE_EN_PAIEMENT"]

    # The other invoice the ministry rejects; the supplier processes the rejection, with an id it
    # does not own beside it.
    other = await listed(
        erp["ministry"],
        "/cpro/factures/v1/rechercher/recipiendaire",
        {"numeroFacture": to_reject.number},
        "MISE_A_DISPOSITION",
    )
    await cpro(
        erp["ministry"],
        "/cpro/factures/v1/traiter/recue",
        {"idFacture": other["idFacture"], "nouveauStatut": "REJETEE", "motif": "Bon de commande absent"},
    )
    rejected = await listed(
        erp["supplier"],
        "/cpro/factures/v1/rechercher/fournisseur",
        {"numeroFacture": to_reject.number},
        "REJETEE",
    )
    assert rejected["commentaireEtatCourant"] == "Bon de commande absent"
    processed = await cpro(
        erp["supplier"],
        "/cpro/factures/v1/traiterRejet",
        {
            "listeDemandePaiement": [
                {"idDemandePaiement": rejected["identifiantFactureCPP"]},
                {"idDemandePaiement": received["idFacture"] + 10**9},
            ]
        },
    )
    assert processed["nombreTraites"] == 1
    assert [r["resultat"] for r in processed["listeResultats"]] == ["PROCESSED", "NOT_FOUND"]


async def test_chorus_api_checks_an_order_number_and_reads_the_referentials_through_the_gateway(
    platform: Platform, http: httpx.AsyncClient
):
    ministry = await registered(
        http,
        platform,
        admin(),
        ["piste-gateway", "engagements"],
        name="Ministère de la Mer",
        services=["ACHATS"],
    )
    company = await registered(http, platform, admin(), ["piste-gateway"], kind="PRIVEE", name="Chantiers SA")
    api = await erp_of(platform, http, company)
    buyer = await attached(http, platform, admin(), ministry, f"buyer-{ministry}", ["engagements"])
    number = f"EJ-{uuid.uuid4().hex[:8]}"
    created = await http.post(
        platform.url("engagements") + "/engagements",
        json={
            "number": number,
            "type": "BON_DE_COMMANDE",
            "issuer": {
                "structure_id": ministry,
                "name": "Ministère de la Mer",
                "email": "achats@mer.gouv.fr",
                "kind": "ETAT",
            },
            "supplier": {"structure_id": company, "name": "Chantiers SA", "email": "contact@chantiers.fr"},
            "lines": [
                {"description": "Coque", "quantity": "2", "unit_price_ht": "1500.25", "vat_rate": "20"}
            ],
        },
        headers=buyer,
    )
    assert created.status_code == 201, created.text
    # As OCA's l10n_fr_chorus_account asks before invoicing against an order number.
    question = {
        "structureReceptriceEngagementJuridique": ministry,
        "numeroEngagementJuridique": number,
        "etatCourantEngagementJuridique": "COMMANDE",
    }
    draft = await cpro(api, "/cpro/engagementsJuridiques/v1/rechercher", question)
    assert draft["listeEngagementJuridique"] == [], "a draft is not the supplier's to see"
    validated = await http.post(
        platform.url("engagements") + f"/engagements/{created.json()['id']}/actions",
        json={"action": "VALIDATION"},
        headers=buyer,
    )
    assert validated.json()["status"] == "COMMANDE"

    async def ordered() -> list | None:
        found = await cpro(api, "/cpro/engagementsJuridiques/v1/rechercher", question)
        return found["listeEngagementJuridique"] or None

    [engagement] = await eventually(ordered, within=30, what="the validated engagement at the gateway")
    assert engagement["montantHT"] == 3000.5 and engagement["montantTTC"] == 3600.6
    assert engagement["designationStructureFournisseur"] == "Chantiers SA"

    def referentials() -> tuple:
        api.auth()
        return api.information_siret(ministry), api.annuaire_destinataire()

    siret, directory = await asyncio.to_thread(referentials)
    assert siret.code_retour == 0 and siret.raison_sociale == "Ministère de la Mer"
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(directory.fichier_resultat))) as archive:
        listing = archive.read("annuaire_destinataires.csv").decode()
    assert f"{ministry};SIRET;" in listing and ";ACHATS;" in listing and company not in listing

    # The support categories are support-portal's own.
    offered = (await http.get(platform.url("support-portal") + "/public/categories")).json()
    categories = await cpro(api, "/cpro/transverses/v1/rechercher/categorieSollicitation", {})
    assert [c["codeCategorie"] for c in categories["listeCategories"]] == [c["code"] for c in offered]
    first = categories["listeCategories"][0]
    subcategories = await cpro(
        api,
        "/cpro/transverses/v1/rechercher/sousCategorieSollicitation",
        {"idTechniqueCategorie": first["idTechniqueCategorie"]},
    )
    [of_first] = subcategories["listeSousCategories"]
    assert of_first["categorie"] == [first]
    assert [s["code"] for s in of_first["ssCategorie"]] == [s["code"] for s in offered[0]["subcategories"]]
