"""Benchmark: the deadline sweep over 1,000,000 works invoices and the relay publishing its events.

Loads 1,000,000 works invoices (100,000 overdue A4 drafts naming an MOA) into a throwaway database,
then prints, each as the median of 3 runs with min and max:
- the time of a plain `SELECT count(*)` of the sweep's predicate (the baseline),
- the time of the sweep itself (claiming the day and writing 100,000 events to the outbox),
- the time for the outbox relay to put the 100,000 events on RabbitMQ, with confirms.

Usage: uv run python bench/deadline_sweep.py [--invoices N] [--overdue M] [--runs R]
Needs PostgreSQL (POSTGRES_URL) and RabbitMQ (RABBITMQ_URL, with rabbitmqctl for a throwaway vhost).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import time
from datetime import UTC, date, datetime
from pathlib import Path

import aio_pika
import sqlalchemy as sa
import uvloop
from _figures import HEADER, RULE, Figure, record
from sqlalchemy.ext.asyncio import AsyncEngine

from chorus_common.clock import FixedClock
from chorus_common.db import DirectReads, create_engine, drop_database
from chorus_common.messaging.outbox import OutboxRelay
from chorus_common.migrations import upgrade_async
from chorus_common.unit_of_work import UnitOfWork
from chorus_testing.servers import create_vhost, delete_vhost, unique_name, vhost_url
from invoicing_works.db import outbox
from invoicing_works.use_cases import sweep_deadlines

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS = ROOT / "services" / "invoicing-works" / "src" / "invoicing_works" / "migrations"
NOTICE_DATE = date(2026, 11, 20)

PARTY = """jsonb_build_object('structure_id', '{kind}-' || (n % 5000), 'name', '{kind} ' || (n % 5000),
    'email', '{kind}-' || (n % 5000) || '@example.fr', 'service_code', NULL)"""

# Every tenth invoice is an overdue A4 naming an MOA; the others are spread over frames, statuses,
# not-yet-due A4 drafts and A4 drafts without an MOA, so that the predicate has to select.
LOAD = f"""
INSERT INTO works_invoices (
    id, number, billing_frame, status, supplier_structure_id, moe_structure_id, moa_structure_id,
    supplier, moe, moa, currency, amount_ht, vat_amount, amount_ttc, made_available_at, moe_deadline,
    deposited_by, created_at, updated_at)
SELECT
    gen_random_uuid(), 'N-' || n,
    CASE WHEN n % 10 IN (0, 1, 2, 3) THEN 'A4' ELSE (ARRAY['A5','A6','A7','A8','A13','A19'])[1 + n % 6] END,
    CASE WHEN n % 10 IN (0, 1, 2) THEN 'MISE_A_DISPOSITION_MOE'
         ELSE (ARRAY['MISE_A_DISPOSITION_MOA', 'TRANSMISE_MOA', 'REJETEE', 'PRISE_EN_COMPTE_MOE'])[1 + n % 4]
    END,
    'SUP-' || (n % 5000), 'MOE-' || (n % 5000),
    CASE WHEN n % 10 = 2 THEN NULL ELSE 'MOA-' || (n % 5000) END,
    {PARTY.format(kind="SUP")}, {PARTY.format(kind="MOE")},
    CASE WHEN n % 10 = 2 THEN NULL ELSE {PARTY.format(kind="MOA")} END,
    'EUR', 1000.00, 200.00, 1200.00,
    TIMESTAMPTZ '2026-11-01 09:00:00+00',
    CASE WHEN n % 10 = 1 THEN DATE '2026-11-25' ELSE DATE '2026-11-08' END,
    'bench', now(), now()
FROM generate_series(1, :invoices) AS n
"""

COUNT = sa.text(
    """
SELECT count(*) FROM works_invoices
WHERE billing_frame = 'A4' AND status = 'MISE_A_DISPOSITION_MOE'
  AND moa_structure_id IS NOT NULL AND moe_deadline < :notice_date
