"""`python -m received_invoices serve | migrate | openapi | asyncapi | replay-delegations | jobs
end-delegations [--as-of DATE]`."""

from __future__ import annotations

from pathlib import Path

from chorus_common.cli import Job, ServiceCli
from received_invoices import jobs
from received_invoices.app import build_app
from received_invoices.settings import ReceivedInvoicesSettings

cli = ServiceCli(
    settings_factory=ReceivedInvoicesSettings,
    app_factory=build_app,
    migrations_dir=Path(__file__).resolve().parent / "migrations",
    commands={
        "replay-delegations": Job(
            help="publish every delegation as its delegation-updated snapshot, for the directory",
            run=jobs.replay_delegations_command,
        ),
    },
    jobs={
        "end-delegations": Job(
            help="end the delegations past their end date: their waiting invoices go back to the delegator",
            run=jobs.end_delegations_command,
            arguments=jobs.add_end_arguments,
        ),
    },
)

if __name__ == "__main__":
    raise SystemExit(cli.main())
