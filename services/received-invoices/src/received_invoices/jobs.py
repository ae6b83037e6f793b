"""Commands of received-invoices besides serve and migrate: the replay of its delegations, and the end
of delegations past their end date as a CronJob's command (the service also runs it,
`ServiceRuntime.add_sweep`)."""

from __future__ import annotations

import argparse
from datetime import date

from chorus_common.clock import SystemClock, paris_day
from chorus_common.runtime import ServiceRuntime
from received_invoices import use_cases
from received_invoices.db import inbox, outbox
from received_invoices.settings import ReceivedInvoicesSettings


def _runtime(settings: ReceivedInvoicesSettings) -> ServiceRuntime:
    return ServiceRuntime(settings.model_copy(update={"db_pool_size": 1}), outbox, inbox)


async def _close(runtime: ServiceRuntime) -> None:
    await runtime.engine.dispose()
    await runtime.direct_reads.close()


async def replay_delegations_command(args: argparse.Namespace, settings: ReceivedInvoicesSettings) -> int:
    """The delegations to the outbox; the service's relay publishes them."""
    runtime = _runtime(settings)
    try:
        replayed = await use_cases.replay_delegations(runtime.unit_of_work())
    finally:
        await _close(runtime)
    print(f"replayed {replayed} delegations")
    return 0


def add_end_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        help="the Europe/Paris day: delegations whose end date is before it end (default: today)",
    )


async def end_delegations_command(args: argparse.Namespace, settings: ReceivedInvoicesSettings) -> int:
    day = args.as_of or paris_day(SystemClock().now())
    runtime = _runtime(settings)
    try:
        ended = await use_cases.end_past_delegations(runtime.unit_of_work(), day)
    finally:
        await _close(runtime)
    print(f"{ended} delegations past their end date ended as of {day.isoformat()}", flush=True)
    return 0
