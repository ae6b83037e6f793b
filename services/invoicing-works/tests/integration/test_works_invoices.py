"""Works invoices over HTTP and the deadline sweep, with a real PostgreSQL and RabbitMQ."""

import argparse
import asyncio
import json
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import aio_pika
import pytest
import sqlalchemy as sa

from chorus_common.events import DeadlineExceeded, parse_event
from chorus_testing.auth import bearer
from chorus_testing.directory import known_structure, user
from chorus_testing.fixtures import BusProbe, eventually, take
from chorus_testing.identifiers import new_siret
from invoicing_works import jobs
from invoicing_works.db import deadline_notices, outbox
from invoicing_works.settings import InvoicingWorksSettings
from invoicing_works.use_cases import sweep_deadlines

from .conftest import DEPOSIT_INSTANT, RunningInvoicingWorks


@dataclass
class Parties:
    """Three structures of the directory, as the service's read model has them, and a user of each."""

    supplier: str
    moe: str
    moa: str | None
    supplier_user: dict[str, str]
    moe_user: dict[str, str]
    moa_user: dict[str, str]

    def body(self, frame: str = "A4", **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "number": f"PDM-{uuid.uuid4().hex[:8]}",
            "billing_frame": frame,
            "supplier": {"structure_id": self.supplier},
            "moe": {"structure_id": self.moe},
            "amount_ht": "10000.00",
            "vat_amount": "2000.00",
            "amount_ttc": "12000.00",
        }
        if self.moa:
            body["moa"] = {"structure_id": self.moa}
        body.update(overrides)
        return body


async def new_parties(service: RunningInvoicingWorks, moa: bool = True) -> Parties:
    engine = service.runtime.engine
    supplier, moe = (
        await known_structure(engine, name="BTP SA"),
        await known_structure(engine, kind="PUBLIQUE"),
    )
    moa_id = await known_structure(engine, kind="PUBLIQUE") if moa else None
    return Parties(
        supplier,
        moe,
        moa_id,
        await user(engine, f"sam-{supplier}", supplier),
        await user(engine, f"maurice-{moe}", moe),
        await user(engine, f"odile-{moa_id}", moa_id) if moa_id else {},
    )


async def deposited(service: RunningInvoicingWorks, parties: Parties, frame: str = "A4") -> dict[str, Any]:
    response = await service.deposit(parties.supplier_user, parties.body(frame))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture(autouse=True)
def back_to_deposit_day(invoicing_works: RunningInvoicingWorks) -> None:
    invoicing_works.clock.set(DEPOSIT_INSTANT)


async def test_an_a4_is_made_available_to_its_moe_with_a_seven_day_deadline(
    invoicing_works: RunningInvoicingWorks,
):
    parties = await new_parties(invoicing_works)
    created = await deposited(invoicing_works, parties)
    assert created["status"] == "MISE_A_DISPOSITION_MOE"
    assert created["moe_deadline"] == "2026-11-09"
    assert created["amount_ttc"] == "12000.00"
    assert [(h["action"], h["to_status"]) for h in created["history"]] == [
        ("DEPOT", "DEPOSEE"),
        ("MISE_A_DISPOSITION", "MISE_A_DISPOSITION_MOE"),
    ]
    assert (created["supplier"]["name"], created["supplier"]["email"]) == (
        "BTP SA",
        f"contact-{parties.supplier}@example.fr",
    )
    for who in (parties.moe_user, parties.moa_user):
        seen = await invoicing_works.client.get(f"/works-invoices/{created['id']}", headers=who)
        assert seen.status_code == 200
    # A token naming the MOE's structure is not enough: its user is attached to none.
    for stranger in (bearer("eve", parties.moe), bearer("eve")):
        seen = await invoicing_works.client.get(f"/works-invoices/{created['id']}", headers=stranger)
        assert seen.status_code == 404


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount_ttc": "12000.01"}, "amount_ttc must equal"),
        ({"amount_ht": "10.001"}, "amount_ht"),
        ({"amount_ht": -5}, "amount_ht"),
        ({"billing_frame": "A1"}, "billing_frame"),
        ({"moe": None}, "moe is required"),
    ],
)
async def test_bad_deposits_get_a_422(
    invoicing_works: RunningInvoicingWorks, overrides: dict[str, Any], field: str
):
    parties = await new_parties(invoicing_works)
    response = await invoicing_works.deposit(parties.supplier_user, parties.body(**overrides))
    assert response.status_code == 422
    assert field in response.text