"""
)


def queue_depth(vhost: str, queue: str) -> int:
    """Messages in a queue as RabbitMQ reports them (its statistics lag a little behind confirms)."""
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "messages", "--no-table-headers"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return next((int(line.split()[1]) for line in listing.splitlines() if line.split()[0] == queue), 0)


async def wait_for_depth(vhost: str, queue: str, expected: int) -> int:
    depth = 0
    for _ in range(60):
        depth = queue_depth(vhost, queue)
        if depth >= expected:
            break
        await asyncio.sleep(0.5)
    return depth


async def main(invoices: int, runs: int, batch_size: int) -> None:
    postgres = os.environ.get("POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
    rabbitmq = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
    database_url = f"{postgres}/{unique_name('bench_invoicing_works')}"
    vhost = unique_name("chorus-bench")
    await upgrade_async(MIGRATIONS, database_url, "alembic_version_invoicing_works")
    create_vhost(vhost)
    engine = create_engine(database_url)
    reads = DirectReads(database_url, 1)
    clock = FixedClock(datetime(2026, 11, 20, 6, 0, tzinfo=UTC))
    try:
        started = time.perf_counter()
        async with engine.begin() as conn:
            await conn.execute(sa.text(LOAD), {"invoices": invoices})
            await conn.execute(sa.text("ANALYZE works_invoices"))
        overdue = int(await _scalar(engine, COUNT, {"notice_date": NOTICE_DATE}))
        print(
            f"loaded {invoices:,} works invoices ({overdue:,} overdue with an MOA)"
            f" in {time.perf_counter() - started:.1f} s"
        )

        count_times, sweep_times, relay_times = [], [], []
        connection = await aio_pika.connect_robust(vhost_url(rabbitmq, vhost))
        channel = await connection.channel()
        exchange = await channel.declare_exchange("chorus.events", aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(
            "bench.deadline-exceeded", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange, "deadline-exceeded")
        for _ in range(runs):
            async with engine.begin() as conn:
                await conn.execute(sa.text("TRUNCATE deadline_notices, outbox"))
            await queue.purge()

            started = time.perf_counter()
            await _scalar(engine, COUNT, {"notice_date": NOTICE_DATE})
            count_times.append(time.perf_counter() - started)

            started = time.perf_counter()
            unit = UnitOfWork(engine, outbox, clock, "/services/invoicing-works", reads, lambda: None)
            issued = await sweep_deadlines(unit, NOTICE_DATE)
            sweep_times.append(time.perf_counter() - started)
            assert issued == overdue, (issued, overdue)

            relay = OutboxRelay("bench", engine, outbox, vhost_url(rabbitmq, vhost), batch_size=batch_size)
            started = time.perf_counter()
            while await relay.publish_pending():
                pass
            relay_times.append(time.perf_counter() - started)
            await relay.stop()
            pending = await _scalar(engine, sa.select(sa.func.count()).where(outbox.c.published_at.is_(None)))
            on_bus = await wait_for_depth(vhost, "bench.deadline-exceeded", overdue)
            assert pending == 0 and on_bus == overdue, (pending, on_bus, overdue)
        await connection.close()

        sweep_ratio = statistics.median(sweep_times) / statistics.median(count_times)
        print(HEADER)
        print(RULE)
        record(
            Figure(
                "deadline sweep",
                f"sweep: claim the day, write {overdue:,} events to the outbox ({invoices:,} invoices)",
                "s",
                sweep_times,
                baseline="SELECT count(*) of the predicate",
                baseline_runs=count_times,
                target="<= 10x the count",
                met=sweep_ratio <= 10,
            )
        )
        relay_rates = [overdue / t for t in relay_times]
        record(
            Figure(
                "deadline sweep",
                f"relay: outbox to RabbitMQ with confirms (batches of {batch_size})",
                "/s",
                relay_rates,
                target=">= 5,000/s",
                met=statistics.median(relay_rates) >= 5000,
            )
        )
    finally:
        await engine.dispose()
        await drop_database(database_url)
        delete_vhost(vhost)


async def _scalar(engine: AsyncEngine, statement: sa.Executable, params: dict | None = None) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(statement, params or {}) or 0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    # uvloop, as the services run under uvicorn.
    uvloop.run(main(args.invoices, args.runs, args.batch_size))
