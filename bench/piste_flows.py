"""Benchmark: Factur-X flows deposited through the PISTE gateway, from HTTP to IN_INTEGRE, beside
received-invoices' own JSON deposit in the same run.

piste-gateway and received-invoices each run as `python -m <package> serve` (one process each, API and
worker), on their own database, on a vhost of their own, as the RabbitMQ accounts the platform gives
them. An ERP (an httpx client, CONCURRENCY deposits in flight, its token from /api/oauth/token and a
technical account in `cpro-account`) deposits FLOWS Factur-X PDFs of one invoice each
(`deposer/flux`, IN_DP_E2_CII_FACTURX, written beforehand with the factur-x library); a flow is done
when the gateway's table says IN_INTEGRE, that is once the gateway read the PDF against its XSD and
the EN 16931 rules, published `invoice-submitted` through its outbox, received-invoices routed and
stored the invoice and published its first `invoice-status-changed`, and the gateway consumed it.
Figures: flows integrated per second (first deposit to last IN_INTEGRE) and flows accepted per second
(the HTTP answers alone); the baseline is received-invoices' `POST /invoices` of the same invoices as
JSON, with the same concurrency, whose answer means the invoice is stored. Each figure is the median
of 3 runs. Target: 20 flows integrated per second.

Usage: uv run python bench/piste_flows.py [--flows N]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import sqlalchemy as sa
from _directory import into, snapshots
from _figures import HEADER, RULE, Figure, record
from _servers import serving

from chorus_common.auth import mint_dev_token
from chorus_common.db import create_engine, drop_database
from chorus_common.messaging.accounts import dev_account_url
from chorus_common.passwords import hash_password
from chorus_testing.fixtures import free_port
from chorus_testing.identifiers import new_siret
from chorus_testing.invoice_files import Invoice, facturx_pdf
from chorus_testing.servers import create_vhost, delete_vhost, locate_servers, unique_name, vhost_url

RUNS = 3
CONCURRENCY = 16
LOGIN, PASSWORD = "TECH_BENCH", "mot-de-passe-du-banc"
TARGET = 20.0  # flows integrated per second


async def prepare(gateway_db: str, received_db: str, supplier: str, recipient: str) -> None:
    """The directory as both read models would have it (a supplier, a public recipient with its service
    SVC, the user `bench` of the supplier, who deposits its JSON invoices), and the supplier's technical
    account in the gateway's."""
    known = snapshots(supplier, recipient, (supplier,))
    for url in (gateway_db, received_db):
        await into(url, known)
    engine = create_engine(gateway_db, 1)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO technical_accounts (login, structure_id, password_hash, active,"
                    " version, updated_at) VALUES (:login, :structure, :hash, true, 1, :now)"
                ),
                {
                    "login": LOGIN,
                    "structure": supplier,
                    "hash": hash_password(PASSWORD),
                    "now": datetime.now(UTC),
                },
            )
    finally:
        await engine.dispose()


def invoices(supplier: str, recipient: str, run: str, count: int) -> list[Invoice]:
    return [
        Invoice(
            number=f"{run}-{n:05d}",
            seller_id=supplier,
            buyer_id=recipient,
            seller_name="Fournisseur",
            buyer_name="Ministère",
            service_code="SVC",
        )
        for n in range(count)
    ]


def as_json(invoice: Invoice) -> dict[str, Any]:
    """The same invoice as received-invoices' own API takes it."""
    vat = sum((amount for _, _, amount in invoice.vat()), Decimal(0))
    return {
        "external_id": f"JSON-{invoice.number}",
        "number": invoice.number,
        "billing_frame": "A1",
        "supplier": {"structure_id": invoice.seller_id, "name": "Fournisseur", "email": "f@example.fr"},
        "recipient": {
            "structure_id": invoice.buyer_id,
            "name": "Ministère",
            "email": "m@example.fr",
            "service_code": "SVC",
        },
        "amount_ht": str(invoice.line_total),
        "vat_amount": str(vat),
        "amount_ttc": str(invoice.line_total + vat),
        "currency": "EUR",
        "issue_date": invoice.issue_date.isoformat(),
    }


