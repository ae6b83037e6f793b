"""Composition root of the invoicing-works service."""

from __future__ import annotations

from fastapi import FastAPI

from chorus_common.clock import Clock, SystemClock
from chorus_common.replica import rights_from_replica
from chorus_common.runtime import ServiceRuntime, create_app
from invoicing_works import api, jobs, use_cases
from invoicing_works.db import inbox, outbox, replica
from invoicing_works.events import register_events
from invoicing_works.settings import InvoicingWorksSettings

VERSION = "1.0.0"


def build_app(settings: InvoicingWorksSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or InvoicingWorksSettings()
    runtime = ServiceRuntime(settings, outbox, inbox, clock or SystemClock())
    register_events(runtime)
    rights_from_replica(runtime, replica)
    runtime.add_sweep("deadline sweep", settings.deadline_sweep_interval_seconds, use_cases.sweep_deadlines)
    for rule in jobs.retention_rules(settings):
        runtime.retain(rule)
    return create_app(
        runtime,
        title="Chorus invoicing-works",
        version=VERSION,
        description="Works invoices: the MOE's 7-day deadline, MOA take-over, 'Traiter le rejet'.",
        routers=api.ROUTERS,
    )
