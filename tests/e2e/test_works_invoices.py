"""Works invoices on the whole platform: daily deadline notices by mail, and 'Traiter le rejet'."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx

from chorus_common.clock import SystemClock, paris_day
from chorus_testing.directory import attached, registered
from chorus_testing.fixtures import eventually
from chorus_testing.platform import Platform, admin

ROLES = ("supplier", "moe", "moa")


@dataclass
class Parties:
    """A supplier, a MOE and a MOA registered at the directory, with a user of each, all known to
    invoicing-works and notifications."""

    structures: dict[str, str]
    users: dict[str, dict[str, str]]


async def new_parties(http: httpx.AsyncClient, platform: Platform) -> Parties:
    read_by = ["invoicing-works", "notifications"]
    structures = {
        "supplier": await registered(http, platform, admin(), read_by, kind="PRIVEE", name="BTP SA"),
        "moe": await registered(http, platform, admin(), read_by, name="Maîtrise d'œuvre"),
        "moa": await registered(http, platform, admin(), read_by, name="Maîtrise d'ouvrage"),
    }
    users = {
        role: await attached(http, platform, admin(), structure_id, f"user-{structure_id}", read_by)
        for role, structure_id in structures.items()
    }
    return Parties(structures, users)


async def deposit(
    http: httpx.AsyncClient, platform: Platform, frame: str, parties: Parties, by: str = "supplier"
) -> dict[str, Any]:
    response = await http.post(
        platform.url("invoicing-works") + "/works-invoices",
        json={
            "number": f"{frame}-{uuid.uuid4().hex[:8]}",
            "billing_frame": frame,
            **{role: {"structure_id": parties.structures[role]} for role in ROLES},
            "amount_ht": "25000.00",
            "vat_amount": "5000.00",
            "amount_ttc": "30000.00",
        },
        headers=parties.users[by],
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_the_moe_deposits_an_a15_for_the_moa(platform: Platform, http: httpx.AsyncClient):
    parties = await new_parties(http, platform)
    frames = await http.get(platform.url("invoicing-works") + "/billing-frames", headers=parties.users["moe"])
    assert {f["code"]: f["depositor"] for f in frames.json()}["A15"] == "MOE"
    invoice = await deposit(http, platform, "A15_ETAT_ACOMPTE_MOE", parties, by="moe")
    assert (invoice["billing_frame"], invoice["status"]) == ("A15", "MISE_A_DISPOSITION_MOA")
    assert invoice["history"][0]["role"] == "MOE"
    to_process = await http.get(
        platform.url("invoicing-works") + "/works-invoices/to-process",
        params={"role": "MOA"},
        headers=parties.users["moa"],
    )
    assert [item["id"] for item in to_process.json()["items"]] == [invoice["id"]]


async def test_an_overdue_a4_mails_the_moa_and_the_supplier_each_day_until_the_moe_acts(
    platform: Platform, http: httpx.AsyncClient
):
    parties = await new_parties(http, platform)
    invoice = await deposit(http, platform, "A4", parties)
    made_available = paris_day(SystemClock().now())
    # 7 calendar days, prolonged to a working day (CCAG): from 7 to 10 days after today.
    deadline = date.fromisoformat(invoice["moe_deadline"])
    assert timedelta(days=7) <= deadline - made_available <= timedelta(days=10)
    moa_mail, supplier_mail = (f"user-{parties.structures[role]}@example.fr" for role in ("moa", "supplier"))

    for expected in (1, 2, 3):
        as_of = deadline + timedelta(days=expected)
        printed = platform.run_job("invoicing-works", "sweep-deadlines", "--as-of", as_of.isoformat())
        assert "notices issued for " + as_of.isoformat() in printed
        await eventually(lambda n=expected: len(platform.mails_to(supplier_mail)) == n, within=30)
        assert len(platform.mails_to(moa_mail)) == expected
    moa_mails = platform.mails_to(moa_mail)
    assert "délai de traitement de la maîtrise d'œuvre dépassé" in moa_mails[0]["Subject"]
    assert "article 12.2.2" in moa_mails[0].get_content()
    assert "il est dépassé de 3 jours" in moa_mails[2].get_content()

    acted = await http.post(
        platform.url("invoicing-works") + f"/works-invoices/{invoice['id']}/actions",
        json={"action": "PRISE_EN_COMPTE"},
        headers=parties.users["moe"],
    )
    assert acted.json()["status"] == "PRISE_EN_COMPTE_MOE"
    next_day = deadline + timedelta(days=4)
    printed = platform.run_job("invoicing-works", "sweep-deadlines", "--as-of", next_day.isoformat())
    assert printed.startswith("0 deadline-exceeded notices")
    await asyncio.sleep(3)
    assert (len(platform.mails_to(moa_mail)), len(platform.mails_to(supplier_mail))) == (3, 3)


async def test_traiter_le_rejet_on_a_mix_of_frames(platform: Platform, http: httpx.AsyncClient):
    parties = await new_parties(http, platform)
    supplier = parties.users["supplier"]
    ids = []
    for frame in ("A4", "A6", "A22"):
        invoice = await deposit(http, platform, frame, parties)
        rejected = await http.post(
            platform.url("invoicing-works") + f"/works-invoices/{invoice['id']}/actions",
            json={"action": "REJET", "reason": "pièces justificatives absentes"},
            headers=parties.users["moe"],
        )
        assert rejected.json()["status"] == "REJETEE"
        ids.append(invoice["id"])
    still_open = await deposit(http, platform, "A10", parties)
    url = platform.url("invoicing-works") + "/works-invoices/rejections/process"
    response = await http.post(url, json={"ids": [*ids, still_open["id"]]}, headers=supplier)
    assert response.status_code == 200
    assert [r["outcome"] for r in response.json()["results"]] == ["PROCESSED"] * 3 + ["NOT_REJECTED"]
    listed = await http.get(
        platform.url("invoicing-works") + "/works-invoices/to-process",
        params={"role": "FOURNISSEUR"},
        headers=supplier,
    )
    assert listed.json()["total"] == 0
