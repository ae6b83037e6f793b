"""`python -m directory serve | migrate | openapi | asyncapi | import-structures FILE | replay | seed-dev
| mint-token --sub SUB`."""

from __future__ import annotations

from pathlib import Path

from chorus_common.cli import Job, ServiceCli
from directory import jobs
from directory.app import build_app
from directory.settings import DirectorySettings

cli = ServiceCli(
    settings_factory=DirectorySettings,
    app_factory=build_app,
    migrations_dir=Path(__file__).resolve().parent / "migrations",
    commands={
        "import-structures": Job(
            help="register or update the structures of a referential CSV file (all lines or none)",
            run=jobs.import_command,
            arguments=jobs.add_import_arguments,
        ),
        "replay": Job(
            help="publish the whole directory as snapshot events, for a new or rebuilt read model",
            run=jobs.replay_command,
        ),
        "seed-dev": Job(
            help="create the structures, services and users README.md's examples use (idempotent)",
            run=jobs.seed_command,
        ),
        "mint-token": Job(
            help="a dev (HS256) bearer token for a user of the directory, with its structures",
            run=jobs.mint_command,
            arguments=jobs.add_mint_arguments,
        ),
    },
)

if __name__ == "__main__":
    raise SystemExit(cli.main())
