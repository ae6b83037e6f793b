"""Commands of received-invoices besides serve and migrate: the replay of its delegations, and the end
of delegations past their end date as a CronJob's command (the service also runs it,
`ServiceRuntime.add_sweep`)."""

from __future__ import annotations

import argparse
from datetime import date

from chorus_common.clock import SystemClock, paris_day
from chorus_common.runtime import command_runtime
from received_invoices import use_cases
from received_invoices.db import inbox, outbox
from received_invoices.settings import ReceivedInvoicesSettings


async def replay_delegations_command(args: argparse.Namespace, settings: ReceivedInvoicesSettings) -> int:
    """The delegations to the outbox; the service's relay publishes them."""
    async with command_runtime(settings, outbox, inbox) as runtime:
        replayed = await use_cases.replay_delegations(runtime.unit_of_work())
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
    async with command_runtime(settings, outbox, inbox) as runtime:
        ended = await use_cases.end_past_delegations(runtime.unit_of_work(), day)
    print(f"{ended} delegations past their end date ended as of {day.isoformat()}", flush=True)
    return 0
