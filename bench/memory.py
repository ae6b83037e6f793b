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
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import aio_pika
import asyncpg
from _figures import HEADER, RULE, Figure, record

from chorus_common.testing.events import delegation_routed
from chorus_common.testing.fixtures import free_port
from chorus_common.testing.platform import SERVICES, launched_platform
from chorus_common.testing.servers import create_vhost, delete_vhost, locate_servers, unique_name, vhost_url

TARGET_MB = 150
SAMPLES = 3
BARE_APP = """
import sys
import uvicorn
from fastapi import FastAPI
app = FastAPI()
@app.get("/health/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


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
    process = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)])
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        return samples(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


async def mail_burst(url: str, dsn: str, events: int) -> None:
    bodies = [delegation_routed() for _ in range(events)]
    connection = await aio_pika.connect_robust(url)
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange("chorus.events")
    for start in range(0, events, 500):
        await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(json.dumps(body).encode(), delivery_mode=2),
                    routing_key="delegation-routed",
                )
                for body in bodies[start : start + 500]
            )
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
