"""The MOE deadline sweep as a CronJob's command (the service also runs it, `ServiceRuntime.add_sweep`)."""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta

from chorus_common.clock import SystemClock, paris_day
from chorus_common.runtime import command_runtime
from invoicing_works import use_cases
from invoicing_works.db import inbox, outbox
from invoicing_works.settings import InvoicingWorksSettings


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
    first = args.as_of or paris_day(SystemClock().now())
    last = args.through or first
    if last < first:
        print("--through must not be before --as-of", file=sys.stderr)
        return 2
    # The events go to the outbox; the service's relay publishes them.
    async with command_runtime(settings, outbox, inbox) as runtime:
        for offset in range((last - first).days + 1):
            notice_date = first + timedelta(days=offset)
            issued = await use_cases.sweep_deadlines(runtime.unit_of_work(), notice_date)
            print(f"{issued} deadline-exceeded notices issued for {notice_date.isoformat()}", flush=True)
    return 0
