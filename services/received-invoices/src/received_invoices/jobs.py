"""Commands of received-invoices besides serve and migrate: the replay of its delegations."""

from __future__ import annotations

import argparse

from chorus_common.runtime import ServiceRuntime
from received_invoices import use_cases
from received_invoices.db import inbox, outbox
from received_invoices.settings import ReceivedInvoicesSettings


async def replay_delegations_command(args: argparse.Namespace, settings: ReceivedInvoicesSettings) -> int:
    """The delegations to the outbox; the service's relay publishes them."""
    runtime = ServiceRuntime(settings.model_copy(update={"db_pool_size": 1}), outbox, inbox)
    try:
        replayed = await use_cases.replay_delegations(runtime.unit_of_work())
    finally:
        await runtime.engine.dispose()
        await runtime.direct_reads.close()
    print(f"replayed {replayed} delegations")
    return 0
