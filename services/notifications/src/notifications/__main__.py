"""`python -m notifications serve | migrate | openapi | asyncapi | mails failed | mails resend ID... |
mails resend --all-failed`."""

from __future__ import annotations

from pathlib import Path

from chorus_common.cli import Job, ServiceCli
from notifications import jobs
from notifications.app import build_app
from notifications.settings import NotificationsSettings

cli = ServiceCli(
    settings_factory=NotificationsSettings,
    app_factory=build_app,
    migrations_dir=Path(__file__).resolve().parent / "migrations",
    commands={
        "mails": Job(
            help="list the FAILED mails, or send some (or all) of them again",
            run=jobs.mails_command,
            arguments=jobs.add_mails_arguments,
        ),
    },
)

if __name__ == "__main__":
    raise SystemExit(cli.main())
