"""`python -m support_portal serve | migrate | openapi | asyncapi`."""

from __future__ import annotations

from pathlib import Path

from chorus_common.cli import ServiceCli
from support_portal.app import build_app
from support_portal.settings import SupportPortalSettings

cli = ServiceCli(
    settings_factory=SupportPortalSettings,
    app_factory=build_app,
    migrations_dir=Path(__file__).resolve().parent / "migrations",
)

if __name__ == "__main__":
    raise SystemExit(cli.main())
