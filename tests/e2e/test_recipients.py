"""Who is mailed, on the whole platform: the users the directory has for a structure, with
"Notification Facturation" on, and its principal manager; never an address an event or a request
types in."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from chorus_testing.directory import attached, registered
from chorus_testing.fixtures import BusProbe, eventually
from chorus_testing.identifiers import new_siret
from chorus_testing.platform import Platform, admin

READ_BY = ["invoicing-works", "received-invoices", "notifications"]


async def imported_ministry(platform: Platform, http: httpx.AsyncClient, tmp_path: Path) -> str:
    """A public structure imported from a referential file, with two services."""
    ministry = new_siret()
    referential = tmp_path / "structures.csv"
    referential.write_text(
        "identifier;identifier_type;name;kind;public_category;email\n"
        f"{ministry};SIRET;Ministère de l'Équipement;PUBLIQUE;ETAT;contact-{ministry}@example.fr\n",
        encoding="utf-8",
    )
    assert "1 registered" in platform.run_command("directory", "import-structures", str(referential))
    directory = platform.url("directory") + f"/structures/{ministry}/services"
    for code in ("DAF", "DRH"):
        added = await http.post(directory, json={"code": code, "name": code}, headers=admin())
        assert added.status_code == 201, added.text
    return ministry


async def user_of(
    http: httpx.AsyncClient,
    platform: Platform,
    structure: str,
    sub: str,
    role: str = "UTILISATEUR",
    notifications: bool = True,
    service_code: str | None = None,
) -> dict[str, str]:
    return await attached(http, platform, admin(), structure, sub, READ_BY, role, notifications, service_code)


def mailed(platform: Platform, event_subject: str) -> list[str]:
    return sorted(
        str(m["To"]).split("<")[-1].rstrip(">") for m in platform.mails() if event_subject in m["Subject"]
    )


async def test_an_overdue_a4_mails_the_moa_structures_opted_in_users_its_principal_manager_and_the_supplier(
    platform: Platform, http: httpx.AsyncClient, tmp_path: Path
):
    tag = uuid.uuid4().hex[:6]
    ministry = await imported_ministry(platform, http, tmp_path)
    await user_of(http, platform, ministry, f"chef-{tag}", role="GESTIONNAIRE_PRINCIPAL")
    await user_of(http, platform, ministry, f"daf-{tag}", service_code="DAF")
    await user_of(http, platform, ministry, f"drh-{tag}", service_code="DRH", notifications=False)
    supplier = await registered(http, platform, admin(), READ_BY, kind="PRIVEE", name="BTP SA")
    supplier_user = await user_of(http, platform, supplier, f"sam-{tag}", role="GESTIONNAIRE_PRINCIPAL")
    moe = await registered(http, platform, admin(), READ_BY, kind="PRIVEE", name="Cabinet Archi")
    moe_user = await user_of(http, platform, moe, f"max-{tag}", role="GESTIONNAIRE_PRINCIPAL")
    number = f"PDM-{tag}"
    deposited = await http.post(
        platform.url("invoicing-works") + "/works-invoices",
        json={
            "number": number,
            "billing_frame": "A4",
            "supplier": {"structure_id": supplier},
            "moe": {"structure_id": moe},
            "moa": {"structure_id": ministry},
            "amount_ht": "25000.00",
            "vat_amount": "5000.00",
            "amount_ttc": "30000.00",
        },
        headers=supplier_user,
    )
    assert deposited.status_code == 201, deposited.text

    overdue = date.fromisoformat(deposited.json()["moe_deadline"]) + timedelta(days=1)
    platform.run_job("invoicing-works", "sweep-deadlines", "--as-of", overdue.isoformat())
    expected = sorted([f"chef-{tag}@example.fr", f"daf-{tag}@example.fr", f"sam-{tag}@example.fr"])
    await eventually(lambda: mailed(platform, number) == expected, within=30, what="the three mails")
    assert platform.mails_to(f"drh-{tag}@example.fr") == []  # notifications off
    assert platform.mails_to(f"contact-{ministry}@example.fr") == []  # the structure's own address
    # The MOE acts: no later sweep, of this test or another, has a notice for it.
    taken = await http.post(
        platform.url("invoicing-works") + f"/works-invoices/{deposited.json()['id']}/actions",
        json={"action": "PRISE_EN_COMPTE"},
        headers=moe_user,
    )
    assert taken.status_code == 200, taken.text


async def test_a_delegation_routed_mail_reaches_every_opted_in_user_of_the_delegate(
    platform: Platform, http: httpx.AsyncClient, bus: BusProbe, tmp_path: Path
):
    tag = uuid.uuid4().hex[:6]
    ministry = await imported_ministry(platform, http, tmp_path)
    ministry_user = await user_of(http, platform, ministry, f"marie-{tag}", role="GESTIONNAIRE_PRINCIPAL")
    company = await registered(http, platform, admin(), READ_BY, kind="PRIVEE", name="Conseil SARL")
    await user_of(http, platform, company, f"paul-{tag}")
    await user_of(http, platform, company, f"lea-{tag}")
    await user_of(http, platform, company, f"off-{tag}", notifications=False)
    supplier = await registered(http, platform, admin(), READ_BY, kind="PRIVEE", name="Fournitures SA")
    delegation = await http.post(
        platform.url("received-invoices") + "/delegations",
        json={
            "delegator_structure_id": ministry,
            "delegate_structure_id": company,
            "right": "VALIDATION",
            "scope": "SERVICES",
            "service_codes": ["DAF"],
            "start_date": datetime.now(UTC).date().isoformat(),
        },
        headers=ministry_user,
    )
    assert delegation.status_code == 201, delegation.text

    async def delegated_validator() -> bool:
        found = await http.get(platform.url("directory") + f"/structures/{company}", headers=admin())
        return bool(found.json()["parameters"]["delegated_validator"])

    # estValideurDelegue, derived by the directory from received-invoices' delegations
    await eventually(delegated_validator, within=30, what="the company a delegated validator")
    number = f"FA-{tag}"
    await bus.publish(
        "invoice-submitted",
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/edi/depot",
            "type": "invoice-submitted",
            "time": datetime.now(UTC).isoformat(),
            "data": {
                "external_id": f"EDI-{tag}",
                "number": number,
                "billing_frame": "A1",
                "supplier": {"structure_id": supplier, "name": "Fournitures SA"},
                "recipient": {"structure_id": ministry, "name": "Ministère", "service_code": "DAF"},
                "amount_ht": "500.00",
                "vat_amount": "100.00",
                "amount_ttc": "600.00",
                "currency": "EUR",
                "issue_date": "2026-11-20",
            },
        },
    )
    expected = sorted([f"lea-{tag}@example.fr", f"paul-{tag}@example.fr"])
    await eventually(lambda: mailed(platform, number) == expected, within=30, what="the delegate's mails")
    assert platform.mails_to(f"off-{tag}@example.fr") == []
