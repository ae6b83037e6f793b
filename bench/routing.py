"""Benchmark: sustained routing of `invoice-submitted` events by received-invoices.

With 10,000 delegations in place, publishes N `invoice-submitted` events (as fast as confirms allow)
to a received-invoices process started for the run, and prints events/s from the first publish to
the last committed routing, beside a baseline measured in the same run: raw aio-pika publishing the
same number of persistent messages with confirms to a quorum queue and consuming them with acks.
Each figure is the median of --runs runs, with min and max.

Usage: uv run python bench/routing.py [--events N] [--runs R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import sqlalchemy as sa
import uvloop
from _bus import producer_url, publish_all, raw_baseline_seconds
from _figures import HEADER, RULE, Figure, record
from sqlalchemy.ext.asyncio import AsyncEngine

from chorus_common.db import create_engine, drop_database
from chorus_common.migrations import upgrade_async
from chorus_testing.fixtures import free_port, producer_for
from chorus_testing.platform import load_launcher
from chorus_testing.servers import create_vhost, delete_vhost, unique_name, vhost_url

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS = ROOT / "services" / "received-invoices" / "src" / "received_invoices" / "migrations"
DELEGATIONS = 10_000

# The directory as the service's read model has it (what its snapshot events would have written).
SEED = """
INSERT INTO directory_structures (structure_id, cpp_id, identifier_type, name, kind, public_category, email,
                                  active, parameters, version, updated_at)
SELECT id, row_number() OVER (), 'AUTRE', name, kind, category, email, true, '{}', 1, now() FROM (
    SELECT 'MIN-' || n AS id, 'Ministere ' || n AS name, 'PUBLIQUE' AS kind, 'ETAT' AS category,
           'min' || n || '@example.fr' AS email
    FROM generate_series(1, :delegations) AS n
    UNION ALL SELECT 'DELEGATE-' || n, 'Delegate ' || n, 'PRIVEE', NULL, 'del' || n || '@example.fr'
    FROM generate_series(1, 100) AS n
    UNION ALL SELECT 'SUPPLIER', 'Supplier', 'PRIVEE', NULL, 'supplier@example.fr'
) AS seeded;
INSERT INTO directory_services (structure_id, code, name, active, engagement_required, version, updated_at)
SELECT 'MIN-' || n, s, 'Service ' || s, true, false, 1, now()
FROM generate_series(1, :delegations) AS n, unnest(ARRAY['S1', 'S2']) AS s;
INSERT INTO delegations (id, delegator_structure_id, delegate_structure_id, "right", scope, service_codes,
                         start_date, end_date, status, created_by, created_at)
SELECT gen_random_uuid(), 'MIN-' || n, 'DELEGATE-' || (n % 100 + 1),
       CASE WHEN n % 2 = 0 THEN 'VALIDATION' ELSE 'TRAITEMENT' END, 'SERVICES', ARRAY['S1'],
       DATE '2020-01-01', NULL, 'ACTIVE', 'bench', now()
FROM generate_series(1, :delegations) AS n;
"""


def invoice_event(n: int) -> bytes:
    ministry = f"MIN-{n % DELEGATIONS + 1}"
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/bench",
            "type": "invoice-submitted",
            "time": datetime.now(UTC).isoformat(),
            "data": {
                "external_id": f"EXT-{uuid.uuid4().hex}",
                "number": f"F-{n}",
                "billing_frame": "A1",
                "supplier": {"structure_id": "SUPPLIER", "name": "Supplier", "email": "supplier@example.fr"},
                "recipient": {
                    "structure_id": ministry,
                    "name": ministry,
                    "email": "m@example.fr",
                    "service_code": "S1" if n % 2 else "S2",  # half routed to a delegate
                },
                "amount_ht": "100.00",
                "vat_amount": "20.00",
                "amount_ttc": "120.00",
                "currency": "EUR",
                "issue_date": "2026-11-20",
            },
        }
    ).encode()


async def routing_run(engine: AsyncEngine, url: str, events: int) -> float:
    async with engine.begin() as conn:
        await conn.execute(sa.text("TRUNCATE received_invoice_history, received_invoices, inbox, outbox"))
    bodies = [invoice_event(n) for n in range(events)]
    connection = await aio_pika.connect_robust(url)
    channel = await connection.channel(publisher_confirms=True)
    # Where notifications would consume `delegation-routed`, so that the relay's events are routable.
    exchange = await channel.declare_exchange("chorus.events", aio_pika.ExchangeType.TOPIC, durable=True)
    routed = await channel.declare_queue(
        "bench.delegation-routed", durable=True, arguments={"x-queue-type": "quorum"}
    )
    await routed.bind(exchange, "delegation-routed")
    await routed.purge()
    # As the EDI channel would, on a connection of its own account.
    producer = await aio_pika.connect_robust(producer_url(url, "invoice-submitted"))
    producer_channel = await producer.channel(publisher_confirms=True)
    started = time.perf_counter()
    await publish_all(
        producer_channel, bodies, "invoice-submitted", user_id=producer_for("invoice-submitted")
    )
    while True:
        async with engine.connect() as conn:
            done = int(await conn.scalar(sa.text("SELECT count(*) FROM received_invoices")) or 0)
        if done >= events:
            break
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    await producer.close()
    await connection.close()
    return elapsed


async def main(events: int, runs: int) -> None:
    postgres = os.environ.get("POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
    rabbitmq = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
    database_url = f"{postgres}/{unique_name('bench_received_invoices')}"
    vhost = unique_name("chorus-bench")
    create_vhost(vhost)
    url = vhost_url(rabbitmq, vhost)
    await upgrade_async(MIGRATIONS, database_url, "alembic_version_received_invoices")
    engine = create_engine(database_url)
    port = free_port()
    env = {
        **os.environ,
        "CHORUS_DATABASE_URL": database_url,
        "CHORUS_RABBITMQ_URL": url,
        "CHORUS_HTTP_PORT": str(port),
        "CHORUS_LOG_LEVEL": "WARNING",
    }
    service = subprocess.Popen(  # noqa: ASYNC220 - the service under test, started once
        [sys.executable, "-m", "received_invoices", "serve"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL
    )
    try:
        async with engine.begin() as conn:
            for statement in SEED.strip().split(";\n"):
                await conn.execute(sa.text(statement), {"delegations": DELEGATIONS})
        ready = f"http://127.0.0.1:{port}/health/ready"
        if not load_launcher().wait_ready(ready, service, deadline=time.monotonic() + 60):
            raise RuntimeError("received-invoices did not become ready")
        routing, baseline = [], []
        for _ in range(runs):
            baseline.append(await raw_baseline_seconds(url, [invoice_event(n) for n in range(events)]))
            routing.append(await routing_run(engine, url, events))
        async with engine.connect() as conn:
            delegated = await conn.scalar(
                sa.text("SELECT count(*) FROM received_invoices WHERE status = 'A_VALIDER_1'")
            )
        print(
            f"{events:,} invoice-submitted events per run, {DELEGATIONS:,} delegations,"
            f" {delegated:,} routed to a delegate"
        )
        print(HEADER)
        print(RULE)
        record(
            Figure(
                "routing",
                f"received-invoices: invoice-submitted published -> routed and committed ({events:,} events)",
                "/s",
                [events / t for t in routing],
                baseline="raw aio-pika, confirms, quorum queue, acks",
                baseline_runs=[events / t for t in baseline],
            )
        )
    finally:
        service.terminate()
        service.wait(timeout=30)
        await engine.dispose()
        await drop_database(database_url)
        delete_vhost(vhost)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    uvloop.run(main(args.events, args.runs))
