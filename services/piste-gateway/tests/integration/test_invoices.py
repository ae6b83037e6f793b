"""factures/v1's searches and consultations, from the read model received-invoices' status events feed
(played here on the bus as received-invoices publishes them), each seen only by the invoice's parties."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from chorus_testing.events import cloud_event
from chorus_testing.fixtures import BusProbe, eventually
from chorus_testing.identifiers import new_siret

from .conftest import RunningGateway, World, call

DEPOSITED = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # 1 December in Paris


def status_event(
    invoice_id: str, number: str, supplier: str, recipient: str, sequence: int, to_status: str, **more: Any
) -> dict[str, Any]:
    data = {
        "invoice_id": invoice_id,
        "number": number,
        "billing_frame": "A1",
        "billing_frame_code": "A1_FACTURE_FOURNISSEUR",
        "from_status": None if sequence == 1 else "DEPOSEE",
        "to_status": to_status,
        "step": "DEPOT" if sequence == 1 else "ACHEMINEMENT",
        "capacity": "FOURNISSEUR" if sequence == 1 else "PLATEFORME",
        "sequence": sequence,
        "changed_at": (DEPOSITED + timedelta(minutes=sequence)).isoformat(),
        "external_id": f"EXT-{number}",
        "supplier_structure_id": supplier,
        "recipient_structure_id": recipient,
        "recipient_service_code": "SERV-ACHATS",
        "amount_ht": "1000.10",
        "vat_amount": "200.02",
        "amount_ttc": "1200.12",
        "currency": "EUR",
        "issue_date": "2026-11-28",
        "engagement_number": "EJ-9",
        **more,
    }
    return cloud_event("invoice-status-changed", data, source="/services/received-invoices")


async def test_an_invoice_is_found_and_consulted_by_its_supplier_as_chorus_pro_shows_it(
    gateway: RunningGateway, world: World, bus: BusProbe
):
    invoice_id, number = str(uuid.uuid4()), f"F-{uuid.uuid4().hex[:6]}"
    supplier, recipient = world.company["structure_id"], world.ministry["structure_id"]
    # The later transition first: the read model keeps the latest whatever the order.
    await bus.publish_many(
        [
            (
                "invoice-status-changed",
                status_event(invoice_id, number, supplier, recipient, 2, "MISE_A_DISPOSITION"),
            ),
            ("invoice-status-changed", status_event(invoice_id, number, supplier, recipient, 1, "DEPOSEE")),
            # Another supplier's invoice to the same ministry, which the company does not see.
            (
                "invoice-status-changed",
                status_event(str(uuid.uuid4()), number, new_siret(), recipient, 1, "DEPOSEE"),
            ),
        ]
    )

    async def found() -> list[dict[str, Any]] | None:
        answer = await call(
            gateway, world, "/cpro/factures/v1/rechercher/fournisseur", {"numeroFacture": number}
        )
        invoices = answer.json()["listeFactures"]
        return invoices if invoices and invoices[0]["dateDepot"] else None

    [invoice] = await eventually(found, within=15, what="the invoice in the gateway's read model")
    assert invoice["statut"] == "MISE_A_DISPOSITION" and invoice["identifiantFactureCPP"] > 0
    assert (invoice["montantHT"], invoice["montantTTC"], invoice["montantAPayer"]) == (
        1000.1,
        1200.12,
        1200.12,
    )
    assert (invoice["dateFacture"], invoice["dateDepot"]) == ("2026-11-28", "2026-12-01")
    assert invoice["designationDestinataire"] == "Ministère de la Culture"
    assert (
        invoice["idDestinataire"] == world.ministry["cpp_id"]
        and invoice["codeServiceExecutant"] == "SERV-ACHATS"
    )
    assert invoice["cadreFacturation"] == "A1_FACTURE_FOURNISSEUR" and invoice["numeroFluxDepot"] is None

    criteria = [
        ({"statutCourant": ["MISE_A_DISPOSITION"]}, 1),
        ({"statutCourant": ["REJETEE"], "numeroFacture": number}, 0),
        ({"listeDestinataire": [{"idDestinataire": world.ministry["cpp_id"]}], "numeroFacture": number}, 1),
        (
            {"periodeDateDepotDu": "2026-12-01", "periodeDateDepotAu": "2026-12-01", "numeroFacture": number},
            1,
        ),
        ({"periodeDateDepotAu": "2026-11-30", "numeroFacture": number}, 0),
        (
            {
                "cadreFacturation": {"codeCadreFacturation": "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE"},
                "numeroFacture": number,
            },
            0,
        ),
    ]
    for body, count in criteria:
        answer = await call(gateway, world, "/cpro/factures/v1/rechercher/fournisseur", body)
        assert answer.status_code == 200, answer.text
        listed = [i for i in answer.json()["listeFactures"] if i["numeroFacture"] == number]
        assert len(listed) == count, (body, listed)
    bad_frame = await call(
        gateway, world, "/cpro/factures/v1/rechercher/fournisseur", {"cadreFacturation": "A0"}
    )
    assert bad_frame.status_code == 400 and bad_frame.json()["codeRetour"] == 20001

    cpp_id = invoice["identifiantFactureCPP"]
    consulted = await call(
        gateway, world, "/cpro/factures/v1/consulter/fournisseur", {"identifiantFactureCPP": cpp_id}
    )
    facture = consulted.json()["facture"]
    assert (
        facture["statutFacture"] == "MISE_A_DISPOSITION" and facture["montantTotal"]["montantTVA"] == 200.02
    )
    assert (
        facture["destinataire"]["codeDestinataire"] == recipient
        and facture["references"]["numeroBonCommande"] == "EJ-9"
    )
    history = await call(gateway, world, "/cpro/factures/v1/consulter/historique", {"idFacture": cpp_id})
    statuses = history.json()["historiquesDesStatuts"]["histoStatut"]
    assert [s["histoStatutCode"] for s in statuses] == ["DEPOSEE", "MISE_A_DISPOSITION"]
    assert history.json()["derniereAction"]["derniereActionCode"] == "ACHEMINEMENT"

    # As recipient or validator the company has no invoice; the consultation says it does not exist.
    as_recipient = await call(
        gateway, world, "/cpro/factures/v1/rechercher/recipiendaire", {"numeroFacture": number}
    )
    assert as_recipient.json()["listeFactures"] == [] and as_recipient.json()["total"] == 0
    for path in ("/cpro/factures/v1/consulter/recipiendaire", "/cpro/factures/v1/consulter/valideur"):
        refused = await call(gateway, world, path, {"identifiantFactureCPP": cpp_id})
        assert refused.status_code == 400 and refused.json()["codeRetour"] == 20002
    unknown = await call(gateway, world, "/cpro/factures/v1/consulter/historique", {"idFacture": 2**62})
    assert unknown.json()["codeRetour"] == 20002


async def test_works_invoices_are_searched_by_supplier_moe_or_moa(
    gateway: RunningGateway, world: World, bus: BusProbe
):
    works_id, number = str(uuid.uuid4()), f"PDM-{uuid.uuid4().hex[:6]}"
    data = {
        "invoice_id": works_id,
        "number": number,
        "billing_frame": "A4",
        "billing_frame_code": "A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR",
        "from_status": None,
        "to_status": "DEPOSEE",
        "step": "DEPOT",
        "capacity": "FOURNISSEUR",
        "sequence": 1,
        "changed_at": DEPOSITED.isoformat(),
        "supplier_structure_id": world.company["structure_id"],
        "moe_structure_id": world.other["structure_id"],
        "moa_structure_id": world.ministry["structure_id"],
        "amount_ht": "5000.00",
        "vat_amount": "1000.00",
        "amount_ttc": "6000.00",
        "currency": "EUR",
    }
    event = cloud_event("works-invoice-status-changed", data, source="/services/invoicing-works")
    await bus.publish("works-invoice-status-changed", event)
    path = "/cpro/facturesTravaux/v1/rechercher"

    async def found() -> list[dict[str, Any]]:
        answer = await call(gateway, world, path, {"numeroFactureTravaux": number})
        listed: list[dict[str, Any]] = answer.json()["listeFacturesTravaux"]
        return listed

    [works] = await eventually(found, within=15, what="the works invoice in the read model")
    assert (works["cadreFacturation"], works["statut"], works["dateDepot"]) == (
        "A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR",
        "DEPOSEE",
        "2026-12-01",
    )
    assert (works["montantHT"], works["montantTTC"], works["codeMOA"]) == (
        5000.0,
        6000.0,
        world.ministry["structure_id"],
    )
    assert (
        works["designationMOA"] == "Ministère de la Culture"
        and works["codeMOE"] == world.other["structure_id"]
    )
    as_moe = await call(gateway, world, path, {"roleUtilisateur": "MOE", "numeroFactureTravaux": number})
    assert as_moe.json()["listeFacturesTravaux"] == [], "the company is the supplier, not the MOE"
    # Its integer is no received invoice's: consulting it as one finds nothing.
    consult = await call(
        gateway,
        world,
        "/cpro/factures/v1/consulter/fournisseur",
        {"identifiantFactureCPP": works["idFactureTravaux"]},
    )
    assert consult.json()["codeRetour"] == 20002
