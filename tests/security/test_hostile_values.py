"""A property of every endpoint of every service: whatever values a client sends, in the body, the path
or the query, the answer is never a 5xx.

Schemathesis draws a request that the published OpenAPI document accepts; Hypothesis then makes one of
its values hostile, with what breaks servers: NUL and other control characters, lone surrogates, strings
longer than any column (up to 20,000 characters in a body, 1,000 in a URL), numbers far beyond any
column (10^40, 1e308, "1e400"), negative zero, deep and wide structures. Requests carry an
administrator's token, so that they reach validation and storage instead of stopping at the door.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from chorus_testing.platform import SERVICES, Platform

from .conftest import IdentityProvider

DOCS = Path(__file__).resolve().parents[2] / "docs"
METHODS = {"get", "post", "put", "patch", "delete"}
HOSTILE = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,  # the same requests on every run: a failure here is reproducible
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)

CONTROL = st.sampled_from(["\x00", "\x01", "\x07", "\x1b", "\x7f", "\ud800", "\udfff"])
ODD_TEXT = st.one_of(
    st.tuples(st.text(max_size=20), CONTROL, st.text(max_size=20)).map("".join),
    st.sampled_from(
        ["", " ", "1e400", "-0", "NaN", "9" * 40, "0" * 30 + "1", "'; DROP TABLE x; --", "../.."]
    ),
)
HOSTILE_TEXT = st.one_of(ODD_TEXT, st.integers(min_value=201, max_value=20_001).map(lambda n: "é" * n))
# A URL holds less: past some kilobytes the HTTP server refuses the request line itself.
HOSTILE_PARAMETER = st.one_of(ODD_TEXT, st.integers(min_value=101, max_value=1_000).map(lambda n: "é" * n))
HOSTILE_NUMBER = st.one_of(
    st.sampled_from([10**40, -(10**40), 2**63, -(2**63) - 1, 1e308, -1e308, -0.0, 5e-324]),
    st.integers(min_value=-(10**25), max_value=10**25),
)
HOSTILE_VALUE = st.one_of(HOSTILE_TEXT, HOSTILE_NUMBER)
ANYTHING: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.none(), st.booleans(), HOSTILE_NUMBER, HOSTILE_TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def operations() -> list[tuple[str, Any]]:
    """(service, operation) of every operation every service publishes."""
    found = []
    for service in SERVICES:
        document = json.loads((DOCS / service / "openapi.json").read_text())
        for result in schemathesis.openapi.from_dict(document).get_all_operations():
            found.append((service, result.ok()))  # type: ignore[union-attr]  # an Err raises here
    return found


OPERATIONS = operations()


def leaves(value: Any, where: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The paths to every value inside `value` (the whole of it included)."""
    found = [where]
    if isinstance(value, dict):
        for key, item in value.items():
            found += leaves(item, (*where, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += leaves(item, (*where, index))
    return found


def replaced(value: Any, where: tuple[Any, ...], new: Any) -> Any:
    if not where:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[where[0]] = replaced(value[where[0]], where[1:], new)
    return copy


def text_of(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def escaped(text: str) -> str:
    """`text` percent-encoded as a client may send it, lone surrogates as the bytes that encode them."""
    return quote(text, safe="", encoding="utf-8", errors="surrogatepass")


@pytest.mark.parametrize(
    ("service", "operation"),
    OPERATIONS,
    ids=[f"{service} {operation.method.upper()} {operation.path}" for service, operation in OPERATIONS],
)
def test_no_value_a_client_sends_gets_a_server_error(
    service: str, operation: Any, secured_platform: Platform, identity_provider: IdentityProvider
) -> None:
    """A request valid in every other respect (schemathesis draws it from the document), with one value
    -- a field of the body, at any depth, a path or a query parameter -- made hostile."""
    headers = identity_provider.headers("hostile", ["HOSTILE-STRUCTURE"], ["admin"])
    base = secured_platform.url(service)

    @HOSTILE
    @given(case=operation.as_strategy(GenerationMode.POSITIVE), data=st.data())
    def answer(case: Any, data: st.DataObject) -> None:
        path_parameters = dict(case.path_parameters or {})
        query = dict(case.query or {})
        body = case.body if case.media_type == "application/json" else None
        targets = [("path", (name,)) for name in path_parameters] + [("query", (name,)) for name in query]
        if body is not None:
            targets += [("body", where) for where in leaves(body)]
        if targets:
            part, where = data.draw(st.sampled_from(targets), label="made hostile")
            if part == "body":
                body = replaced(body, where, data.draw(ANYTHING if not where else HOSTILE_VALUE))
            else:
                chosen = path_parameters if part == "path" else query
                chosen[where[0]] = data.draw(st.one_of(HOSTILE_PARAMETER, HOSTILE_NUMBER))
        path = operation.path
        for name, value in path_parameters.items():
            path = path.replace("{" + name + "}", escaped(text_of(value)) or "x")
        pairs = {name: text_of(value) for name, value in query.items()}
        url = (
            base
            + path
            + ("?" + "&".join(f"{escaped(k)}={escaped(v)}" for k, v in pairs.items()) if pairs else "")
        )
        content = None if body is None else json.dumps(body).encode()
        response = client.request(
            operation.method.upper(),
            httpx.URL(url),
            content=content,
            headers={**headers, **({"content-type": "application/json"} if content else {})},
        )
        assert response.status_code < 500, (operation.method, path, pairs, body, response.text[:500])

    with httpx.Client(timeout=30) as client:
        answer()
