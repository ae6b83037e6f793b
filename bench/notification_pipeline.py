"""Benchmark: the notification pipeline, from an external publisher to mails accepted by an SMTP sink.

Starts notifications (--workers worker processes, the deployment's way to scale it) on its own
database and vhost, with `notify-delegation-routed` on and Debian postfix's C `smtp-sink` as the
relay, so that the relay does not bound the figure. Then, as an external system would:

- seeds its read model of the directory with 1,000 delegate structures, each with its principal
  manager, so that every mail's recipient is resolved from the replica;
- publishes, as received-invoices (the producer the catalogue allows), N `delegation-routed` events
  (to those delegates in turn) as fast as confirms allow, and
  measures events/s from the first publish to the last `SENT` decision, and notifications' CPU time
  per mail (the workers' process CPU seconds / mails);
- publishes at a fixed rate (open loop: each event's send time is set in advance, whatever the
  service does) at 25%, 50% and 90% of that maximum, and measures publish -> mail latency: each
  message carries its scheduled send time in nanoseconds (header `x-published-ns`), the service
  records when the relay accepted the mail (`sent_at`), and the latencies go into an HDR
  histogram (1 us to 60 s, 3 significant digits) for p50, p99 and p99.9;
- checks that the sink received one mail per SENT decision;
- records the workers' resident memory at the end.

Baseline in the same run: raw aio-pika publishing persistent messages with confirms to a quorum
queue and consuming them with acks, no work. Targets: >= 1,000 mails/s and >= 0.3x the baseline;
p99 <= 50 ms at 50% of the maximum.

Usage: uv run python bench/notification_pipeline.py [--events N] [--runs R] [--seconds S] [--workers W]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import uvloop
from _bus import EVENTS_EXCHANGE, producer_url, publish_all, raw_baseline_seconds
from _figures import HEADER, RULE, Figure, record
from _servers import ROOT, bare_app, serving
from hdrh.histogram import HdrHistogram

from chorus_common.db import drop_database
from chorus_common.migrations import upgrade_async
from chorus_testing.events import delegation_routed
from chorus_testing.fixtures import free_port, producer_for, write_flags
from chorus_testing.servers import create_vhost, delete_vhost, unique_name, vhost_url

MIGRATIONS = ROOT / "services" / "notifications" / "src" / "notifications" / "migrations"
LOAD_LEVELS = (0.25, 0.5, 0.9)
TARGET_RATE = 1000
TARGET_RATIO = 0.3
TARGET_P99_MS = 50
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Pipeline:
    url: str  # the vhost's AMQP URL
    dsn: str  # notifications' database, for asyncpg
    workers: list[subprocess.Popen[bytes]]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@contextmanager
def smtp_sink(dump_dir: Path) -> Iterator[int]:
    """postfix's smtp-sink on a free port, writing each accepted mail to a file of `dump_dir`."""
    sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not Path(sink).exists():
        raise RuntimeError("smtp-sink not found: `make bench-tools` installs Debian's postfix")
    dump_dir.mkdir()
    # smtp-sink drops its privileges to nobody, who must reach and write the folder.
    dump_dir.parent.chmod(0o755)
    dump_dir.chmod(0o777)
    port = free_port()
    process = subprocess.Popen(
        [sink, "-u", "nobody", "-d", f"{dump_dir}/%H%M%S.", f"127.0.0.1:{port}", "1024"],
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.3)
        if process.poll() is not None:
            raise RuntimeError("smtp-sink did not start")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


