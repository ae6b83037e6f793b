"""Benchmark: resident memory of each service, idle.

Starts the whole platform as processes (the launcher of `make run`), samples each service's resident
set size 3 times once it is idle, and reports each beside the baseline measured in the same run: a
bare FastAPI app under uvicorn. Target: <= 150 MB per service. Notifications' memory under load is
measured at the end of the pipeline benchmark (`bench/notification_pipeline.py`).

Usage: uv run python bench/memory.py
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from _figures import HEADER, RULE, Figure, record
from _servers import bare_app, serving

from chorus_testing.fixtures import free_port
from chorus_testing.platform import SERVICES, launched_platform
from chorus_testing.servers import create_vhost, delete_vhost, locate_servers, unique_name, vhost_url

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


def main() -> None:
    with ExitStack() as stack:
        servers = locate_servers(stack)
        vhost = unique_name("chorus-bench")
        create_vhost(vhost)
        stack.callback(delete_vhost, vhost)
        url = vhost_url(servers.rabbitmq_url, vhost)
        run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        quiet = {"CHORUS_LOG_LEVEL": "WARNING"}
        baseline = bare_app_samples()
        with launched_platform(servers, url, run_dir, extra_env=quiet, name="bench") as platform:
            time.sleep(3)  # started: connections made, first sweeps and polls done
            idle = {service: samples(platform.pid(service)) for service in SERVICES}
    print(HEADER)
    print(RULE)
    for service, taken in idle.items():
        record(
            Figure(
                "memory",
                f"{service} resident, idle",
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
    parser.parse_args()
    main()
