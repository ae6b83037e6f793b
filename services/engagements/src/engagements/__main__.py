"""`python -m engagements serve | migrate | openapi | asyncapi`."""

from __future__ import annotations

from pathlib import Path

from chorus_common.cli import ServiceCli
from engagements.app import build_app
from engagements.settings import EngagementsSettings

cli = ServiceCli(
    settings_factory=EngagementsSettings,
    app_factory=build_app,
    migrations_dir=Path(__file__).resolve().parent / "migrations",
)

if __name__ == "__main__":
    raise SystemExit(cli.main())
