"""The signed-out forms against abuse: a CSRF token on every form post, the captcha before a ticket is
created, text refused on the form page itself; with a real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa

from chorus_common.events import TicketSubmitted, parse_event
from chorus_testing.captcha import solve, solved
from chorus_testing.fixtures import BusProbe, take_where
from support_portal.db import tickets

from .conftest import RunningSupportPortal
from .test_tickets import SUPPORT_AGENT, post_signed_out, signed_out

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@pytest.fixture
async def browser(service: RunningSupportPortal) -> AsyncIterator[httpx.AsyncClient]:
    """A visitor with its own cookie jar, at the portal's public (https) address."""
    transport = httpx.ASGITransport(app=service.app, client=(f"192.0.2.{uuid.uuid4().int % 200}", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://support.example") as client:
        yield client


def form(email: str, **extra: str) -> dict[str, str]:
    fields = {
        key: value
        for key, value in signed_out(email).items()
        if isinstance(value, str) and key != "environment"
    }
    return {**fields, **extra}


async def csrf_token(browser: httpx.AsyncClient, path: str = "/") -> str:
    page = await browser.get(path)
    assert page.status_code == 200
    found = CSRF.search(page.text)
    assert found is not None, "every form carries a CSRF token"
    return found.group(1)


async def stored(service: RunningSupportPortal, email: str) -> int:
    async with service.app.state.runtime.engine.connect() as conn:
        return int(
            await conn.scalar(sa.select(sa.func.count()).where(tickets.c.requester_email == email)) or 0
        )


async def test_the_form_creates_a_ticket_only_with_its_csrf_token_and_a_solved_captcha(
    service: RunningSupportPortal, browser: httpx.AsyncClient
):
    email = f"form-{uuid.uuid4().hex[:6]}@example.fr"
    page = await browser.get("/")
    assert 'challenge="/public/captcha"' in page.text and "/static/altcha/altcha.min.js" in page.text
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
    widget = await browser.get("/static/altcha/altcha.min.js")
    assert widget.status_code == 200 and "altcha-widget" in widget.text, "the widget is the portal's own"
    token = await csrf_token(browser)

    no_token = await browser.post("/", data=form(email, altcha=await solved(browser)))
    assert no_token.status_code == 403 and "Le formulaire a expiré" in no_token.text
    assert 'value="Jean Dupont"' in no_token.text, "what was typed comes back"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service.app), base_url="https://support.example"
    ) as elsewhere:
        # A visitor holding a cookie of its own posts another visitor's token: they do not match.
        await csrf_token(elsewhere)
        forged = await elsewhere.post("/", data=form(email, csrf_token=token, altcha=await solved(elsewhere)))
    assert forged.status_code == 403

    no_captcha = await browser.post("/", data=form(email, csrf_token=token))
    assert no_captcha.status_code == 422 and "Je ne suis pas un robot" in no_captcha.text
    assert 'href="#altcha"' in no_captcha.text

    challenge = (await browser.get("/public/captcha")).json()
    unsolved = base64.b64encode(
        json.dumps({"challenge": challenge, "solution": {"counter": 0, "derivedKey": "00"}}).encode()
    ).decode()
    wrong = await browser.post("/", data=form(email, csrf_token=token, altcha=unsolved))
    assert wrong.status_code == 422 and "La vérification anti-robot a expiré ou a échoué" in wrong.text
    assert await stored(service, email) == 0, "nothing refused was created"

    solution = solve(challenge)
    created = await browser.post("/", data=form(email, csrf_token=token, altcha=solution))
    assert created.status_code == 201 and "SOL-" in created.text
    again = await browser.post("/", data=form(email, csrf_token=token, altcha=solution))
    assert again.status_code == 422, "a solved captcha is good once"
    assert await stored(service, email) == 1


async def test_the_json_api_needs_a_captcha_solved_once_and_untampered(service: RunningSupportPortal):
    email = f"api-{uuid.uuid4().hex[:6]}@example.fr"
    missing = await service.client.post("/public/tickets", json=signed_out(email))
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "altcha"

    challenge = (await service.client.get("/public/captcha")).json()
    assert challenge["parameters"]["algorithm"] == "PBKDF2/SHA-256" and challenge["signature"]
    payload = solve(challenge)
    decoded = json.loads(base64.b64decode(payload))
    decoded["challenge"]["parameters"]["expiresAt"] += 86_400  # a longer life than the portal gave
    tampered = base64.b64encode(json.dumps(decoded).encode()).decode()
    for refused in (tampered, "not base64 at all!", base64.b64encode(b"[1, 2]").decode()):
        answer = await service.client.post("/public/tickets", json={**signed_out(email), "altcha": refused})
        assert answer.status_code == 422, refused
        assert answer.json()["type"] == "urn:chorus:problem:captcha-refused"

    body = {**signed_out(email), "altcha": payload}
    assert (await service.client.post("/public/tickets", json=body)).status_code == 201
    replayed = await service.client.post("/public/tickets", json=body)
    assert replayed.status_code == 422 and "used already" in replayed.json()["detail"]
    assert await stored(service, email) == 1


async def test_a_control_character_in_the_form_is_an_error_on_the_form_page(
    service: RunningSupportPortal, browser: httpx.AsyncClient
):
    email = f"nul-{uuid.uuid4().hex[:6]}@example.fr"
    token = await csrf_token(browser)
    answer = await browser.post(
        "/", data=form(email, csrf_token=token, altcha=await solved(browser), name="Jean\x00Dupont")
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html"), "the form page, not a JSON problem"
    assert 'href="#name"' in answer.text and "caractère de contrôle" in answer.text
    assert await stored(service, email) == 0


async def test_the_follow_page_forms_need_their_csrf_token(
    service: RunningSupportPortal, browser: httpx.AsyncClient, bus: BusProbe
):
    tap = await bus.tap("ticket-submitted")
    email = f"follow-{uuid.uuid4().hex[:6]}@example.fr"
    assert (await post_signed_out(service.client, email)).status_code == 201
    message = await take_where(tap, lambda data: data.get("requester_email") == email)
    _, data = parse_event(message.body)
    assert isinstance(data, TicketSubmitted) and data.follow_url
    follow = data.follow_url.rsplit("/", 1)[1]
    await service.act(SUPPORT_AGENT, str(data.ticket_id), "PRISE_EN_CHARGE")
    await service.act(SUPPORT_AGENT, str(data.ticket_id), "DEMANDE_COMPLEMENT", "Votre SIRET ?")

    page = f"/suivi/{follow}"
    token = await csrf_token(browser, page)
    refused = await browser.post(page, data={"action": "COMPLEMENT", "message": "11000000000015"})
    assert refused.status_code == 403 and "Le formulaire a expiré" in refused.text
    attach = await browser.post(
        page + "/pieces", files={"file": ("a.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")}
    )
    assert attach.status_code == 403
    answered = await browser.post(
        page, data={"action": "COMPLEMENT", "message": "11000000000015", "csrf_token": token}
    )
    assert answered.status_code == 303
    view = await service.client.get(f"/public/follow/{follow}")
    assert view.json()["status"] == "COMPLEMENT_APPORTE" and view.json()["attachments"] == []
