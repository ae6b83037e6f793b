"""Composition root of the directory service."""

from __future__ import annotations

from fastapi import FastAPI

from chorus_common.clock import Clock, SystemClock
from chorus_common.runtime import ServiceRuntime, create_app
from directory import api
from directory.db import inbox, outbox
from directory.events import register_events
from directory.settings import DirectorySettings

VERSION = "1.0.0"


def build_app(settings: DirectorySettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or DirectorySettings()
    runtime = ServiceRuntime(settings, outbox, inbox, clock or SystemClock())
    register_events(runtime)
    return create_app(
        runtime,
        title="Chorus directory",
        version=VERSION,
        description=(
            "The directory (annuaire): structures identified by SIRET or another identifier, their "
            "services, and the users attached to them with their roles and notification settings."
        ),
        routers=api.ROUTERS,
    )
