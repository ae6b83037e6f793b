from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Annotated

import httpx
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc

from chorus_common.http import ExactJSONRoute, install_http_middleware
from chorus_common.problems import Problem, install_problem_handlers


class Amount(BaseModel):
    value: Annotated[Decimal, Field(max_digits=30, decimal_places=20)]


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    install_http_middleware(app, "test", max_body_bytes=1_000_000)
    router = APIRouter(route_class=ExactJSONRoute)

    @router.post("/amounts")
    async def echo(amount: Amount) -> dict[str, str]:
        return {"value": str(amount.value)}

    @router.get("/conflict")
    async def conflict() -> None:
        raise Problem(409, "action-not-allowed", "Not allowed", "not now")

    @router.get("/database-away")
    async def database_away() -> None:
        raise sa_exc.OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "Connection refused"))

    @router.get("/bug")
    async def bug() -> None:
        raise KeyError("a bug")

    app.include_router(router)
    return app


async def call(method: str, path: str, **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path, **kwargs)  # type: ignore[arg-type]


async def test_json_numbers_are_read_as_exact_decimals():
    response = await call(
        "POST",
        "/amounts",
        content=b'{"value": 0.12345678901234567891}',
        headers={"content-type": "application/json"},
    )
    assert response.json() == {"value": "0.12345678901234567891"}


async def test_validation_errors_are_problems_naming_the_field():
    response = await call("POST", "/amounts", json={"value": "abc"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:chorus:problem:validation-error"
    assert problem["errors"][0]["field"] == "value"


async def test_malformed_and_deeply_nested_json_get_a_4xx_problem():
    malformed = await call("POST", "/amounts", content=b"{oops", headers={"content-type": "application/json"})
    assert malformed.status_code == 422
    deep = await call(
        "POST",
        "/amounts",
        content=b"[" * 50_000 + b"]" * 50_000,
        headers={"content-type": "application/json"},
    )
    assert deep.status_code == 422
    assert deep.json()["errors"][0]["source"] == "body"


async def test_oversized_bodies_are_refused_with_413():
    response = await call("POST", "/amounts", json={"value": "1" * 2_000_000})
    assert response.status_code == 413
    assert response.json()["type"] == "urn:chorus:problem:payload-too-large"


async def streamed(size: int, chunk: int = 65_536) -> AsyncIterator[bytes]:
    for _ in range(size // chunk):
        yield b"1" * chunk


async def test_a_body_streamed_without_content_length_is_cut_at_the_limit():
    response = await call(
        "POST", "/amounts", content=streamed(4_000_000), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_unreachable_database_is_a_503_to_retry_and_a_bug_a_500():
    away = await call("GET", "/database-away")
    assert away.status_code == 503
    assert away.json()["type"] == "urn:chorus:problem:service-unavailable"
    assert away.headers["retry-after"] == "2"
    # A bug still reaches the server's error log (Starlette re-raises after answering), hence the transport.
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        bug = await client.get("/bug")
    assert bug.status_code == 500
    assert bug.json()["type"] == "urn:chorus:problem:internal-error"


async def test_domain_problems_and_unknown_routes_are_rfc9457():
    conflict = await call("GET", "/conflict")
    assert conflict.status_code == 409
    assert conflict.json()["type"] == "urn:chorus:problem:action-not-allowed"
    missing = await call("GET", "/nowhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert "x-request-id" in missing.headers
