"""`python -m piste_gateway serve | migrate | openapi | asyncapi | clients create|list`."""

from __future__ import annotations

from pathlib import Path

from chorus_common.cli import Job, ServiceCli
from piste_gateway import jobs
from piste_gateway.app import build_app
from piste_gateway.settings import PisteGatewaySettings

cli = ServiceCli(
    settings_factory=PisteGatewaySettings,
    app_factory=build_app,
    migrations_dir=Path(__file__).resolve().parent / "migrations",
    commands={
        "clients": Job(
            help="register an application (create --name NAME --structure ID) or list them (list)",
            run=jobs.clients_command,
            arguments=jobs.add_clients_arguments,
        ),
    },
)

if __name__ == "__main__":
    raise SystemExit(cli.main())
