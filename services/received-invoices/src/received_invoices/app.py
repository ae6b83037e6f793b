"""Composition root of the received-invoices service."""

from __future__ import annotations

from fastapi import FastAPI

from chorus_common.clock import Clock, SystemClock
from chorus_common.runtime import ServiceRuntime, create_app
from received_invoices import api
from received_invoices.db import inbox, outbox
from received_invoices.events import register_events
from received_invoices.settings import ReceivedInvoicesSettings

VERSION = "1.0.0"


def build_app(settings: ReceivedInvoicesSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or ReceivedInvoicesSettings()
    runtime = ServiceRuntime(settings, outbox, inbox, clock or SystemClock())
    register_events(runtime)
    return create_app(
        runtime,
        title="Chorus received-invoices",
        version=VERSION,
        description="Received invoices, the directory, and delegation of validation with A1 routing.",
        routers=api.ROUTERS,
    )
