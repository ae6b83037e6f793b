"""The use cases of invoicing-works called directly, without HTTP, against the real PostgreSQL."""

import json
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from chorus_common.actions import ActionRefused
from chorus_common.auth import Principal
from chorus_common.events import DeadlineExceeded, EventType, Party, build_event
from chorus_common.rejections import RejectionOutcome
from chorus_common.replica import PartyRef
from chorus_testing.directory import known_structure
from invoicing_works import use_cases
from invoicing_works.db import outbox
from invoicing_works.domain import Action, BillingFrame, Status

from .conftest import RunningInvoicingWorks


async def party(service: RunningInvoicingWorks) -> Party:
    """A structure of the directory, known to the service's read model, as events name it."""
    structure = await known_structure(service.runtime.engine)
    return Party(
        structure_id=structure, name=f"Structure {structure}", email=f"contact-{structure}@example.fr"
    )


async def parties(service: RunningInvoicingWorks) -> tuple[Party, Party, Party]:
    return await party(service), await party(service), await party(service)


def ref(party: Party) -> PartyRef:
    return PartyRef(party.structure_id)


def a4_draft(supplier: Party, moe: Party, moa: Party) -> use_cases.NewWorksInvoice:
    return use_cases.NewWorksInvoice(
        number=f"PDM-{uuid.uuid4().hex[:8]}",
        billing_frame=BillingFrame.A4,
        supplier=ref(supplier),
        moe=ref(moe),
        moa=ref(moa),
        currency="EUR",
        amounts=use_cases.Amounts(Decimal("25000.00"), Decimal("5000.00"), Decimal("30000.00")),
    )


def user_of(structure: Party) -> Principal:
    return Principal(sub=f"user-{structure.structure_id}", structures=frozenset({structure.structure_id}))


async def test_the_moa_takes_over_only_after_the_deadline_and_the_history_says_so(
    invoicing_works: RunningInvoicingWorks,
):
    runtime = invoicing_works.runtime
    supplier, moe, moa = await parties(invoicing_works)
    draft = await use_cases.deposit(runtime.unit_of_work(user_of(supplier)), a4_draft(supplier, moe, moa))
    assert draft["status"] == Status.MISE_A_DISPOSITION_MOE

    with pytest.raises(ActionRefused) as early:
        await use_cases.act(
            runtime.unit_of_work(user_of(moa)), draft["id"], Action.VALIDATION, None, None, None
        )
    assert early.value.slug == "take-over-too-early"

    invoicing_works.clock.advance(timedelta(days=8))
    try:
        taken = await use_cases.act(
            runtime.unit_of_work(user_of(moa)), draft["id"], Action.VALIDATION, None, None, None
        )
    finally:
        invoicing_works.clock.advance(timedelta(days=-8))
    assert taken["status"] == Status.MISE_A_DISPOSITION_MOA
    last = taken["history"][-1]
    assert (last["capacity"], last["acting_for"], last["actor_structure_id"]) == (
        "MOA",
        "MOE",
        moa.structure_id,
    )


async def test_processing_rejections_gives_each_id_its_outcome(invoicing_works: RunningInvoicingWorks):
    runtime = invoicing_works.runtime
    supplier, moe, moa = await parties(invoicing_works)
    rejected = await use_cases.deposit(runtime.unit_of_work(user_of(supplier)), a4_draft(supplier, moe, moa))
    await use_cases.act(
        runtime.unit_of_work(user_of(moe)), rejected["id"], Action.REJET, None, "illisible", None
    )
    pending = await use_cases.deposit(runtime.unit_of_work(user_of(supplier)), a4_draft(supplier, moe, moa))

    ids = [str(rejected["id"]), str(pending["id"]), "not-an-id", str(rejected["id"])]
    outcomes = await use_cases.process_rejections(runtime.unit_of_work(user_of(supplier)), ids)

    assert [outcome for _, outcome in outcomes] == [
        RejectionOutcome.PROCESSED,
        RejectionOutcome.NOT_REJECTED,
        RejectionOutcome.NOT_FOUND,
        RejectionOutcome.ALREADY_PROCESSED,
    ]


async def test_the_sweeps_documents_are_the_ones_the_catalogue_model_writes(
    invoicing_works: RunningInvoicingWorks,
):
    """The set-based sweep builds its events in SQL; they equal what `build_event` makes of the model."""
    runtime = invoicing_works.runtime
    supplier, moe, moa = await parties(invoicing_works)
    draft = await use_cases.deposit(runtime.unit_of_work(user_of(supplier)), a4_draft(supplier, moe, moa))
    day = date(2026, 12, 1)

    assert await use_cases.sweep_deadlines(runtime.unit_of_work(), day) >= 1

    async with runtime.engine.connect() as conn:
        bodies = (
            await conn.execute(sa.select(outbox.c.body).where(outbox.c.event_type == "deadline-exceeded"))
        ).scalars()
        written = next(d for d in map(json.loads, bodies) if d["subject"] == str(draft["id"]))
    expected = build_event(
        EventType.DEADLINE_EXCEEDED,
        runtime.settings.event_source,
        DeadlineExceeded(
            works_invoice_id=str(draft["id"]),
            number=draft["number"],
            billing_frame="A4",
            supplier=supplier,
            moe=moe,
            moa=moa,
            made_available_at=draft["made_available_at"],
            deadline=draft["moe_deadline"],
            days_overdue=(day - draft["moe_deadline"]).days,
            notice_date=day,
        ),
        invoicing_works.clock.now(),
        subject=str(draft["id"]),
        event_id=written["id"],
    )
    assert written == json.loads(expected.model_dump_json(exclude_none=True))
