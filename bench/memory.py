"""Benchmark: resident memory of each service, idle and after a burst of notifications.

Starts the whole platform as processes (the launcher of `make run`), samples each service's resident
set size 3 times once it is idle, then after 2,000 `delegation-routed` events have been mailed, and
reports each beside the baseline measured in the same run: a bare FastAPI app under uvicorn.
Target: <= 150 MB per service.

Usage: uv run python bench/memory.py [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import aio_pika
import asyncpg
from _figures import HEADER, RULE, Figure, record
from _servers import bare_app, serving

from chorus_common.testing.events import delegation_routed
from chorus_common.testing.fixtures import BusProbe, free_port
from chorus_common.testing.platform import SERVICES, launched_platform
from chorus_common.testing.servers import create_vhost, delete_vhost, locate_servers, unique_name, vhost_url

TARGET_MB = 150
SAMPLES = 3


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def samples(pid: int) -> list[float]:
    taken = []
    for _ in range(SAMPLES):
        taken.append(resident_mb(pid))
        time.sleep(1)
    return taken


def bare_app_samples() -> list[float]:
    port = free_port()
    with serving(bare_app(port), f"http://127.0.0.1:{port}/constant", dict(os.environ)) as process:
        return samples(process.pid)


async def mail_burst(url: str, dsn: str, events: int) -> None:
    connection = await aio_pika.connect_robust(url)
    await BusProbe(connection).publish_many(
        [("delegation-routed", delegation_routed()) for _ in range(events)]
    )
    await connection.close()
    while True:
        conn = await asyncpg.connect(dsn)
        try:
            decided = await conn.fetchval("SELECT count(*) FROM notification_decisions")
        finally:
            await conn.close()
        if decided >= events:
            return
        await asyncio.sleep(0.5)


def main(events: int) -> None:
    with ExitStack() as stack:
        servers = locate_servers(stack)
        vhost = unique_name("chorus-bench")
        create_vhost(vhost)
        stack.callback(delete_vhost, vhost)
        url = vhost_url(servers.rabbitmq_url, vhost)
        run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        quiet = {"LOG_LEVEL": "WARNING"}
        baseline = bare_app_samples()
        with launched_platform(servers, url, run_dir, extra_env=quiet, name="bench") as platform:
            time.sleep(3)  # started: connections made, first sweeps and polls done
            idle = {service: samples(platform.pid(service)) for service in SERVICES}
            asyncio.run(mail_burst(url, platform.database_dsn("notifications"), events))
            loaded = {service: samples(platform.pid(service)) for service in SERVICES}
    print(HEADER)
    print(RULE)
    for moment, measured in (("idle", idle), (f"after {events:,} notifications", loaded)):
        for service, taken in measured.items():
            record(
                Figure(
                    "memory",
                    f"{service} resident, {moment}",
                    "MB",
                    taken,
                    baseline="bare FastAPI app under uvicorn",
                    baseline_runs=baseline,
                    target=f"<= {TARGET_MB} MB",
                    met=max(taken) <= TARGET_MB,
                )
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2000)
    main(parser.parse_args().events)