async def test_only_the_supplier_deposits(invoicing_works: RunningInvoicingWorks):
    parties = await new_parties(invoicing_works)
    response = await invoicing_works.deposit(parties.moe_user, parties.body())
    assert response.status_code == 403


@pytest.mark.parametrize("named_twice", ["moe", "moa"])
async def test_a_supplier_naming_itself_moe_or_moa_is_refused(
    invoicing_works: RunningInvoicingWorks, named_twice: str
):
    parties = await new_parties(invoicing_works)
    body = {**parties.body(), named_twice: {"structure_id": parties.supplier}}
    response = await invoicing_works.deposit(parties.supplier_user, body)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "source": "body",
            "field": f"{named_twice}.structure_id",
            "message": "supplier, MOE and MOA must be three different structures",
        }
    ]


async def test_parties_are_structures_and_services_of_the_directory(invoicing_works: RunningInvoicingWorks):
    parties = await new_parties(invoicing_works)
    engine = invoicing_works.runtime.engine
    unknown = {"structure_id": new_siret()}
    response = await invoicing_works.deposit(parties.supplier_user, parties.body(moa=unknown))
    assert (response.status_code, response.json()["errors"][0]["field"]) == (422, "moa.structure_id")
    no_service = {"structure_id": parties.moe, "service_code": "NOPE"}
    response = await invoicing_works.deposit(parties.supplier_user, parties.body(moe=no_service))
    assert (response.status_code, response.json()["errors"][0]["field"]) == (422, "moe.service_code")
    typed_in = {"structure_id": parties.moe, "name": "Anyone", "email": "me@evil.example"}
    response = await invoicing_works.deposit(parties.supplier_user, parties.body(moe=typed_in))
    assert response.status_code == 422

    moa = await known_structure(engine, kind="PUBLIQUE", services=["TRAVAUX"])
    body = parties.body(moa={"structure_id": moa, "service_code": "TRAVAUX"})
    created = await invoicing_works.deposit(parties.supplier_user, body)
    assert created.status_code == 201, created.text
    assert created.json()["moa"] == {
        "structure_id": moa,
        "name": f"Structure {moa}",
        "email": f"contact-{moa}@example.fr",
        "service_code": "TRAVAUX",
    }


async def test_a_tokens_structures_claim_only_narrows_the_directorys_attachments(
    invoicing_works: RunningInvoicingWorks,
):
    parties = await new_parties(invoicing_works)
    other = await known_structure(invoicing_works.runtime.engine)
    await user(invoicing_works.runtime.engine, "multi", parties.supplier, other)
    narrowed = bearer("multi", other)
    assert (await invoicing_works.deposit(narrowed, parties.body())).status_code == 403
    assert (
        await invoicing_works.deposit(bearer("multi", parties.supplier), parties.body())
    ).status_code == 201


async def test_the_a4_circuit_moe_then_moa_with_modified_amounts(invoicing_works: RunningInvoicingWorks):
    parties = await new_parties(invoicing_works)
    invoice = await deposited(invoicing_works, parties)
    moe, moa = parties.moe_user, parties.moa_user
    assert (await invoicing_works.act(moa, invoice["id"], "VALIDATION")).status_code == 403
    taken = await invoicing_works.act(moe, invoice["id"], "PRISE_EN_COMPTE")
    assert taken.json()["status"] == "PRISE_EN_COMPTE_MOE"
    amounts = {"amount_ht": "9000.00", "vat_amount": "1800.00", "amount_ttc": "10800.00"}
    passed = await invoicing_works.act(moe, invoice["id"], "VALIDATION", amounts=amounts)
    assert passed.status_code == 200, passed.text
    assert (passed.json()["status"], passed.json()["amount_ttc"]) == ("MISE_A_DISPOSITION_MOA", "10800.00")
    assert (await invoicing_works.act(moe, invoice["id"], "REJET", reason="trop tard")).status_code == 409
    validated = await invoicing_works.act(moa, invoice["id"], "VALIDATION")
    assert validated.json()["status"] == "TRANSMISE_MOA"
    history = validated.json()["history"]
    assert [(h["action"], h["role"]) for h in history[2:]] == [
        ("PRISE_EN_COMPTE", "MOE"),
        ("VALIDATION", "MOE"),
        ("VALIDATION", "MOA"),
    ]
    assert history[3]["amounts"] == {
        **amounts,
        "previous_amount_ht": "10000.00",
        "previous_vat_amount": "2000.00",
        "previous_amount_ttc": "12000.00",
    }
    assert history[3]["actor"] == "maurice-" + parties.moe


