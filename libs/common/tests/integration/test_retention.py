"""Retention: published outbox rows and inbox ids go past their windows, in batches; pending events
and recent ids stay; an erasing rule overwrites what it names and keeps the rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from chorus_common.db import ensure_database
from chorus_common.retention import RetentionRule, older_than
from chorus_common.runtime import ServiceRuntime, messaging_tables
from chorus_common.settings import ServiceSettings

metadata = sa.MetaData()
outbox, inbox = messaging_tables(metadata)
contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("email", sa.String(320)),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)


async def test_what_is_past_its_window_goes_in_batches_and_nothing_else(
    database_factory: Callable[[str], str], rabbitmq_url: str
):
    url = database_factory("retention")
    await ensure_database(url)
    settings = ServiceSettings(
        service_name="probe", database_url=url, rabbitmq_url=rabbitmq_url, retention_batch_size=3
    )
    runtime = ServiceRuntime(settings, outbox, inbox)
    runtime.retain(
        RetentionRule(
            "contact addresses",
            contacts,
            older_than(contacts.c.at, timedelta(days=90)),
            erase={"email": sa.literal("erased:") + sa.cast(contacts.c.id, sa.String)},
        )
    )
    runtime.retain(RetentionRule("contacts", contacts, older_than(contacts.c.at, timedelta(days=400))))
    now = datetime.now(UTC)

    def ago(days: float) -> datetime:
        return now - timedelta(days=days)

    try:
        async with runtime.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            outbox_rows: list[tuple[str, datetime, datetime | None]] = [
                # published 8 days ago: past the 7-day window (seven of them: three batches of 3)
                *(("old", ago(8), ago(8)) for _ in range(7)),
                ("recent", ago(6), ago(6)),
                # never published, however old: the relay still owes it to the broker
                ("pending", ago(60), None),
            ]
            for label, created_at, published_at in outbox_rows:
                await conn.execute(
                    outbox.insert().values(
                        event_id=label + "-" + uuid.uuid4().hex,
                        event_type="probe",
                        body="{}",
                        created_at=created_at,
                        published_at=published_at,
                    )
                )
            for days in (31, 31, 29):
                await conn.execute(
                    inbox.insert().values(
                        event_id=f"{days}-{uuid.uuid4().hex}",
                        event_type="probe",
                        source="/p",
                        processed_at=ago(days),
                    )
                )
            for days in (10, 100, 100, 500):
                await conn.execute(
                    contacts.insert().values(id=uuid.uuid4(), email=f"{days}@x.fr", at=ago(days))
                )

        done = await runtime.apply_retention()
        assert done == {"published outbox rows": 7, "inbox ids": 2, "contact addresses": 3, "contacts": 1}

        async with runtime.engine.connect() as conn:
            kept = (await conn.execute(sa.select(outbox.c.event_id))).scalars().all()
            assert sorted(event_id.split("-")[0] for event_id in kept) == ["pending", "recent"]
            assert [i.split("-")[0] for i in (await conn.execute(sa.select(inbox.c.event_id))).scalars()] == [
                "29"
            ]
            emails = sorted((await conn.execute(sa.select(contacts.c.email))).scalars())
        assert emails[0] == "10@x.fr"
        assert [email.startswith("erased:") for email in emails[1:]] == [True, True], emails

        assert await runtime.apply_retention() == dict.fromkeys(done, 0), "a second run finds nothing"
    finally:
        await runtime.engine.dispose()
        await runtime.direct_reads.close()


def test_an_inbox_window_shorter_than_redeliveries_is_refused():
    with pytest.raises(ValidationError, match="CHORUS_RETENTION_INBOX_DAYS"):
        ServiceSettings(
            service_name="probe", app_env="dev", retention_inbox_days=3, redelivery_horizon_days=7
        )
