"""Flows deposited through `deposer/flux`, with a real PostgreSQL and RabbitMQ: the gateway keeps the
file, reads it, publishes its invoice as `invoice-submitted`, and ends the flow on received-invoices'
answer (played here on the bus as received-invoices would); what it cannot take is rejected, with
each reason in `consulterCRDetaille`."""

from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chorus_common.clock import PARIS
from chorus_testing.events import cloud_event
from chorus_testing.fixtures import BusProbe, eventually, take_where
from chorus_testing.identifiers import new_siret
from chorus_testing.invoice_files import Invoice, Line, cii, facturx_pdf, ubl

from .conftest import ADMIN, RunningGateway, World, call

DEPOSIT = "/cpro/factures/v1/deposer/flux"


def invoice_of(world: World, **changes: Any) -> Invoice:
    invoice = Invoice(
        number=f"F-{uuid.uuid4().hex[:8]}",
        seller_id=world.company["structure_id"],
        seller_name="BTP SA",
        buyer_id=world.ministry["structure_id"],
        buyer_name="Ministère de la Culture",
        service_code="SERV-ACHATS",
        engagement="EJ-2026-1",
        lines=(
            Line("Étude", Decimal(3), Decimal("250.50")),
            Line("Livre", Decimal(2), Decimal(20), Decimal("5.5")),
        ),
    )
    return invoice.but(**changes)


async def deposit(gateway: RunningGateway, world: World, content: bytes | str, syntax: str) -> dict[str, Any]:
    encoded = content if isinstance(content, str) else base64.b64encode(content).decode()
    answer = await call(
        gateway,
        world,
        DEPOSIT,
        {
            "fichierFlux": encoded,
            "nomFichier": "facture.pdf",
            "syntaxeFlux": syntax,
            "idUtilisateurCourant": 0,
        },
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["codeRetour"] == 0 and body["numeroFluxDepot"].startswith("CPP")
    return body


async def report(
    gateway: RunningGateway, world: World, numero: str, detailed: bool = False
) -> dict[str, Any]:
    path = "/cpro/transverses/v1/consulterCRDetaille" if detailed else "/cpro/transverses/v1/consulterCR"
    answer = await call(gateway, world, path, {"numeroFluxDepot": numero})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def ended(gateway: RunningGateway, world: World, numero: str, *states: str) -> dict[str, Any]:
    async def state() -> dict[str, Any] | None:
        found = await report(gateway, world, numero, detailed=True)
        return found if found["etatCourantDepotFlux"] in states else None

    found: dict[str, Any] = await eventually(state, within=15, what=f"flow {numero} in {states}")
    return found


async def test_a_factur_x_flow_is_read_published_and_integrated_on_received_invoices_answer(
    gateway: RunningGateway, world: World, bus: BusProbe
):
    submitted = await bus.tap("invoice-submitted")
    invoice = invoice_of(world)
    pdf = facturx_pdf(invoice)
    answer = await deposit(gateway, world, pdf, "IN_DP_E2_CII_FACTURX")
    numero = answer["numeroFluxDepot"]
    assert answer["dateDepot"] == datetime.now(PARIS).date().isoformat()
    assert answer["syntaxeFlux"] == "IN_DP_E2_CII_FACTURX"

    message = await take_where(submitted, lambda data: data["external_id"] == numero)
    event = json.loads(message.body)
    assert event["source"] == "/services/piste-gateway"
    data = event["data"]
    assert data["number"] == invoice.number and data["billing_frame"] == "A1"
    assert data["supplier"]["structure_id"] == world.company["structure_id"]
    assert data["recipient"] == {
        "structure_id": world.ministry["structure_id"],
        "name": "Ministère de la Culture",
        "email": None,
        "service_code": "SERV-ACHATS",
    }
    # 3 x 250.50 at 20 % and 2 x 20 at 5.5 %: amounts travel as strings, exactly.
    assert (data["amount_ht"], data["vat_amount"], data["amount_ttc"]) == ("791.50", "152.50", "944.00")
    assert (data["currency"], data["engagement_number"], data["issue_date"]) == (
        "EUR",
        "EJ-2026-1",
        "2026-11-02",
    )
    # The file itself travels with it, to be the invoice's main document.
    assert data["main_document"]["filename"] == "facture.pdf"
    assert base64.b64decode(data["main_document"]["content"]) == pdf
    waiting = await report(gateway, world, numero)
    assert waiting["etatCourantFlux"] == "IN_EN_COURS_TRAITEMENT_CPP"

    invoice_id = str(uuid.uuid4())
    changed = {
        "invoice_id": invoice_id,
        "number": invoice.number,
        "billing_frame": "A1",
        "billing_frame_code": "A1_FACTURE_FOURNISSEUR",
        "from_status": None,
        "to_status": "DEPOSEE",
        "step": "DEPOT",
        "capacity": "FOURNISSEUR",
        "sequence": 1,
        "changed_at": datetime.now(UTC).isoformat(),
        "external_id": numero,
        "supplier_structure_id": world.company["structure_id"],
        "recipient_structure_id": world.ministry["structure_id"],
    }
    await bus.publish(
        "invoice-status-changed",
        cloud_event("invoice-status-changed", changed, source="/services/received-invoices"),
    )
    done = await ended(gateway, world, numero, "IN_INTEGRE")
    assert done["listeErreurDP"] == [] and done["nomFichier"] == "facture.pdf"
    summary = await report(gateway, world, numero)
    assert (
        summary["etatCourantFlux"] == "IN_INTEGRE" and summary["codeInterfaceFlux"] == "IN_DP_E2_CII_FACTURX"
    )
    assert datetime.fromisoformat(summary["dateDepotFlux"]) <= datetime.fromisoformat(
        summary["dateHeureEtatCourantFlux"]
    )
    assert base64.b64decode(summary["fichierCR"]).startswith(b"%PDF-")

    # Its invoice, once in the read model, downloads as the file deposited.
    async def searched() -> list[dict[str, Any]]:
        path = "/cpro/factures/v1/rechercher/fournisseur"
        found = await call(gateway, world, path, {"numeroFluxDepot": numero})
        listed: list[dict[str, Any]] = found.json()["listeFactures"]
        return listed

    [found] = await eventually(searched, within=15, what="the flow's invoice in the read model")
    assert found["numeroFluxDepot"] == numero and found["modeDepot"] == "FLUX"
    wanted = {"listeFacture": [{"idFacture": found["identifiantFactureCPP"]}]}
    download = await call(gateway, world, "/cpro/factures/v1/telecharger/groupe", wanted)
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(download.json()["fichierResultat"]))) as bundle:
        [name] = bundle.namelist()
        assert name.endswith("facture.pdf") and bundle.read(name) == pdf

    # The same invoice again is a duplicate.
    again = await deposit(gateway, world, cii(invoice), "IN_DP_E1_CII_16B")
    twice = await ended(gateway, world, again["numeroFluxDepot"], "IN_REJETE")
    assert twice["listeErreurDP"][0]["libelleErreurDP"].startswith("CPP-DOUBLON")


