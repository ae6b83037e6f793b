"""Benchmark: HTTP deposit and read of received invoices, one worker process, beside a bare endpoint.

received-invoices runs as `python -m received_invoices serve` (one uvicorn worker). In other processes:
- wrk (closed loop, 64 connections, 10 s) measures the maximum requests/s of
  `POST /invoices` (a deposit: validation, routing to the recipient's service, history and outbox write)
  and `GET /invoices/{id}`; the baseline is a bare FastAPI endpoint returning a constant, same settings;
- an open-loop generator (kept-alive HTTP/1.1 connections under uvloop; it holds 4,000 requests/s
  against the bare endpoint with p99 under 2 ms) then sends requests at half of each maximum and
  reports p50/p99 latency, measured from each request's scheduled time (so a stalled server is not
  under-reported).
Each figure is the median of 3 runs. Targets: deposit >= 500/s, read >= 1,500/s, p99 <= 50 ms at half
of the maximum.

Usage: uv run python bench/http_api.py [--seconds S]   (needs `wrk`: `make bench` installs it)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import uvloop
from _directory import into, snapshots
from _figures import HEADER, RULE, Figure, record
from _servers import bare_app, serving
from stdnum import luhn

from chorus_common.auth import mint_dev_token
from chorus_common.db import drop_database
from chorus_testing.fixtures import free_port
from chorus_testing.servers import create_vhost, delete_vhost, locate_servers, unique_name, vhost_url

ROOT = Path(__file__).resolve().parents[1]
RUNS = 3
CONNECTIONS = 64
DEPOSIT_SCRIPT = """
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer %(token)s"
local template = [[%(template)s]]
local thread_id = 0
local counter = 0
setup = function(thread)
    thread_id = thread_id + 1
    thread:set("prefix", "%(run)s-" .. thread_id)
end
request = function()
    counter = counter + 1
    local id = prefix .. "-" .. counter
    return wrk.format(nil, "/invoices", nil, string.format(template, id, id))
end
"""
CONTENT_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")
READ_SCRIPT = """
wrk.headers["authorization"] = "Bearer %(token)s"
"""


def siret(seed: int) -> str:
    body = f"{seed:013d}"
    return body + luhn.calc_check_digit(body)


def wrk(url: str, seconds: int, script: str | None = None) -> tuple[float, int]:
    """(requests/s, non-2xx responses) of a closed-loop wrk run."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s"]
        if script:
            lua.write(script)
            lua.flush()
            command += ["-s", lua.name]
        done = subprocess.run([*command, url], capture_output=True, text=True, check=True)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    return rate, int(errors.group(1)) if errors else 0