async def test_a_refusal_needs_one_of_chorus_pros_reason_codes(invoicing_works: RunningInvoicingWorks):
    parties = await new_parties(invoicing_works)
    invoice = await deposited(invoicing_works, parties)
    moe = parties.moe_user
    assert (await invoicing_works.act(moe, invoice["id"], "REFUS")).status_code == 422
    assert (
        await invoicing_works.act(moe, invoice["id"], "REFUS", reason_code="PAS_ENVIE")
    ).status_code == 422
    refused = await invoicing_works.act(
        moe, invoice["id"], "REFUS", reason_code="MAUVAISE_MOE", reason="Pas notre lot"
    )
    assert refused.json()["status"] == "REFUSEE_MOE"
    assert refused.json()["history"][-1]["reason_code"] == "MAUVAISE_MOE"


async def test_the_moa_takes_over_once_the_deadline_has_passed(invoicing_works: RunningInvoicingWorks):
    parties = await new_parties(invoicing_works)
    invoice = await deposited(invoicing_works, parties)
    moa = parties.moa_user
    invoicing_works.clock.advance(timedelta(days=7))  # 9 November, the last day of the MOE
    early = await invoicing_works.act(moa, invoice["id"], "VALIDATION")
    assert early.status_code == 403
    assert early.json()["type"] == "urn:chorus:problem:take-over-too-early"
    listed = await invoicing_works.client.get(
        "/works-invoices/to-process", params={"role": "MOA"}, headers=moa
    )
    assert invoice["id"] not in [item["id"] for item in listed.json()["items"]]

    invoicing_works.clock.advance(timedelta(days=1))
    listed = await invoicing_works.client.get(
        "/works-invoices/to-process", params={"role": "MOA"}, headers=moa
    )
    assert invoice["id"] in [item["id"] for item in listed.json()["items"]]
    taken_over = await invoicing_works.act(moa, invoice["id"], "VALIDATION")
    assert taken_over.status_code == 200
    last = taken_over.json()["history"][-1]
    assert (last["role"], last["acting_for"], last["to_status"]) == ("MOA", "MOE", "MISE_A_DISPOSITION_MOA")


async def test_other_frames_are_made_available_refused_and_rejected(invoicing_works: RunningInvoicingWorks):
    parties = await new_parties(invoicing_works)
    a7 = await deposited(invoicing_works, parties, "A7")
    assert (a7["status"], a7["moe_deadline"]) == ("MISE_A_DISPOSITION_MOE", None)
    only_moa = await invoicing_works.deposit(parties.supplier_user, parties.body("A13", moe=None))
    assert only_moa.json()["status"] == "MISE_A_DISPOSITION_MOA"
    rejected = await invoicing_works.act(parties.moa_user, only_moa.json()["id"], "REJET", reason="doublon")
    assert rejected.json()["status"] == "REJETEE"


