"""The MOE deadline sweep as a CronJob's command (the service also runs it, `ServiceRuntime.add_sweep`)."""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta

from chorus_common.clock import SystemClock, paris_day
from chorus_common.retention import RetentionRule
from chorus_common.runtime import command_runtime
from invoicing_works import use_cases
from invoicing_works.db import deadline_notices, inbox, outbox
from invoicing_works.domain import oldest_kept_notice_day
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
    today = paris_day(SystemClock().now())
    first = args.as_of or today
    last = args.through or first
    if last < first:
        print("--through must not be before --as-of", file=sys.stderr)
        return 2
    oldest = oldest_kept_notice_day(today, settings.retention_notice_days)
    if first < oldest:
        print(
            f"the notices of days before {oldest.isoformat()} are no longer kept"
            " (CHORUS_RETENTION_NOTICE_DAYS): sweeping them would issue them again",
            file=sys.stderr,
        )
        return 2
    # The events go to the outbox; the service's relay publishes them.
    async with command_runtime(settings, outbox, inbox) as runtime:
        for offset in range((last - first).days + 1):
            notice_date = first + timedelta(days=offset)
            issued = await use_cases.sweep_deadlines(runtime.unit_of_work(), notice_date)
            print(f"{issued} deadline-exceeded notices issued for {notice_date.isoformat()}", flush=True)
    return 0


def retention_rules(settings: InvoicingWorksSettings) -> list[RetentionRule]:
    """Deadline notices older than CHORUS_RETENTION_NOTICE_DAYS (the sweep refuses those days)."""
    return [
        RetentionRule(
            "deadline notices",
            deadline_notices,
            lambda now: (
                deadline_notices.c.notice_date
                < oldest_kept_notice_day(paris_day(now), settings.retention_notice_days)
            ),
        )
    ]