async def in_flight(requests: list[Any], send: Any) -> None:
    """Send every request, CONCURRENCY at a time; each must be answered 2xx."""
    queue = list(reversed(requests))

    async def worker() -> None:
        while queue:
            answer = await send(queue.pop())
            if answer.status_code >= 300:
                raise RuntimeError(f"{answer.status_code}: {answer.text[:300]}")

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def integrated(gateway_db: str, prefix: str) -> tuple[int, int]:
    """How many of the run's flows are IN_INTEGRE, and how many ended otherwise."""
    engine = create_engine(gateway_db, 1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text(
                    "SELECT count(*) FILTER (WHERE status = 'IN_INTEGRE'),"
                    " count(*) FILTER (WHERE status IN ('IN_REJETE', 'IN_INCIDENTE'))"
                    " FROM flows WHERE file_name LIKE :prefix"
                ),
                {"prefix": prefix + "%"},
            )
            done, failed = rows.one()
            return int(done), int(failed)
    finally:
        await engine.dispose()


async def reasons(gateway_db: str) -> list[Any]:
    engine = create_engine(gateway_db, 1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text(
                    "SELECT status, invoice_errors, technical_errors FROM flows"
                    " WHERE status IN ('IN_REJETE', 'IN_INCIDENTE')"
                )
            )
            return [tuple(row) for row in rows][:3]
    finally:
        await engine.dispose()


async def flows_run(
    gateway: str, gateway_db: str, headers: dict[str, str], files: list[tuple[str, bytes]]
) -> tuple[float, float]:
    """(flows accepted per second, flows integrated per second) of one run."""
    prefix = files[0][0].split("-")[0] + "-"
    async with httpx.AsyncClient(base_url=gateway, timeout=60, headers=headers) as client:

        def deposit(file: tuple[str, bytes]) -> Any:
            name, content = file
            body = {
                "fichierFlux": base64.b64encode(content).decode(),
                "nomFichier": name,
                "syntaxeFlux": "IN_DP_E2_CII_FACTURX",
                "avecSignature": False,
            }
            return client.post("/cpro/factures/v1/deposer/flux", json=body)

        started = time.perf_counter()
        await in_flight(files, deposit)
        accepted = time.perf_counter() - started
    while True:
        done, failed = await integrated(gateway_db, prefix)
        if failed:
            raise RuntimeError(
                f"{failed} flows of {prefix} rejected or in incident: {await reasons(gateway_db)}"
            )
        if done == len(files):
            break
        if time.perf_counter() - started > 300:
            raise RuntimeError(f"{done} of {len(files)} flows integrated after 5 minutes")
        await asyncio.sleep(0.05)
    finished = time.perf_counter() - started
    return len(files) / accepted, len(files) / finished


async def json_run(received: str, token: str, bodies: list[dict[str, Any]]) -> float:
    """Invoices stored per second through received-invoices' POST /invoices."""
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=received, timeout=60, headers=headers) as client:
        started = time.perf_counter()
        await in_flight(bodies, lambda body: client.post("/invoices", json=body))
        return len(bodies) / (time.perf_counter() - started)