async def test_the_moe_deposits_its_frames_and_the_moa_its_own(invoicing_works: RunningInvoicingWorks):
    parties = await new_parties(invoicing_works)
    # An A15 (état d'acompte of the MOE), in Chorus Pro's long form: deposited by the MOE's user.
    body = parties.body("A15_ETAT_ACOMPTE_MOE")
    by_supplier = await invoicing_works.deposit(parties.supplier_user, body)
    assert by_supplier.status_code == 403
    assert "moe.structure_id must be one of the structures you act for" in by_supplier.json()["detail"]
    a15 = await invoicing_works.deposit(parties.moe_user, body)
    assert a15.status_code == 201, a15.text
    invoice = a15.json()
    assert (invoice["billing_frame"], invoice["billing_frame_code"]) == ("A15", "A15_ETAT_ACOMPTE_MOE")
    assert (invoice["status"], invoice["moe_deadline"]) == ("MISE_A_DISPOSITION_MOA", None)
    assert [(h["to_status"], h["role"], h["actor_structure_id"]) for h in invoice["history"]] == [
        ("DEPOSEE", "MOE", parties.moe),
        ("MISE_A_DISPOSITION_MOA", "MOE", parties.moe),
    ]
    to_process = await invoicing_works.client.get(
        "/works-invoices/to-process", params={"role": "MOA"}, headers=parties.moa_user
    )
    assert invoice["id"] in [item["id"] for item in to_process.json()["items"]]
    # An A19 (état d'acompte validé of the MOA): the MOA's own, transmitted at once.
    a19 = await invoicing_works.deposit(parties.moa_user, parties.body("A19"))
    assert (a19.status_code, a19.json()["status"]) == (201, "TRANSMISE_MOA")
    assert (await invoicing_works.deposit(parties.moe_user, parties.body("A19"))).status_code == 403
    # An MOE frame names the MOA it goes to.
    without_moa = await invoicing_works.deposit(parties.moe_user, parties.body("A16", moa=None))
    assert without_moa.status_code == 422 and "moe and moa are required" in without_moa.text


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ("A1", "A1 (A1_FACTURE_FOURNISSEUR) is not a works frame"),
        ("A99", "unknown billing frame 'A99'"),
        ("A0", "unknown billing frame 'A0'"),
        ("A4_PROJET", "unknown billing frame"),
    ],
)
async def test_only_existing_works_frames_are_accepted(
    invoicing_works: RunningInvoicingWorks, frame: str, says: str
):
    parties = await new_parties(invoicing_works)
    response = await invoicing_works.deposit(parties.supplier_user, parties.body(frame))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "billing_frame" and says in response.text


async def test_the_works_frames_are_listed_with_their_labels(invoicing_works: RunningInvoicingWorks):
    parties = await new_parties(invoicing_works)
    response = await invoicing_works.client.get("/billing-frames", headers=parties.supplier_user)
    frames = {f["code"]: f for f in response.json()}
    assert "A1" not in frames and len(frames) == 19
    assert frames["A11"] == {
        "code": "A11",
        "name": "A11_PROJET_DECOMPTE_FINAL_SOUSTRAITANT",
        "label": "Dépôt par un sous-traitant d'un projet de décompte final",
        "depositor": "SOUS_TRAITANT",
    }
    assert (frames["A15"]["depositor"], frames["A25"]["depositor"]) == ("MOE", "MOA")
    assert (await invoicing_works.client.get("/billing-frames")).status_code == 401


async def test_traiter_le_rejet_over_a_mix_of_frames_reports_each_item(
    invoicing_works: RunningInvoicingWorks,
):
    parties = await new_parties(invoicing_works)
    supplier, moe = parties.supplier_user, parties.moe_user
    rejected = []
    for frame in ("A4", "A5", "A11"):
        invoice = await deposited(invoicing_works, parties, frame)
        await invoicing_works.act(moe, invoice["id"], "REJET", reason="pièces manquantes")
        rejected.append(invoice["id"])
    pending = await deposited(invoicing_works, parties, "A8")
    someone_elses = await deposited(invoicing_works, await new_parties(invoicing_works), "A4")
    listed = await invoicing_works.client.get(
        "/works-invoices/to-process", params={"role": "FOURNISSEUR"}, headers=supplier
    )
    assert sorted(item["id"] for item in listed.json()["items"]) == sorted(rejected)

    ids = [*rejected, pending["id"], someone_elses["id"], str(uuid.uuid4()), "not-a-uuid", rejected[0]]
    response = await invoicing_works.client.post(
        "/works-invoices/rejections/process", json={"ids": ids}, headers=supplier
    )
    assert response.status_code == 200
    body = response.json()
    assert body["processed"] == 3
    assert [r["outcome"] for r in body["results"]] == [
        "PROCESSED",
        "PROCESSED",
        "PROCESSED",
        "NOT_REJECTED",
        "NOT_FOUND",
        "NOT_FOUND",
        "NOT_FOUND",
        "ALREADY_PROCESSED",
    ]
    listed = await invoicing_works.client.get(
        "/works-invoices/to-process", params={"role": "FOURNISSEUR"}, headers=supplier
    )
    assert listed.json()["items"] == []
    detail = await invoicing_works.client.get(f"/works-invoices/{rejected[1]}", headers=supplier)
    assert detail.json()["history"][-1]["action"] == "TRAITEMENT_REJET"

    again = await invoicing_works.client.post(
        "/works-invoices/rejections/process", json={"ids": rejected}, headers=supplier
    )
    assert again.json()["processed"] == 0
    assert {r["outcome"] for r in again.json()["results"]} == {"ALREADY_PROCESSED"}
    history_after = (
        await invoicing_works.client.get(f"/works-invoices/{rejected[1]}", headers=supplier)
    ).json()["history"]
    assert history_after == detail.json()["history"]


