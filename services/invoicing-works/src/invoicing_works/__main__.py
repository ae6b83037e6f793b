"""`python -m invoicing_works serve | migrate | openapi | asyncapi | jobs sweep-deadlines [--as-of DATE]`."""

from __future__ import annotations

from pathlib import Path

from chorus_common.cli import Job, ServiceCli
from invoicing_works import jobs
from invoicing_works.app import build_app
from invoicing_works.settings import InvoicingWorksSettings

cli = ServiceCli(
    settings_factory=InvoicingWorksSettings,
    app_factory=build_app,
    migrations_dir=Path(__file__).resolve().parent / "migrations",
    jobs={
        "sweep-deadlines": Job(
            help="issue today's (or --as-of's) deadline-exceeded notices",
            run=jobs.sweep_command,
            arguments=jobs.add_sweep_arguments,
        )
    },
)

if __name__ == "__main__":
    raise SystemExit(cli.main())
