"""The roster of the platform's services, from `deploy/services.toml` (the one place they are listed)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

ROSTER = Path(__file__).resolve().parent / "services.toml"


@dataclass(frozen=True)
class Service:
    name: str  # the folder under services/, the image and the Kubernetes name
    package: str  # the Python package, `python -m <package>`
    port: int  # the default HTTP port
    roles: tuple[str, ...]


def services() -> list[Service]:
    entries = tomllib.loads(ROSTER.read_text())["service"]
    return [Service(e["name"], e["package"], e["port"], tuple(e["roles"])) for e in entries]
