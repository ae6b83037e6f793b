"""HTTP building blocks: exact-decimal JSON bodies, request ids and metrics, pagination."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chorus_common.events import Party
from chorus_common.logging import request_id_var
from chorus_common.metrics import HTTP_LATENCY, HTTP_REQUESTS
from chorus_common.problems import problem_response

MAX_BODY_BYTES = 1_048_576


class ExactJSONRequest(Request):
    """Parses JSON numbers with a fraction as `Decimal`, so `0.1` stays exactly 0.1."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body, parse_float=Decimal)
            except RecursionError:
                raise json.JSONDecodeError(
                    "JSON nested too deeply", body.decode(errors="replace"), 0
                ) from None
        return self._json


class ExactJSONRoute(APIRoute):
    """Route class for routers whose bodies carry money or quantities."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact_handler(request: Request) -> Response:
            return await handler(ExactJSONRequest(request.scope, request.receive))

        return exact_handler


class BodySizeLimit:
    """Refuses a body streamed past the limit (no Content-Length) as the route reads it: 413."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # FastAPI lets an HTTPException out of body reading; the problem handler answers.
                    raise HTTPException(413, f"Request bodies are limited to {self.max_body_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)


def install_http_middleware(app: FastAPI, service: str, max_body_bytes: int = MAX_BODY_BYTES) -> None:
    """Request ids in logs and responses, Prometheus metrics, and a bound on body size."""

    app.add_middleware(BodySizeLimit, max_body_bytes=max_body_bytes)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request_id = request.headers.get("x-request-id") or str(uuid.uuid4())
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            length = request.headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > max_body_bytes):
                response: Response = problem_response(
                    413,
                    "payload-too-large",
                    "Payload too large",
                    f"Request bodies are limited to {max_body_bytes} bytes",
                    instance=request.url.path,
                )
            else:
                response = await call_next(request)
        finally:
            request_id_var.reset(token)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(service, request.method, template, str(response.status_code)).inc()
        HTTP_LATENCY.labels(service, request.method, template).observe(time.perf_counter() - started)
        response.headers["x-request-id"] = request_id
        return response


class PartyIn(Party):
    """A party (structure id, name, e-mail, optional service code) in a request body; no other field."""

    model_config = ConfigDict(extra="forbid", frozen=True)


T = TypeVar("T")


class PageParams(BaseModel):
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def page_params(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number")] = 1,
    page_size: Annotated[int, Query(ge=1, le=200, description="Items per page")] = 50,
) -> PageParams:
    return PageParams(page=page, page_size=page_size)


Pagination = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    page: int
    page_size: int
    total: int


M = TypeVar("M", bound=BaseModel)


def page_of(model: type[M], rows: Iterable[Mapping[str, Any]], total: int, pagination: PageParams) -> Page[M]:
    """The page of `model`s made from database rows."""
    return Page[model](  # type: ignore[valid-type]
        items=[model.model_validate(dict(row)) for row in rows],
        page=pagination.page,
        page_size=pagination.page_size,
        total=total,
    )