def main(count: int) -> None:
    with ExitStack() as stack:
        servers = locate_servers(stack)
        vhost = unique_name("chorus-bench")
        create_vhost(vhost)
        stack.callback(delete_vhost, vhost)
        bus = vhost_url(servers.rabbitmq_url, vhost)
        gateway_db = f"{servers.postgres_url}/{unique_name('bench_gateway')}"
        received_db = f"{servers.postgres_url}/{unique_name('bench_received')}"
        for database in (gateway_db, received_db):
            stack.callback(asyncio.run, drop_database(database))
        gateway_port, received_port = free_port(), free_port()
        common = {**os.environ, "CHORUS_LOG_LEVEL": "WARNING", "CHORUS_APP_ENV": "dev"}
        received_env = {
            **common,
            "CHORUS_DATABASE_URL": received_db,
            "CHORUS_RABBITMQ_URL": dev_account_url(bus, "received-invoices"),
            "CHORUS_HTTP_PORT": str(received_port),
        }
        gateway_env = {
            **common,
            "CHORUS_DATABASE_URL": gateway_db,
            "CHORUS_RABBITMQ_URL": dev_account_url(bus, "piste-gateway"),
            "CHORUS_HTTP_PORT": str(gateway_port),
            "CHORUS_RECEIVED_INVOICES_URL": f"http://127.0.0.1:{received_port}",
        }
        received = f"http://127.0.0.1:{received_port}"
        gateway = f"http://127.0.0.1:{gateway_port}"
        stack.enter_context(
            serving(
                [sys.executable, "-m", "received_invoices", "serve", "--migrate"],
                received + "/health/ready",
                received_env,
            )
        )
        stack.enter_context(
            serving(
                [sys.executable, "-m", "piste_gateway", "serve", "--migrate"],
                gateway + "/health/ready",
                gateway_env,
            )
        )
        supplier, recipient = new_siret(), new_siret()
        asyncio.run(prepare(gateway_db, received_db, supplier, recipient))
        registered = subprocess.run(
            [
                sys.executable,
                "-m",
                "piste_gateway",
                "clients",
                "create",
                "--name",
                "Banc",
                "--structure",
                supplier,
            ],
            env=gateway_env,
            capture_output=True,
            text=True,
            check=True,
        )
        client = json.loads(registered.stdout)
        granted = httpx.post(
            gateway + "/api/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
            },
            timeout=30,
        )
        granted.raise_for_status()
        headers = {
            "authorization": f"Bearer {granted.json()['access_token']}",
            "cpro-account": base64.b64encode(f"{LOGIN}:{PASSWORD}".encode()).decode(),
        }
        token = mint_dev_token("bench", [supplier])

        print(f"writing {RUNS} x {count} Factur-X PDFs", flush=True)
        runs = [uuid.uuid4().hex[:6] for _ in range(RUNS)]
        files = [
            [(f"{run}-{i.number}.pdf", facturx_pdf(i)) for i in invoices(supplier, recipient, run, count)]
            for run in runs
        ]
        # A warm-up flow: the first reading loads the XSDs.
        [warm] = invoices(supplier, recipient, "W" + runs[0], 1)
        asyncio.run(flows_run(gateway, gateway_db, headers, [(f"w{runs[0]}-warm.pdf", facturx_pdf(warm))]))
        accepted, integrated_rates, stored = [], [], []
        for run, batch in zip(runs, files, strict=True):
            rates = asyncio.run(flows_run(gateway, gateway_db, headers, batch))
            accepted.append(rates[0])
            integrated_rates.append(rates[1])
            bodies = [as_json(i) for i in invoices(supplier, recipient, "J" + run, count)]
            stored.append(asyncio.run(json_run(received, token, bodies)))
            print(
                f"run {run}: accepted {rates[0]:.1f}/s, integrated {rates[1]:.1f}/s, JSON {stored[-1]:.1f}/s"
            )

    print(HEADER)
    print(RULE)
    baseline = f"received-invoices POST /invoices, the same invoices as JSON ({CONCURRENCY} in flight)"
    record(
        Figure(
            "piste-flows",
            f"Factur-X flows, HTTP to IN_INTEGRE, per second ({count} flows, {CONCURRENCY} in flight)",
            "/s",
            integrated_rates,
            baseline,
            stored,
            f">= {TARGET:.0f}/s",
            statistics.median(integrated_rates) >= TARGET,
        )
    )
    record(
        Figure(
            "piste-flows",
            "Factur-X flows accepted (deposer/flux answered) per second",
            "/s",
            accepted,
            baseline,
            stored,
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--flows", type=int, default=200)
    main(parser.parse_args().flows)