async def test_cii_and_ubl_flows_say_the_same_invoice(gateway: RunningGateway, world: World, bus: BusProbe):
    submitted = await bus.tap("invoice-submitted")
    payloads = []
    for syntax, write in (("IN_DP_E1_CII_16B", cii), ("IN_DP_E1_UBL_INVOICE", ubl)):
        invoice = invoice_of(world, number="F-SAME")
        answer = await deposit(gateway, world, write(invoice), syntax)
        message = await take_where(
            submitted, lambda data, n=answer["numeroFluxDepot"]: data["external_id"] == n
        )
        data = json.loads(message.body)["data"]
        payloads.append({k: v for k, v in data.items() if k not in ("external_id", "main_document")})
        # Played as received-invoices refusing it, so that the second is no duplicate of the first.
        refused = {
            "external_id": answer["numeroFluxDepot"],
            "number": "F-SAME",
            "supplier_structure_id": world.company["structure_id"],
            "submitted_by": "/services/piste-gateway",
            "reason": "recipient's service SERV-ACHATS is closed",
            "refused_at": datetime.now(UTC).isoformat(),
        }
        await bus.publish(
            "invoice-refused", cloud_event("invoice-refused", refused, source="/services/received-invoices")
        )
        rejected = await ended(gateway, world, answer["numeroFluxDepot"], "IN_REJETE")
        assert rejected["listeErreurDP"] == [
            {
                "numeroDP": "F-SAME",
                "identifiantFournisseur": world.company["structure_id"],
                "identifiantDestinataire": world.ministry["structure_id"],
                "libelleErreurDP": "recipient's service SERV-ACHATS is closed",
            }
        ]
    assert payloads[0] == payloads[1]


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Invoice [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&secret;</Invoice>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100">
&lol3;</rsm:CrossIndustryInvoice>"""


async def test_what_is_no_invoice_the_platform_takes_is_a_flow_rejected_with_its_reasons(
    gateway: RunningGateway, world: World
):
    cases: list[tuple[bytes | str, str, str]] = [
        ("pas du base64 !", "IN_DP_E1_CII_16B", "fichierFlux n'est pas encodé en base64"),
        (cii(invoice_of(world)), "IN_DP_E1_XCBL", "La syntaxe IN_DP_E1_XCBL n'est pas prise en charge"),
        (b"<Invoice><unclosed></Invoice>", "IN_DP_E1_UBL_INVOICE", "Le fichier n'est pas un XML bien formé"),
        (cii(invoice_of(world)), "IN_DP_E1_UBL_INVOICE", "n'est pas une facture UBL 2.1"),
        (ubl(invoice_of(world)), "IN_DP_E2_CII_FACTURX", "Le fichier n'est pas un PDF"),
        (XXE, "IN_DP_E1_UBL_INVOICE", "Le fichier déclare une DTD"),
        (LAUGHS, "IN_DP_E1_CII_16B", "Le fichier déclare une DTD"),
        (
            cii(invoice_of(world, broken={"grand_total": Decimal("945.00")})),
            "IN_DP_E1_CII_16B",
            "BR-CO-15 : le total TTC (BT-112) 945.00 n'est pas BT-109 + BT-110 = 944.00",
        ),
        (
            ubl(invoice_of(world, seller_id=new_siret())),
            "IN_DP_E1_UBL_INVOICE",
            "CPP-FOURNISSEUR : le fournisseur",
        ),
        (
            cii(invoice_of(world, frame="A4")),
            "IN_DP_E1_CII_16B",
            "Cadre de facturation A4 (BT-23) : un document de travaux",
        ),
    ]
    for content, syntax, reason in cases:
        answer = await deposit(gateway, world, content, syntax)
        rejected = await ended(gateway, world, answer["numeroFluxDepot"], "IN_REJETE")
        reasons = [error["libelleErreurDP"] for error in rejected["listeErreurDP"]]
        assert any(reason in found for found in reasons), (reason, reasons)
    assert b"root:" not in json.dumps(rejected).encode()


async def test_a_flow_is_seen_only_by_its_structure_and_bounded_in_size(
    gateway: RunningGateway, world: World
):
    answer = await deposit(gateway, world, cii(invoice_of(world)), "IN_DP_E1_CII_16B")
    # An application of the other company, with its own technical account, does not see the flow.
    registered = await gateway.client.post(
        "/admin/clients",
        json={"name": "ERP d'Autre SARL", "structure_id": world.other["structure_id"]},
        headers=ADMIN,
    )
    assert registered.status_code == 201
    elsewhere = World.__new__(World)
    elsewhere.__dict__.update(world.__dict__)
    elsewhere.client_id, elsewhere.client_secret = (
        registered.json()["client_id"],
        registered.json()["client_secret"],
    )
    elsewhere.login, elsewhere.password = world.other_login, world.other_password
    other = await call(
        gateway, elsewhere, "/cpro/transverses/v1/consulterCR", {"numeroFluxDepot": answer["numeroFluxDepot"]}
    )
    assert other.status_code == 400 and other.json()["codeRetour"] == 20002
    for numero in ("CPP999999999999", "n'importe quoi"):
        unknown = await call(gateway, world, "/cpro/transverses/v1/consulterCR", {"numeroFluxDepot": numero})
        assert unknown.status_code == 400 and unknown.json()["codeRetour"] == 20002
    limit = gateway.app.state.runtime.settings.max_flow_bytes
    too_big = await call(
        gateway,
        world,
        DEPOSIT,
        {
            "fichierFlux": base64.b64encode(b"x" * (limit + 1)).decode(),
            "nomFichier": "gros.xml",
            "syntaxeFlux": "IN_DP_E1_CII_16B",
        },
    )
    assert too_big.status_code == 413 and too_big.json()["codeRetour"] == 20001
    missing = await call(gateway, world, DEPOSIT, {"nomFichier": "f.xml", "syntaxeFlux": "IN_DP_E1_CII_16B"})
    assert missing.status_code == 400 and missing.json()["codeRetour"] == 20001
