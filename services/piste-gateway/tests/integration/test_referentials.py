"""engagementsJuridiques/v1's search, from the read model engagements' status events feed (played here
on the bus as engagements publishes them), and the referentials of transverses/v1 that the gateway
answers from its own sources: the kinds of works invoice, the validators' refusal reasons, the
directory's SIRETs and its directory of public recipients."""

from __future__ import annotations

import base64
import csv
import io
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

from chorus_common.frames import FRAMES
from chorus_testing.events import cloud_event
from chorus_testing.fixtures import BusProbe, eventually
from chorus_testing.identifiers import new_siret

from .conftest import RunningGateway, World, call

CREATED = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # 1 December in Paris
STEPS = [
    ("CREATION", None, "BROUILLON"),
    ("VALIDATION", "BROUILLON", "COMMANDE"),
    ("INACTIVATION", "COMMANDE", "INACTIF"),
]


def engagement_event(
    engagement_id: str, number: str, issuer: str, supplier: str, sequence: int
) -> dict[str, Any]:
    step, from_status, to_status = STEPS[sequence - 1]
    data = {
        "engagement_id": engagement_id,
        "number": number,
        "type": "BON_DE_COMMANDE",
        "issuer_structure_id": issuer,
        "supplier_structure_id": supplier,
        "from_status": from_status,
        "to_status": to_status,
        "step": step,
        "sequence": sequence,
        "changed_at": (CREATED + timedelta(hours=sequence)).isoformat(),
        "amount_ht": "3096.43",
        "vat_amount": "617.83",
        "amount_ttc": "3714.26",
        "currency": "EUR",
    }
    return cloud_event("engagement-status-changed", data, source="/services/engagements")


async def search(gateway: RunningGateway, world: World, **criteria: Any) -> dict[str, Any]:
    answer = await call(gateway, world, "/cpro/engagementsJuridiques/v1/rechercher", criteria)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def test_an_engagement_is_found_by_its_supplier_once_validated_and_as_it_stands(
    gateway: RunningGateway, world: World, bus: BusProbe
):
    ministry, company, other = (
        world.ministry["structure_id"],
        world.company["structure_id"],
        world.other["structure_id"],
    )
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    number = f"EJ-{uuid.uuid4().hex[:8]}"
    await bus.publish_many(
        [
            ("engagement-status-changed", engagement_event(mine, number, ministry, company, 1)),
            ("engagement-status-changed", engagement_event(theirs, number + "-B", ministry, other, 1)),
            ("engagement-status-changed", engagement_event(theirs, number + "-B", ministry, other, 2)),
        ]
    )

    async def seen(count: int) -> bool:
        async with gateway.app.state.runtime.engine.connect() as conn:
            found = await conn.exec_driver_sql(
                "SELECT count(*) FROM engagements WHERE number LIKE $1", (number + "%",)
            )
            return found.scalar() == count

    await eventually(lambda: seen(2), within=15)
    # A draft is its issuer's alone; another supplier's engagement is never the company's.
    assert (await search(gateway, world, numeroEngagementJuridique=number))["listeEngagementJuridique"] == []
    assert (await search(gateway, world, numeroEngagementJuridique=number + "-B"))[
        "listeEngagementJuridique"
    ] == []

    await bus.publish("engagement-status-changed", engagement_event(mine, number, ministry, company, 2))
    answer = await eventually(
        lambda: _found(
            gateway, world, structureReceptriceEngagementJuridique=ministry, numeroEngagementJuridique=number
        ),
        within=15,
    )
    [engagement] = answer["listeEngagementJuridique"]
    assert answer["codeRetour"] == 0 and answer["parametresRetour"]["total"] == 1
    assert engagement["numeroEngagementJuridique"] == number
    assert engagement["etatCourantEngagementJuridique"] == "COMMANDE"
    assert engagement["dateCreationEngagementJuridique"] == "2026-12-01"
    assert engagement["structureReceptriceEngagementJuridique"] == ministry
    assert engagement["idStructureReceptrice"] == world.ministry["cpp_id"]
    assert engagement["designationStructureReceptrice"] == "Ministère de la Culture"
    assert engagement["idStructureFournisseur"] == world.company["cpp_id"]
    assert engagement["montantHT"] == 3096.43 and engagement["montantTTC"] == 3714.26
    # As OCA's ERP asks whether an order number is one to invoice against.
    ordered = await search(
        gateway,
        world,
        structureReceptriceEngagementJuridique=ministry,
        numeroEngagementJuridique=number,
        etatCourantEngagementJuridique="COMMANDE",
    )
    assert len(ordered["listeEngagementJuridique"]) == 1
    by_id = await search(
        gateway, world, idStructureReceptrice=world.ministry["cpp_id"], numeroEngagementJuridique=number
    )
    assert len(by_id["listeEngagementJuridique"]) == 1

    # Inactivated, then a duplicate of its validation: the read model keeps the latest.
    await bus.publish_many(
        [
            ("engagement-status-changed", engagement_event(mine, number, ministry, company, 3)),
            ("engagement-status-changed", engagement_event(mine, number, ministry, company, 2)),
        ]
    )
    await eventually(
        lambda: _found(
            gateway, world, numeroEngagementJuridique=number, etatCourantEngagementJuridique="INACTIF"
        ),
        within=15,
    )
    assert (
        await search(
            gateway, world, numeroEngagementJuridique=number, etatCourantEngagementJuridique="COMMANDE"
        )
    )["listeEngagementJuridique"] == []


