"""The MOE deadline sweep: one set-based statement issuing the day's `deadline-exceeded` events."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chorus_common.clock import Clock, SystemClock, paris_day
from chorus_common.db import create_engine
from chorus_common.events import EventType
from chorus_common.runtime import ServiceRuntime
from invoicing_works.settings import InvoicingWorksSettings

logger = logging.getLogger("invoicing_works.jobs")

# Claims (invoice, day) in deadline_notices and writes the event to the outbox in the same statement;
# the primary key makes a second sweep of the day, on any replica, find nothing left to claim.
SWEEP = sa.text(
    """
WITH due AS (
    SELECT id, number, billing_frame, supplier, moe, moa, made_available_at, moe_deadline
    FROM works_invoices
    WHERE billing_frame = 'A4'
      AND status = 'MISE_A_DISPOSITION_MOE'
      AND moa_structure_id IS NOT NULL
      AND moe_deadline < CAST(:notice_date AS date)
), claimed AS (
    INSERT INTO deadline_notices (works_invoice_id, notice_date, event_id)
    SELECT id, CAST(:notice_date AS date), gen_random_uuid() FROM due
    ON CONFLICT (works_invoice_id, notice_date) DO NOTHING
    RETURNING works_invoice_id, event_id
)
INSERT INTO outbox (event_id, event_type, body)
SELECT
    claimed.event_id::text,
    CAST(:event_type AS text),
    json_build_object(
        'specversion', '1.0',
        'id', claimed.event_id::text,
        'source', CAST(:source AS text),
        'type', CAST(:event_type AS text),
        'time', CAST(:time AS text),
        'datacontenttype', 'application/json',
        'subject', due.id::text,
        'data', json_build_object(
            'works_invoice_id', due.id::text,
            'number', due.number,
            'billing_frame', due.billing_frame,
            'supplier', due.supplier,
            'moe', due.moe,
            'moa', due.moa,
            'made_available_at',
                to_char(due.made_available_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'deadline', to_char(due.moe_deadline, 'YYYY-MM-DD'),
            'days_overdue', CAST(:notice_date AS date) - due.moe_deadline,
            'notice_date', to_char(CAST(:notice_date AS date), 'YYYY-MM-DD')
        )
    )::text
FROM claimed JOIN due ON due.id = claimed.works_invoice_id
"""
)


async def sweep_deadlines(engine: AsyncEngine, notice_date: date, source: str, clock: Clock) -> int:
    """Issue the `deadline-exceeded` events due on `notice_date` (a Paris day); returns how many."""
    async with engine.begin() as conn:
        result = await conn.execute(
            SWEEP,
            {
                "notice_date": notice_date,
                "source": source,
                "event_type": EventType.DEADLINE_EXCEEDED.value,
                "time": clock.now().isoformat(),
            },
        )
    return int(result.rowcount or 0)


async def run_periodically(runtime: ServiceRuntime, settings: InvoicingWorksSettings) -> None:
    """The in-service sweep: once per interval, for today's Paris day."""
    while True:
        try:
            clock = runtime.clock
            issued = await sweep_deadlines(
                runtime.engine, paris_day(clock.now()), settings.event_source, clock
            )
            if issued:
                logger.info("deadline sweep issued %d notices", issued)
                runtime.events_committed()
        except Exception:
            logger.warning("deadline sweep failed", exc_info=True)
        await asyncio.sleep(settings.deadline_sweep_interval_seconds)


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        help="the Europe/Paris day to issue notices for (YYYY-MM-DD; default: today)",
    )
    parser.add_argument(
        "--through",
        type=date.fromisoformat,
        help="catch up: also every following day through this one (after missed runs)",
    )


async def sweep_command(args: argparse.Namespace, settings: InvoicingWorksSettings) -> int:
    clock = SystemClock()
    first = args.as_of or paris_day(clock.now())
    last = args.through or first
    if last < first:
        print("--through must not be before --as-of", file=sys.stderr)
        return 2
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        for offset in range((last - first).days + 1):
            notice_date = first + timedelta(days=offset)
            issued = await sweep_deadlines(engine, notice_date, settings.event_source, clock)
            print(f"{issued} deadline-exceeded notices issued for {notice_date.isoformat()}", flush=True)
    finally:
        await engine.dispose()
    return 0
