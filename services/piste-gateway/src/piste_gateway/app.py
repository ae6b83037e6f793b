"""Composition root of the piste-gateway service."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chorus_common.clock import Clock, SystemClock
from chorus_common.problems import Problem
from chorus_common.runtime import ServiceRuntime, create_app
from piste_gateway import api
from piste_gateway.access import Access
from piste_gateway.db import inbox, outbox
from piste_gateway.domain import INVALID_REQUEST, NOT_FOUND, CproError, Refusal
from piste_gateway.events import register_events
from piste_gateway.flows import FlowWorker
from piste_gateway.forwarding import Forwarder
from piste_gateway.settings import PisteGatewaySettings

VERSION = "1.0.0"
CPRO = "/cpro/"


def cpro_answer(refusal: Refusal, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"codeRetour": refusal.code, "libelle": refusal.label}, refusal.status, headers)


def _field(error: dict[str, Any]) -> str:
    location = [str(part) for part in error.get("loc", ()) if part != "body"]
    return ".".join(location) or "corps de la requête"


def speak_chorus_pro(app: FastAPI) -> None:
    """On `/cpro/...`, every refusal is Chorus Pro's: `codeRetour` and `libelle` (elsewhere the platform's
    RFC 9457 problems)."""
    platform = dict(app.exception_handlers)

    async def on_cpro_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CproError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.refusal.status == 401 else None
        return cpro_answer(exc.refusal, headers)

    def cpro_or_platform(kind: type[Exception], to_refusal: Any) -> None:
        async def handler(request: Request, exc: Exception) -> Any:
            if request.url.path.startswith(CPRO):
                return cpro_answer(to_refusal(exc))
            return await platform[kind](request, exc)

        app.add_exception_handler(kind, handler)

    def invalid(exc: Exception) -> Refusal:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        return Refusal(400, INVALID_REQUEST, f"Paramètre invalide : {_field(first)} ({first.get('msg', '')})")

    def problem(exc: Exception) -> Refusal:
        assert isinstance(exc, Problem)
        return Refusal(exc.status if exc.status != 422 else 400, INVALID_REQUEST, exc.detail or exc.title)

    def http(exc: Exception) -> Refusal:
        assert isinstance(exc, StarletteHTTPException)
        code = NOT_FOUND if exc.status_code in (404, 405) else INVALID_REQUEST
        return Refusal(exc.status_code, code, str(exc.detail))

    app.add_exception_handler(CproError, on_cpro_error)
    cpro_or_platform(RequestValidationError, invalid)
    cpro_or_platform(Problem, problem)
    cpro_or_platform(StarletteHTTPException, http)


def build_app(settings: PisteGatewaySettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or PisteGatewaySettings()
    runtime = ServiceRuntime(settings, outbox, inbox, clock or SystemClock())
    register_events(runtime)
    reader = FlowWorker(
        runtime.unit_of_work,
        settings.max_flow_bytes,
        settings.flow_attempts,
        settings.flow_poll_interval_seconds,
    )
    if settings.runs_worker:
        runtime.add_job(reader.run)
    forwarder = Forwarder(settings)
    app = create_app(
        runtime,
        title="Chorus PISTE gateway",
        version=VERSION,
        description="Chorus Pro's own API, as PISTE publishes it under /cpro/..., over this platform: "
        "clients that already speak it (ERPs, client libraries) work unchanged.",
        routers=api.ROUTERS,
        on_shutdown=forwarder.close,
    )
    app.state.forwarder = forwarder

    @app.get(
        "/.well-known/jwks.json", tags=["operations"], summary="The keys of the gateway's forwarded calls"
    )
    async def jwks() -> dict[str, Any]:
        return forwarder.jwks()

    app.state.access = Access(
        settings.token_secret.get_secret_value(),
        settings.token_ttl_seconds,
        settings.credentials_cache_seconds,
    )
    app.state.flows = reader
    speak_chorus_pro(app)
    return app
