"""Composition root of the engagements service."""

from __future__ import annotations

from fastapi import FastAPI

from chorus_common.clock import Clock, SystemClock
from chorus_common.replica import rights_from_replica
from chorus_common.runtime import ServiceRuntime, create_app
from engagements import api
from engagements.db import inbox, outbox, replica
from engagements.events import register_events
from engagements.settings import EngagementsSettings

VERSION = "1.0.0"


def build_app(settings: EngagementsSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or EngagementsSettings()
    runtime = ServiceRuntime(settings, outbox, inbox, clock or SystemClock())
    register_events(runtime)
    rights_from_replica(runtime, replica)
    return create_app(
        runtime,
        title="Chorus engagements",
        version=VERSION,
        description="Legal commitments (engagements juridiques) with exact decimal line amounts.",
        routers=api.ROUTERS,
    )
