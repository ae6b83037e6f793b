"""Solving the support portal's captcha as its widget does: fetch a challenge, find the counter (ALTCHA's
own solver), and hand back the payload that goes in a signed-out ticket's `altcha` field."""

from __future__ import annotations

from typing import Any

import altcha
import httpx


def solve(challenge: dict[str, Any]) -> str:
    """The base64 payload of `challenge` (GET /public/captcha's answer) and its solution."""
    parsed = altcha.Challenge.from_dict(challenge)
    solution = altcha.solve_challenge(parsed, timeout=60)
    assert solution is not None, "the captcha was not solved within a minute"
    return altcha.Payload(parsed, solution).to_base64()


async def solved(client: httpx.AsyncClient, base_url: str = "") -> str:
    """A freshly solved captcha of the portal at `base_url` (the client's own base URL by default)."""
    response = await client.get(base_url + "/public/captcha")
    assert response.status_code == 200, response.text
    return solve(response.json())


async def with_captcha(client: httpx.AsyncClient, body: dict[str, Any], base_url: str = "") -> dict[str, Any]:
    """`body`, a signed-out ticket, with a solved captcha in its `altcha` field."""
    return {**body, "altcha": await solved(client, base_url)}
