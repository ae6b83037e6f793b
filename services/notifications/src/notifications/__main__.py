"""`python -m notifications serve | migrate | openapi | asyncapi`."""

from __future__ import annotations

from pathlib import Path

from chorus_common.cli import ServiceCli
from notifications.app import build_app
from notifications.settings import NotificationsSettings

cli = ServiceCli(
    settings_factory=NotificationsSettings,
    app_factory=build_app,
    migrations_dir=Path(__file__).resolve().parent / "migrations",
)

if __name__ == "__main__":
    raise SystemExit(cli.main())