class KeptAliveConnection:
    """One HTTP/1.1 keep-alive connection, one request at a time: cheaper than a general client, so the
    generator can hold the rates it is asked for on the same 2 cores as the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> KeptAliveConnection:
        return cls(*await asyncio.open_connection(host, port))

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        length = CONTENT_LENGTH.search(head)
        body = await self._reader.readexactly(int(length.group(1))) if length else b""
        return int(head[9:12]), body

    def close(self) -> None:
        self._writer.close()


async def open_loop(
    method: str, url: str, rate: float, seconds: float, headers: dict[str, str], body: str | None
) -> list[float]:
    """Latencies (ms) of requests sent at a fixed rate, each measured from its scheduled start; a
    request due while every connection is busy opens another one rather than waiting for one."""
    target = urlsplit(url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    head = f"{method} {target.path} HTTP/1.1\r\nhost: {host}:{port}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )

    def request(n: int) -> bytes:
        if body is None:
            return (head + "\r\n").encode()
        unique = f"ol-{n}-{uuid.uuid4().hex[:8]}"
        content = (body % (unique, unique)).encode()
        return (head + f"content-length: {len(content)}\r\n\r\n").encode() + content

    latencies: list[float] = []
    idle: list[KeptAliveConnection] = []

    async def one(scheduled: float, n: int) -> None:
        connection = idle.pop() if idle else await KeptAliveConnection.open(host, port)
        try:
            status, answer = await connection.exchange(request(n))
        except (asyncio.IncompleteReadError, ConnectionError):
            # The server closed a connection left idle longer than its keep-alive: as any client
            # would, send again on a new one (the latency still counts from the scheduled time).
            connection.close()
            connection = await KeptAliveConnection.open(host, port)
            status, answer = await connection.exchange(request(n))
        if status >= 300:
            raise RuntimeError(f"{status}: {answer[:200]!r}")
        latencies.append((time.perf_counter() - scheduled) * 1000)
        idle.append(connection)

    # Open the connections first, so that the figures are not those of TCP set-up.
    await asyncio.gather(*(one(time.perf_counter(), -n - 1) for n in range(CONNECTIONS)))
    latencies.clear()
    tasks = []
    started = time.perf_counter()
    for n in range(int(rate * seconds)):
        scheduled = started + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled, n)))
    await asyncio.gather(*tasks)
    for connection in idle:
        connection.close()
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def latency_runs(
    method: str, url: str, rate: float, seconds: float, headers: dict[str, str], body: str | None
) -> tuple[list[float], list[float]]:
    """p50 and p99 of each of RUNS open-loop runs, from a separate process (the load generator)."""
    p50s, p99s = [], []
    for _ in range(RUNS):
        spec = {"method": method, "url": url, "rate": rate, "seconds": seconds}
        payload = json.dumps({**spec, "headers": headers, "body": body})
        done = subprocess.run(
            [sys.executable, __file__, "--generate", payload],
            capture_output=True,
            text=True,
            check=False,
            timeout=seconds * 10 + 60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the load generator failed at {rate:,.0f}/s on {url}:\n{done.stderr[-3000:]}")
        latencies = json.loads(done.stdout)
        p50s.append(percentile(latencies, 0.50))
        p99s.append(percentile(latencies, 0.99))
    return p50s, p99s


def main(seconds: int) -> None:
    with ExitStack() as stack:
        servers = locate_servers(stack)
        vhost = unique_name("chorus-bench")
        create_vhost(vhost)
        stack.callback(delete_vhost, vhost)
        database = f"{servers.postgres_url}/{unique_name('bench_http')}"
        stack.callback(lambda: asyncio.run(drop_database(database)))
        port, bare_port = free_port(), free_port()
        env = {
            **os.environ,
            "CHORUS_DATABASE_URL": database,
            "CHORUS_RABBITMQ_URL": vhost_url(servers.rabbitmq_url, vhost),
            "CHORUS_HTTP_PORT": str(port),
            "CHORUS_LOG_LEVEL": "WARNING",
        }
        base = f"http://127.0.0.1:{port}"
        stack.enter_context(
            serving(
                [sys.executable, "-m", "received_invoices", "serve", "--migrate"], base + "/health/ready", env
            )
        )
        supplier, recipient = siret(1), siret(2)
        supplier_token = mint_dev_token("bench", [supplier])
        known = snapshots(supplier, recipient, (supplier, recipient), "Hopital", "HOSPITALIER")
        asyncio.run(into(database, known))
        with httpx.Client(base_url=base, timeout=30) as client:
            invoice = {
                "external_id": "%s",
                "number": "%s",
                "billing_frame": "A1",
                "supplier": {"structure_id": supplier, "name": "Fournisseur", "email": "f@example.fr"},
                "recipient": {
                    "structure_id": recipient,
                    "name": "Hopital",
                    "email": "h@example.fr",
                    "service_code": "SVC",
                },
                "amount_ht": "1000.00",
                "vat_amount": "200.00",
                "amount_ttc": "1200.00",
                "currency": "EUR",
                "issue_date": "2026-11-20",
            }
            template = json.dumps(invoice)
            first = client.post(
                "/invoices",
                content=template % ("first", "first"),
                headers={"authorization": f"Bearer {supplier_token}", "content-type": "application/json"},
            )
            first.raise_for_status()
            read_url = f"{base}/invoices/{first.json()['id']}"

        bare = f"http://127.0.0.1:{bare_port}"
        stack.enter_context(serving(bare_app(bare_port), bare + "/constant", env))

        print("measuring the maximum rates", flush=True)
        baseline = [wrk(bare + "/constant", seconds)[0] for _ in range(RUNS)]
        deposits, reads = [], []
        for run in range(RUNS):
            script = DEPOSIT_SCRIPT % {"token": supplier_token, "template": template, "run": f"r{run}"}
            rate, errors = wrk(base + "/invoices", seconds, script)
            assert errors == 0, f"{errors} deposits refused"
            deposits.append(rate)
            rate, errors = wrk(read_url, seconds, READ_SCRIPT % {"token": supplier_token})
            assert errors == 0, f"{errors} reads refused"
            reads.append(rate)

        print(f"max: deposit {deposits}, read {reads}, bare {baseline}; measuring latencies", flush=True)
        deposit_headers = {"authorization": f"Bearer {supplier_token}", "content-type": "application/json"}
        half_deposit = statistics.median(deposits) / 2
        deposit_p50, deposit_p99 = latency_runs(
            "POST", base + "/invoices", half_deposit, seconds, deposit_headers, template
        )
        half_read = statistics.median(reads) / 2
        read_p50, read_p99 = latency_runs(
            "GET", read_url, half_read, seconds, {"authorization": f"Bearer {supplier_token}"}, None
        )
        # The bare endpoint at the same request rates: what the stack itself adds to the latency.
        bare_at_deposit = latency_runs("GET", bare + "/constant", half_deposit, seconds, {}, None)
        bare_at_read = latency_runs("GET", bare + "/constant", half_read, seconds, {}, None)

    print(HEADER)
    print(RULE)
    constant = "bare FastAPI endpoint returning a constant"
    for name, rates, target in (
        ("POST /invoices (deposit), max requests/s", deposits, 500),
        ("GET /invoices/{id} (read), max requests/s", reads, 1500),
    ):
        record(
            Figure(
                "http",
                name,
                "/s",
                rates,
                constant,
                baseline,
                f">= {target:,}/s",
                statistics.median(rates) >= target,
            )
        )
    for name, runs, rate, bare_runs in (
        ("POST /invoices p50", deposit_p50, half_deposit, bare_at_deposit[0]),
        ("POST /invoices p99", deposit_p99, half_deposit, bare_at_deposit[1]),
        ("GET /invoices/{id} p50", read_p50, half_read, bare_at_read[0]),
        ("GET /invoices/{id} p99", read_p99, half_read, bare_at_read[1]),
    ):
        p99 = name.endswith("p99")
        record(
            Figure(
                "http",
                f"{name} at {rate:,.0f}/s (half of the max)",
                "ms",
                runs,
                constant + " (same rate)",
                bare_runs,
                "<= 50 ms" if p99 else None,
                statistics.median(runs) <= 50 if p99 else None,
            )
        )


def generate(payload: str) -> None:
    spec = json.loads(payload)
    latencies = uvloop.run(
        open_loop(spec["method"], spec["url"], spec["rate"], spec["seconds"], spec["headers"], spec["body"])
    )
    print(json.dumps(latencies))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--generate", help=argparse.SUPPRESS)  # the load-generator process
    args = parser.parse_args()
    if args.generate:
        generate(args.generate)
    else:
        main(args.seconds)