async def notices_for(service: RunningInvoicingWorks, invoice_id: str) -> list[date]:
    async with service.runtime.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(deadline_notices.c.notice_date)
            .where(deadline_notices.c.works_invoice_id == uuid.UUID(invoice_id))
            .order_by(deadline_notices.c.notice_date)
        )
        return list(rows.scalars())


async def sweep(service: RunningInvoicingWorks, day: date) -> int:
    return await sweep_deadlines(service.runtime.unit_of_work(), day)


async def test_three_concurrent_sweeps_issue_one_notice_per_invoice(invoicing_works: RunningInvoicingWorks):
    invoices = [await deposited(invoicing_works, await new_parties(invoicing_works)) for _ in range(20)]
    without_moa = await deposited(invoicing_works, await new_parties(invoicing_works, moa=False))
    day = date(2026, 11, 12)
    issued = await asyncio.gather(*(sweep(invoicing_works, day) for _ in range(3)))
    assert sum(issued) >= 20
    for invoice in invoices:
        assert await notices_for(invoicing_works, invoice["id"]) == [day]
    assert await notices_for(invoicing_works, without_moa["id"]) == []
    assert await sweep(invoicing_works, day) == 0


async def test_thirty_days_give_one_notice_a_day_until_the_moe_acts(invoicing_works: RunningInvoicingWorks):
    parties = await new_parties(invoicing_works)
    invoice = await deposited(invoicing_works, parties)
    days = [date(2026, 11, 2) + timedelta(days=n) for n in range(1, 31)]
    for day in days[:15]:
        await sweep(invoicing_works, day)
        await sweep(invoicing_works, day)
    assert await notices_for(invoicing_works, invoice["id"]) == [
        d for d in days[:15] if d > date(2026, 11, 9)
    ]
    invoicing_works.clock.set(invoicing_works.clock.now() + timedelta(days=15))
    taken = await invoicing_works.act(parties.moe_user, invoice["id"], "PRISE_EN_COMPTE")
    assert taken.status_code == 200
    for day in days[15:]:
        await sweep(invoicing_works, day)
    notices = await notices_for(invoicing_works, invoice["id"])
    assert notices == [date(2026, 11, d) for d in range(10, 18)]
    assert notices[-1] == days[14]


async def test_the_outbox_carries_each_notice_to_the_bus(
    invoicing_works: RunningInvoicingWorks, bus: BusProbe
):
    tap = await bus.tap("deadline-exceeded")
    parties = await new_parties(invoicing_works)
    invoice = await deposited(invoicing_works, parties)
    day = date(2026, 11, 13)
    await sweep(invoicing_works, day)
    messages: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def outbox_empty() -> bool:
        # Notices of earlier tests may still be on their way: everything published, then read it all.
        messages.extend(await take(tap, 10_000, within=0.3))
        async with invoicing_works.runtime.engine.connect() as conn:
            pending = await conn.scalar(sa.select(sa.func.count()).where(outbox.c.published_at.is_(None)))
        return pending == 0

    await eventually(outbox_empty, within=15)
    messages.extend(await take(tap, 10_000, within=0.5))
    mine = []
    for message in messages:
        envelope, data = parse_event(message.body)
        assert isinstance(data, DeadlineExceeded)
        if data.works_invoice_id == invoice["id"]:
            mine.append((envelope, data, message))
    [(envelope, data, message)] = mine
    assert message.delivery_mode == 2
    assert envelope.source == "/services/invoicing-works" and envelope.subject == invoice["id"]
    assert (data.deadline, data.notice_date, data.days_overdue) == (date(2026, 11, 9), day, 4)
    assert (data.moa.structure_id, data.moe.structure_id, data.supplier.structure_id) == (
        parties.moa,
        parties.moe,
        parties.supplier,
    )
    assert data.made_available_at == DEPOSIT_INSTANT
    ids = Counter(json.loads(m.body)["id"] for m in messages)
    assert max(ids.values()) == 1


