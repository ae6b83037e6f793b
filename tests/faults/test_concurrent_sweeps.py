"""Three invoicing-works replicas sweeping the same 30 days at once: one notice per invoice and day."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from chorus_testing.directory import attached, registered
from chorus_testing.fixtures import BusProbe, take
from chorus_testing.platform import ROOT, Platform, admin

from .conftest import report, wait_for

REPLICAS = 3
DAYS = 30
OVERDUE_INVOICES = 10
# Each replica is the service's own CLI in its own process; they load, then start sweeping together
# (the import takes seconds, the 30 sweeps milliseconds: without this, the first would do them all).
START_TOGETHER = """
import os, sys, time, pathlib
from invoicing_works.__main__ import cli
barrier = pathlib.Path(sys.argv[1])
(barrier.parent / f"ready-{os.getpid()}").touch()
while not barrier.exists():
    time.sleep(0.002)
raise SystemExit(cli.main(sys.argv[2:]))
"""


def replicas_ready(folder: Path) -> int:
    return len(list(folder.glob("ready-*")))


@dataclass
class Parties:
    """A supplier, a MOE and two MOAs of the platform's directory, and a user of each."""

    supplier: str
    moe: str
    moa: str
    users: dict[str, dict[str, str]]

    @classmethod
    async def registered(cls, http: httpx.AsyncClient, platform: Platform) -> Parties:
        read_by = ["invoicing-works"]
        supplier = await registered(http, platform, admin(), read_by, kind="PRIVEE", name="BTP SA")
        moe = await registered(http, platform, admin(), read_by, name="MOE")
        moa = await registered(http, platform, admin(), read_by, name="MOA")
        users = {
            structure: await attached(http, platform, admin(), structure, f"user-{structure}", read_by)
            for structure in (supplier, moe)
        }
        return cls(supplier, moe, moa, users)


async def deposit(
    http: httpx.AsyncClient, platform: Platform, parties: Parties, with_moa: bool = True
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "number": f"PDM-{uuid.uuid4().hex[:8]}",
        "billing_frame": "A4",
        "supplier": {"structure_id": parties.supplier},
        "moe": {"structure_id": parties.moe},
        "amount_ht": "10000.00",
        "vat_amount": "2000.00",
        "amount_ttc": "12000.00",
    }
    if with_moa:
        body["moa"] = {"structure_id": parties.moa}
    response = await http.post(
        platform.url("invoicing-works") + "/works-invoices",
        json=body,
        headers=parties.users[parties.supplier],
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_three_replicas_sweeping_30_days_concurrently_issue_one_notice_per_invoice_per_day(
    faulty_platform: Platform, http: httpx.AsyncClient, bus: BusProbe, tmp_path: Path
):
    platform = faulty_platform
    parties = await Parties.registered(http, platform)
    overdue = [await deposit(http, platform, parties) for _ in range(OVERDUE_INVOICES)]
    without_moa = [await deposit(http, platform, parties, with_moa=False) for _ in range(3)]
    answered = [await deposit(http, platform, parties) for _ in range(3)]
    for invoice in answered:  # the MOE acts in time: no notice ever
        response = await http.post(
            platform.url("invoicing-works") + f"/works-invoices/{invoice['id']}/actions",
            json={"action": "VALIDATION"},
            headers=parties.users[parties.moe],
        )
        assert response.status_code == 200, response.text
    tap = await bus.tap("deadline-exceeded")

    today = datetime.now(ZoneInfo("Europe/Paris")).date()
    first, last = today + timedelta(days=1), today + timedelta(days=DAYS)
    env = {
        **platform.env,
        "CHORUS_DATABASE_URL": f"{platform.env['POSTGRES_URL']}/{platform.db_prefix}invoicing_works",
    }
    arguments = ["jobs", "sweep-deadlines", "--as-of", first.isoformat(), "--through", last.isoformat()]
    barrier = tmp_path / "go"
    replicas = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", START_TOGETHER, str(barrier), *arguments,
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(REPLICAS)
    ]  # fmt: skip

    async def all_loaded() -> bool:
        return replicas_ready(tmp_path) >= REPLICAS

    await wait_for(all_loaded, within=120, interval=0.05, what="the replicas loaded")
    barrier.touch()
    outputs = [
        (out.decode(), err.decode())
        for out, err in await asyncio.gather(*(replica.communicate() for replica in replicas))
    ]
    assert [replica.returncode for replica in replicas] == [0] * REPLICAS, outputs

    deadline = date.fromisoformat(overdue[0]["moe_deadline"])  # all deposited today
    assert all(invoice["moe_deadline"] == deadline.isoformat() for invoice in overdue)
    overdue_days = [first + timedelta(days=n) for n in range(DAYS) if first + timedelta(days=n) > deadline]
    expected = {(invoice["id"], day.isoformat()) for invoice in overdue for day in overdue_days}
    messages = await take(tap, len(expected), within=120)
    late = await take(tap, 1, within=3)  # a duplicate, had there been one, arrives by now
    notices = Counter(
        (data["works_invoice_id"], data["notice_date"])
        for data in (json.loads(message.body)["data"] for message in messages + late)
    )
    issued_per_replica = [
        sum(int(line.split()[0]) for line in out.splitlines() if line.endswith(tuple("0123456789")))
        for out, _ in outputs
    ]
    report(
        "three replicas sweeping 30 days concurrently",
        invoices_overdue=len(overdue),
        invoices_without_moa=len(without_moa),
        invoices_answered_in_time=len(answered),
        days_swept=DAYS,
        sweeps_run=REPLICAS * DAYS,
        notices_expected=len(expected),
        notices_received=sum(notices.values()),
        issued_by_each_replica=issued_per_replica,
    )
    assert set(notices) == expected, "exactly the overdue invoices, on exactly their overdue days"
    assert set(notices.values()) == {1}, "one notice per invoice per day"
    assert sum(issued_per_replica) == len(expected)
    assert date.fromisoformat(max(day for _, day in notices)) == last