async def _found(gateway: RunningGateway, world: World, **criteria: Any) -> dict[str, Any] | None:
    answer = await search(gateway, world, **criteria)
    return answer if answer["listeEngagementJuridique"] else None


async def test_works_invoice_kinds_and_refusal_reasons_are_chorus_pros_referentials(
    gateway: RunningGateway, world: World
):
    kinds = await call(gateway, world, "/cpro/transverses/v1/recuperer/typefacturetravaux")
    listed = [k["typeFactureTravaux"] for k in kinds.json()["listeTypeFactureTravaux"]]
    assert "PROJET_DECOMPTE_MENSUEL" in listed and "DECOMPTE_GENERAL_DEFINITIF" in listed
    # Every kind is what some works frame deposits.
    works = [f.name for f in FRAMES.values() if f.works]
    assert all(any(f"_{kind}_" in f"{name}_" for name in works) for kind in listed)

    reasons = await call(
        gateway,
        world,
        "/cpro/transverses/v1/recuperer/motifs/refus/Facture/AValider",
        {"codeCadreFacturationAValider": "A9_FACTURE_SOUSTRAITANT"},
    )
    assert reasons.json()["codeRetour"] == 0
    codes = {r["codeMotif"]: r["idMotif"] for r in reasons.json()["listeMotifRefusFactureAValider"]}
    assert codes["MONTANT_ERRONE"] == 1 and "AUTRE" in codes
    unknown = await call(
        gateway,
        world,
        "/cpro/transverses/v1/recuperer/motifs/refus/Facture/AValider",
        {"codeCadreFacturationAValider": "A99"},
    )
    assert unknown.status_code == 400 and unknown.json()["codeRetour"] == 20001


async def test_a_siret_is_what_the_directory_holds_and_its_recipients_download_as_a_csv(
    gateway: RunningGateway, world: World
):
    ministry = world.ministry
    found = await call(
        gateway,
        world,
        "/cpro/transverses/v1/consulter/information/siret",
        {"siretStructure": ministry["structure_id"]},
    )
    assert found.status_code == 200, found.text
    assert found.json() == {
        "codeRetour": 0,
        "libelle": "GCU_MSG_01_000",
        "siret": ministry["structure_id"],
        "siren": ministry["structure_id"][:9],
        "raisonSociale": "Ministère de la Culture",
        "estActif": True,
    }
    for siret, code in [
        ("12345678901234", 20001),
        (new_siret(), 20002),
        (world.other["structure_id"], 20002),
    ]:
        refused = await call(
            gateway, world, "/cpro/transverses/v1/consulter/information/siret", {"siretStructure": siret}
        )
        assert refused.status_code == 400 and refused.json()["codeRetour"] == code, (siret, refused.text)

    answer = await call(gateway, world, "/cpro/transverses/v1/telecharger/annuaire/destinataire")
    assert answer.status_code == 200 and answer.json()["codeRetour"] == 0
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(answer.json()["fichierResultat"]))) as archive:
        [name] = archive.namelist()
        rows = list(csv.DictReader(io.StringIO(archive.read(name).decode()), delimiter=";"))
    assert name == "annuaire_destinataires.csv"
    [listed] = [row for row in rows if row["IDENTIFIANT"] == ministry["structure_id"]]
    assert listed["RAISON_SOCIALE"] == "Ministère de la Culture" and listed["CODE_SERVICE"] == "SERV-ACHATS"
    assert listed["ID_STRUCTURE_CPP"] == str(ministry["cpp_id"]) and listed["STATUT_SERVICE"] == "ACTIF"
    # Private structures are no recipients of the public sector.
    assert not [
        row
        for row in rows
        if row["IDENTIFIANT"] in (world.company["structure_id"], world.other["structure_id"])
    ]