async def test_every_transition_is_a_works_invoice_status_changed_event_in_order(
    invoicing_works: RunningInvoicingWorks, bus: BusProbe
):
    tap = await bus.tap("works-invoice-status-changed")
    parties = await new_parties(invoicing_works)
    invoice = await deposited(invoicing_works, parties, "A4")
    await invoicing_works.act(parties.moe_user, invoice["id"], "PRISE_EN_COMPTE")
    await invoicing_works.act(parties.moe_user, invoice["id"], "REJET", reason="pièces manquantes")
    await invoicing_works.client.post(
        "/works-invoices/rejections/process", json={"ids": [invoice["id"]]}, headers=parties.supplier_user
    )
    changes: list[dict[str, Any]] = []
    while len(changes) < 4 and (messages := await take(tap, 1)):
        data = json.loads(messages[0].body)["data"]
        if data["invoice_id"] == invoice["id"]:
            changes.append(data)
    assert [(c["from_status"], c["to_status"], c["capacity"]) for c in changes] == [
        (None, "DEPOSEE", "FOURNISSEUR"),
        ("DEPOSEE", "MISE_A_DISPOSITION_MOE", "FOURNISSEUR"),
        ("MISE_A_DISPOSITION_MOE", "PRISE_EN_COMPTE_MOE", "MOE"),
        ("PRISE_EN_COMPTE_MOE", "REJETEE", "MOE"),
    ]
    assert [c["sequence"] for c in changes] == sorted(c["sequence"] for c in changes)
    assert {(c["billing_frame"], c["billing_frame_code"]) for c in changes} == {
        ("A4", "A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR")
    }
    assert changes[-1]["motif"] == "pièces manquantes"
    assert (changes[0]["moe_structure_id"], changes[0]["moa_structure_id"]) == (parties.moe, parties.moa)
    # processing the rejection changes no status: no further event
    later = await take(tap, 10, within=1.0)
    assert all(json.loads(m.body)["data"]["invoice_id"] != invoice["id"] for m in later)


async def test_retention_keeps_one_notice_a_day(
    invoicing_works: RunningInvoicingWorks, capsys: pytest.CaptureFixture[str]
):
    """Notices past CHORUS_RETENTION_NOTICE_DAYS go; the days still kept are swept once, and a sweep of
    a day whose notices are gone is refused rather than issuing them again."""
    invoice = await deposited(invoicing_works, await new_parties(invoicing_works))
    first, second = date(2026, 11, 12), date(2026, 11, 13)
    for day in (first, second):
        assert await sweep(invoicing_works, day) >= 1
    clock = invoicing_works.clock
    before = clock.now()
    clock.set(datetime.combine(first + timedelta(days=401), time(12), tzinfo=UTC))
    try:
        done = await invoicing_works.runtime.apply_retention()
        assert done["deadline notices"] >= 1
        assert await notices_for(invoicing_works, invoice["id"]) == [second]
        assert await sweep(invoicing_works, second) == 0, "a day still kept is not noticed twice"
        assert await notices_for(invoicing_works, invoice["id"]) == [second]
    finally:
        clock.set(before)

    settings = invoicing_works.runtime.settings
    assert isinstance(settings, InvoicingWorksSettings)
    forgotten = date.today() - timedelta(days=settings.retention_notice_days + 1)
    assert await jobs.sweep_command(argparse.Namespace(as_of=forgotten, through=None), settings) == 2
    assert "are no longer kept" in capsys.readouterr().err
