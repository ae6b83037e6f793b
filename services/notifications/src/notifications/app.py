"""Composition root of the notifications service."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from chorus_common.clock import Clock, SystemClock
from chorus_common.flags import FeatureFlags
from chorus_common.runtime import ServiceRuntime, create_app
from notifications import api, jobs
from notifications.db import inbox, outbox
from notifications.delivery import Delivery
from notifications.events import register_subscribers
from notifications.mail import SmtpMailer
from notifications.settings import NotificationsSettings
from notifications.use_cases import Notifier, retry_periodically

VERSION = "1.0.0"


def build_app(settings: NotificationsSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    runtime = ServiceRuntime(settings, outbox, inbox, clock or SystemClock())
    flags = FeatureFlags(settings, domain=settings.service_name)
    mailer = SmtpMailer(settings)
    delivery = Delivery(settings, runtime.engine, mailer, runtime.clock)
    notifier = Notifier(settings, flags, delivery)
    register_subscribers(runtime, notifier)
    runtime.add_job(delivery.run)

    async def retry_waiting_events() -> None:
        await retry_periodically(runtime, notifier, settings.directory_retry_interval_seconds)

    runtime.add_job(retry_waiting_events)
    for rule in jobs.retention_rules(settings):
        runtime.retain(rule)

    async def start_flags() -> None:
        if settings.runs_worker:
            await asyncio.to_thread(flags.start)

    async def stop_flags_and_mail() -> None:
        if settings.runs_worker:
            flags.stop()
        await mailer.close()

    app = create_app(
        runtime,
        title="Chorus notifications",
        version=VERSION,
        description="E-mails sent from platform events, each kind behind a feature flag.",
        routers=api.ROUTERS,
        on_startup=start_flags,
        on_shutdown=stop_flags_and_mail,
    )
    app.state.flags = flags
    app.state.delivery = delivery
    return app
