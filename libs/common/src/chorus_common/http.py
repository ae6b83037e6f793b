"""HTTP building blocks: exact-decimal JSON bodies, request ids and metrics, pagination."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Mapping
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chorus_common.events import Party
from chorus_common.events.catalogue import Email
from chorus_common.logging import request_id_var
from chorus_common.metrics import HTTP_LATENCY, HTTP_REQUESTS
from chorus_common.problems import Problem, problem_response
from chorus_common.replica import PartyRef
from chorus_common.text import control_character

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


class ObservedRequests:
    """Request ids (in logs and responses), Prometheus metrics, and the bound on body size: an upload
    (multipart/form-data) may be as large as an attachment, any other body as `max_body_bytes`.

    A plain ASGI middleware: Starlette's `BaseHTTPMiddleware` runs each request in a task group of
    its own, which costs more than the rest of a simple read.
    """

    def __init__(self, app: ASGIApp, service: str, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.service = service
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = headers.get("x-request-id") or str(uuid.uuid4())
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        received = 0
        upload = headers.get("content-type", "").startswith("multipart/form-data")
        limit = self.max_upload_bytes if upload else self.max_body_bytes

        async def limited_receive() -> Message:
            # A body streamed without Content-Length is cut as the route reads it past the limit.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI lets an HTTPException out of body reading; the problem handler answers.
                    raise HTTPException(413, f"Request bodies are limited to {limit} bytes")
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("x-request-id", request_id)
            await send(message)

        try:
            length = headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > limit):
                response = problem_response(
                    413,
                    "payload-too-large",
                    "Payload too large",
                    f"Request bodies are limited to {limit} bytes",
                    instance=scope["path"],
                )
                await response(scope, receive, send_with_id)
            else:
                await self.app(scope, limited_receive, send_with_id)
        finally:
            request_id_var.reset(token)
            template = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, template).observe(time.perf_counter() - started)


def install_http_middleware(
    app: FastAPI, service: str, max_body_bytes: int = MAX_BODY_BYTES, max_upload_bytes: int = MAX_BODY_BYTES
) -> None:
    """Request ids in logs and responses, Prometheus metrics, and a bound on body size."""
    app.add_middleware(
        ObservedRequests, service=service, max_body_bytes=max_body_bytes, max_upload_bytes=max_upload_bytes
    )


class PartyIn(Party):
    """A party (structure id, name, e-mail, optional service code) in a request body; no other field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: Email


class PartyRefIn(BaseModel):
    """A party named by its identifier in the directory (and optionally one of its services); its name
    and address are the directory's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    structure_id: Annotated[str, Field(min_length=1, max_length=100, examples=["11000201100044"])]
    service_code: Annotated[str | None, Field(min_length=1, max_length=100)] = None

    def ref(self) -> PartyRef:
        return PartyRef(self.structure_id, self.service_code)


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


async def refuse_control_characters(request: Request) -> None:
    """A JSON body holding a control character in any string is a 422 naming the field, before any
    model sees it (`chorus_common.text`)."""
    if request.method in ("GET", "HEAD", "DELETE", "OPTIONS"):
        return
    if "json" not in request.headers.get("content-type", ""):
        return
    try:
        body = await request.json()  # Starlette keeps it: the route reads the same document
    except ValueError:
        return  # not JSON: the route's own validation says so
    hit = control_character(body)
    if hit is not None:
        field, character = hit
        message = f"control character {character} not allowed"
        raise Problem(
            422,
            "invalid-text",
            "Request validation failed",
            f"{field}: {message}",
            errors=[{"source": "body", "field": field, "message": message}],
        )
