"""Composition root of the received-invoices service."""

from __future__ import annotations

from fastapi import FastAPI

from chorus_common.clock import Clock, SystemClock
from chorus_common.replica import rights_from_replica
from chorus_common.runtime import ServiceRuntime, create_app
from received_invoices import api, use_cases
from received_invoices.db import inbox, outbox, replica
from received_invoices.events import register_events
from received_invoices.settings import ReceivedInvoicesSettings

VERSION = "1.0.0"


def build_app(settings: ReceivedInvoicesSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or ReceivedInvoicesSettings()
    runtime = ServiceRuntime(settings, outbox, inbox, clock or SystemClock())
    register_events(runtime)
    rights_from_replica(runtime, replica)
    runtime.add_sweep(
        "delegations past their end date",
        settings.delegation_sweep_interval_seconds,
        use_cases.end_past_delegations,
    )
    return create_app(
        runtime,
        title="Chorus received-invoices",
        version=VERSION,
        description="Received invoices and delegation of validation with A1 routing, decided against the "
        "directory's structures.",
        routers=api.ROUTERS,
    )