async def decided(dsn: str, event_ids: list[str]) -> dict[str, tuple[str, float]]:
    """Each decided event's status and the time (epoch ns) its mail was sent; all must be SENT."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT event_id, status, reason,"
            " extract(epoch FROM coalesce(sent_at, decided_at))::numeric * 1e9 AS decided_ns"
            " FROM notification_decisions WHERE event_id = ANY($1::text[])",
            event_ids,
        )
    finally:
        await conn.close()
    failed = [row["reason"] for row in rows if row["status"] != "SENT"]
    if failed:
        raise RuntimeError(f"{len(failed)} decisions not SENT, e.g. {failed[0]}")
    return {row["event_id"]: (row["status"], float(row["decided_ns"])) for row in rows}


async def wait_decided(dsn: str, event_ids: list[str], within: float = 300) -> dict[str, tuple[str, float]]:
    deadline = time.monotonic() + within
    conn = await asyncpg.connect(dsn)
    try:
        while time.monotonic() < deadline:
            count = await conn.fetchval(
                "SELECT count(*) FROM notification_decisions WHERE event_id = ANY($1::text[])"
                " AND status <> 'PENDING'",
                event_ids,
            )
            if count >= len(event_ids):
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"only {count} of {len(event_ids)} events decided within {within}s")
    finally:
        await conn.close()
    return await decided(dsn, event_ids)


DELEGATES = 1000
# The directory as notifications' read model has it from the snapshot events: DELEGATES structures,
# each with its principal manager, whom a delegation-routed mail to that structure goes to.
DIRECTORY = [
    """INSERT INTO directory_structures (structure_id, cpp_id, identifier_type, name, kind, email, active,
                                         parameters, version, updated_at)
       SELECT 'DELEGATE-' || n, 25000000 + n, 'AUTRE', 'Delegate ' || n, 'PRIVEE', NULL, true, '{}', 1, now()
       FROM generate_series(1, $1::int) AS n""",
    """INSERT INTO directory_users (sub, email, name, version, updated_at)
       SELECT 'manager-' || n, 'manager-' || n || '@example.fr', 'Manager ' || n, 1, now()
       FROM generate_series(1, $1::int) AS n""",
    """INSERT INTO directory_attachments (sub, structure_id, service_code, role, notifications)
       SELECT 'manager-' || n, 'DELEGATE-' || n, '', 'GESTIONNAIRE_PRINCIPAL', true
       FROM generate_series(1, $1::int) AS n""",
]


async def seed_directory(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in DIRECTORY:
            await conn.execute(statement, DELEGATES)
    finally:
        await conn.close()


def events(count: int) -> list[tuple[str, bytes]]:
    """`count` delegation-routed events, to the delegates of the directory in turn."""
    made = [delegation_routed() for _ in range(count)]
    for n, event in enumerate(made):
        delegate = n % DELEGATES + 1
        event["data"]["delegate"] = {"structure_id": f"DELEGATE-{delegate}", "name": f"Delegate {delegate}"}
    return [(event["id"], json.dumps(event).encode()) for event in made]


async def max_rate_run(pipeline: Pipeline, count: int) -> tuple[float, float]:
    """(events/s from the first publish to the last decision, workers' CPU seconds per mail)."""
    batch = events(count)
    cpu_before = sum(cpu_seconds(worker.pid) for worker in pipeline.workers)
    connection = await aio_pika.connect_robust(producer_url(pipeline.url, "delegation-routed"))
    channel = await connection.channel(publisher_confirms=True)
    started_ns = time.time_ns()
    producer = producer_for("delegation-routed")
    await publish_all(channel, [body for _, body in batch], "delegation-routed", user_id=producer)
    await connection.close()
    found = await wait_decided(pipeline.dsn, [event_id for event_id, _ in batch])
    cpu = sum(cpu_seconds(worker.pid) for worker in pipeline.workers) - cpu_before
    last_ns = max(decided_ns for _, decided_ns in found.values())
    return count / ((last_ns - started_ns) / 1e9), cpu / count


async def open_loop_run(pipeline: Pipeline, rate: float, seconds: float) -> HdrHistogram:
    """Publish at `rate` events/s for `seconds`, each at its scheduled time; latencies in microseconds."""
    count = max(1, int(rate * seconds))
    batch = events(count)
    connection = await aio_pika.connect_robust(producer_url(pipeline.url, "delegation-routed"))
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
    producer = producer_for("delegation-routed")
    interval_ns = 1e9 / rate
    scheduled: dict[str, int] = {}
    confirms: set[asyncio.Future[Any]] = set()
    start_ns = time.time_ns() + 50_000_000
    sent = 0
    while sent < count:
        now = time.time_ns()
        due = min(count, int((now - start_ns) / interval_ns) + 1) if now >= start_ns else 0
        while sent < due:
            event_id, body = batch[sent]
            at = int(start_ns + sent * interval_ns)
            scheduled[event_id] = at
            message = aio_pika.Message(
                body, delivery_mode=2, headers={"x-published-ns": at}, message_id=event_id, user_id=producer
            )
            confirm = asyncio.ensure_future(exchange.publish(message, routing_key="delegation-routed"))
            confirms.add(confirm)
            confirm.add_done_callback(confirms.discard)
            sent += 1
        await asyncio.sleep(min(0.002, interval_ns / 1e9))
    await asyncio.gather(*confirms)
    await connection.close()
    found = await wait_decided(pipeline.dsn, list(scheduled))
    histogram = HdrHistogram(1, 60_000_000, 3)
    for event_id, (_, decided_ns) in found.items():
        histogram.record_value(max(1, int((decided_ns - scheduled[event_id]) / 1000)))
    return histogram


def start_workers(count: int, env: dict[str, str]) -> tuple[ExitStack, list[subprocess.Popen[bytes]]]:
    stack = ExitStack()
    workers = []
    for _ in range(count):
        port = free_port()
        worker_env = {**env, "CHORUS_HTTP_PORT": str(port)}
        command = [sys.executable, "-m", "notifications", "serve"]
        workers.append(
            stack.enter_context(serving(command, f"http://127.0.0.1:{port}/health/ready", worker_env))
        )
    return stack, workers


async def measure(pipeline: Pipeline, count: int, runs: int, seconds: float) -> None:
    baseline, rates, cpu = [], [], []
    for _ in range(runs):
        baseline.append(count / await raw_baseline_seconds(pipeline.url, [body for _, body in events(count)]))
        rate, cpu_per_mail = await max_rate_run(pipeline, count)
        rates.append(rate)
        cpu.append(cpu_per_mail * 1000)
    sustained = statistics.median(rates)
    workers = len(pipeline.workers)
    print(HEADER)
    print(RULE)
    record(
        Figure(
            "pipeline",
            f"delegation-routed published -> SENT, mail accepted by smtp-sink ({count:,} events,"
            f" {workers} worker process{'es' if workers > 1 else ''}), max",
            "/s",
            rates,
            baseline="raw aio-pika, confirms, quorum queue, acks, no work",
            baseline_runs=baseline,
            target=f">= {TARGET_RATE:,}/s and >= {TARGET_RATIO}x",
            met=sustained >= TARGET_RATE and sustained >= TARGET_RATIO * statistics.median(baseline),
        )
    )
    record(Figure("pipeline", "notifications CPU time per mail (all workers)", "ms", cpu))
    for level in LOAD_LEVELS:
        rate = sustained * level
        histograms = [await open_loop_run(pipeline, rate, seconds) for _ in range(runs)]
        for percentile in (50.0, 99.0, 99.9):
            target = level == 0.5 and percentile == 99.0
            values = [h.get_value_at_percentile(percentile) / 1000 for h in histograms]
            record(
                Figure(
                    "pipeline",
                    f"publish -> mail p{percentile:g} at {rate:,.0f}/s ({level:.0%} of the max, open loop)",
                    "ms",
                    values,
                    target=f"<= {TARGET_P99_MS} ms" if target else None,
                    met=statistics.median(values) <= TARGET_P99_MS if target else None,
                )
            )


def sink_count(sink_dir: Path) -> int:
    return sum(1 for _ in sink_dir.iterdir())


def main(count: int, runs: int, seconds: float, workers: int) -> None:
    postgres = os.environ.get("POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
    rabbitmq = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
    database_url = f"{postgres}/{unique_name('bench_notifications')}"
    vhost = unique_name("chorus-bench")
    with ExitStack() as stack:
        create_vhost(vhost)
        stack.callback(delete_vhost, vhost)
        stack.callback(lambda: asyncio.run(drop_database(database_url)))
        url = vhost_url(rabbitmq, vhost)
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(dir="/dev/shm")))
        flags = scratch / "flags.json"
        write_flags(flags, {"notify-delegation-routed": True})
        asyncio.run(upgrade_async(MIGRATIONS, database_url, "alembic_version_notifications"))
        asyncio.run(seed_directory(database_url.replace("postgresql+asyncpg://", "postgresql://")))
        sink_dir = scratch / "sink"
        sink_port = stack.enter_context(smtp_sink(sink_dir))
        env = {
            **os.environ,
            "CHORUS_DATABASE_URL": database_url,
            "CHORUS_RABBITMQ_URL": url,
            "CHORUS_SMTP_PORT": str(sink_port),
            "CHORUS_SERVICE_ROLE": "worker",
            "CHORUS_FLAGD_OFFLINE_FLAG_SOURCE_PATH": str(flags),
            "CHORUS_LOG_LEVEL": "WARNING",
        }
        processes, started = start_workers(workers, env)
        stack.enter_context(processes)
        pipeline = Pipeline(url, database_url.replace("postgresql+asyncpg://", "postgresql://"), started)
        uvloop.run(measure(pipeline, count, runs, seconds))
        decided_count = asyncio.run(count_decisions(pipeline.dsn))
        mails = sink_count(sink_dir)
        if mails != decided_count:
            raise RuntimeError(f"{decided_count} SENT decisions but {mails} mails at the sink")
        print(f"{mails:,} mails accepted by smtp-sink, one per SENT decision")
        port = free_port()
        with serving(bare_app(port), f"http://127.0.0.1:{port}/constant", dict(os.environ)) as bare:
            bare_mb = resident_mb(bare.pid)
        for index, worker in enumerate(started, 1):
            record(
                Figure(
                    "memory",
                    f"notifications worker {index} resident, at the end of the pipeline benchmark",
                    "MB",
                    [resident_mb(worker.pid) for _ in range(3)],
                    baseline="bare FastAPI app under uvicorn",
                    baseline_runs=[bare_mb],
                    target="<= 150 MB",
                    met=resident_mb(worker.pid) <= 150,
                )
            )


async def count_decisions(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM notification_decisions WHERE status = 'SENT'"))
    finally:
        await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=6000, help="events per maximum-rate run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each open-loop run")
    parser.add_argument("--workers", type=int, default=2, help="notifications worker processes")
    args = parser.parse_args()
    main(args.events, args.runs, args.seconds, args.workers)
