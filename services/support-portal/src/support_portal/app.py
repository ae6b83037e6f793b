"""Composition root of the support-portal service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from chorus_common.clock import Clock, SystemClock
from chorus_common.replica import rights_from_replica
from chorus_common.runtime import ServiceRuntime, create_app
from support_portal import api, jobs
from support_portal.db import inbox, outbox, replica
from support_portal.events import register_events
from support_portal.guard import FormGuard
from support_portal.referential import Referential
from support_portal.routing import RoutingTable
from support_portal.settings import SupportPortalSettings
from support_portal.use_cases import Portal

VERSION = "1.0.0"
STATIC = Path(__file__).with_name("static")


def load_routing_table(path: Path) -> RoutingTable:
    """The (category, subcategory) → recipient table; an invalid file stops the service here."""
    try:
        return RoutingTable.model_validate_json(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"invalid routing table {path}: {exc}") from exc


def load_referential(path: Path, routing: RoutingTable) -> Referential:
    """The categories and subcategories of tickets, holding every one the routing table names; an
    invalid file stops the service here."""
    try:
        referential = Referential.model_validate_json(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"invalid category referential {path}: {exc}") from exc
    for route in routing.routes:
        category = referential.category(route.category)
        if category is None or (
            route.subcategory != "*" and route.subcategory not in {s.code for s in category.subcategories}
        ):
            raise SystemExit(
                f"the routing table names {route.category}/{route.subcategory}, not in the referential {path}"
            )
    return referential


def build_app(settings: SupportPortalSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or SupportPortalSettings()
    runtime = ServiceRuntime(settings, outbox, inbox, clock or SystemClock())
    register_events(runtime)
    rights_from_replica(runtime, replica)
    for rule in jobs.retention_rules():
        runtime.retain(rule)
    app = create_app(
        runtime,
        title="Chorus support portal",
        version=VERSION,
        description="Support tickets (sollicitations) routed to support, a business service, or the managers "
        "of the structure they concern.",
        routers=api.ROUTERS,
    )
    routing = load_routing_table(settings.routing_table_path)
    app.state.portal = Portal(
        routing,
        settings.public_base_url,
        settings.signed_out_limit_per_hour,
        load_referential(settings.categories_path, routing),
        FormGuard(
            settings.form_secret.get_secret_value().encode(),
            settings.captcha_cost,
            settings.captcha_max_counter,
            settings.captcha_ttl_seconds,
            secure_cookie=settings.public_base_url.startswith("https://"),
        ),
    )
    # The pages' scripts (the captcha's widget), served by the portal itself.
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
