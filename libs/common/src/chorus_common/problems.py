"""RFC 9457 problem details for every error a service returns."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from chorus_common.actions import REFUSAL_STATUS, ActionRefused
from chorus_common.db import DRIVER_CONNECTION_ERRORS, is_unavailable, is_unstorable_text

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:chorus:problem:"

logger = logging.getLogger("chorus.problems")

_DEFAULT_SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "too-many-requests",
    503: "service-unavailable",
}


class Problem(Exception):
    """An error to return as `application/problem+json`; `slug` makes the stable `type`."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers
        self.extensions = extensions


def not_found(what: str) -> Problem:
    return Problem(404, "not-found", "Resource not found", f"{what} not found")


def field_problem(field_name: str, slug: str, title: str, message: str) -> Problem:
    """A 422 naming the field of the request body that is wrong (dotted for a nested one)."""
    return Problem(
        422,
        slug,
        title,
        f"{field_name}: {message}",
        errors=[{"source": "body", "field": field_name, "message": message}],
    )


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_TYPE_PREFIX + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        if location and location[0] in {"body", "query", "path", "header"}:
            source, field = location[0], ".".join(location[1:])
        else:
            source, field = "body", ".".join(location)
        errors.append({"source": source, "field": field, "message": error.get("msg", "")})
    return errors


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "urn:chorus:problem:<slug>, stable for clients to match"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["source", "field", "message"],
                "properties": {
                    "source": {"type": "string", "enum": ["body", "query", "path", "header"]},
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}


def document_problems(app: FastAPI) -> None:
    """Declare in `app`'s OpenAPI document the problems it answers with (instead of FastAPI's 422 body).

    Every operation of the API gets its 422 as a problem and a `default` problem response for the
    other errors (400, 401, 403, 404, 409, 413, 429...), so that a client can rely on one error shape.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        problem = {
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for path, operations in document.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = {"description": "Invalid request", **problem}
                if not path.startswith("/health/"):
                    responses["default"] = {"description": "Error", **problem}
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["Problem"] = PROBLEM_SCHEMA
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of `app` an RFC 9457 problem, validation errors listing their fields."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(
            exc.status,
            exc.slug,
            exc.title,
            exc.detail,
            instance=request.url.path,
            headers=exc.headers,
            **exc.extensions,
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = _field_errors(exc)
        fields = ", ".join(e["field"] or e["source"] for e in errors)
        return problem_response(
            422,
            "validation-error",
            "Request validation failed",
            f"Invalid fields: {fields}",
            instance=request.url.path,
            errors=errors,
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        slug = _DEFAULT_SLUGS.get(exc.status_code, "http-error")
        title = slug.replace("-", " ").capitalize()
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(
            exc.status_code,
            slug,
            title,
            detail,
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "internal-error", "Internal server error", instance=request.url.path)

    async def on_server_error(request: Request, exc: Exception) -> JSONResponse:
        if is_unstorable_text(exc):
            return problem_response(
                422,
                "invalid-text",
                "Request validation failed",
                "Text may not contain the NUL character (\\u0000)",
                instance=request.url.path,
            )
        if not is_unavailable(exc):
            return await on_unexpected(request, exc)
        # The database (or another server) is away for a moment: the client may retry.
        logger.warning("dependency unavailable on %s %s: %r", request.method, request.url.path, exc)
        return problem_response(
            503,
            "service-unavailable",
            "Service unavailable",
            "A server this service depends on is unavailable; retry shortly",
            instance=request.url.path,
            headers={"Retry-After": "2"},
        )

    async def on_refused(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ActionRefused)
        return problem_response(
            REFUSAL_STATUS[exc.refusal],
            exc.slug,
            exc.title,
            str(exc),
            instance=request.url.path,
            **exc.extensions,
        )

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(ActionRefused, on_refused)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    for dependency_error in (
        sa_exc.DBAPIError,
        sa_exc.TimeoutError,
        ConnectionError,
        TimeoutError,
        *DRIVER_CONNECTION_ERRORS,
    ):
        app.add_exception_handler(dependency_error, on_server_error)
    app.add_exception_handler(Exception, on_unexpected)
