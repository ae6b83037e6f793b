"""The signed-out forms' guard: CSRF tokens bound to their cookie, ALTCHA challenges solved once in
their lifetime, and the pinned copy of the widget the portal serves."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from chorus_testing.captcha import solve
from support_portal.guard import FormGuard

STATIC = Path(__file__).resolve().parents[2] / "src" / "support_portal" / "static" / "altcha"


def guard(secret: bytes = b"s" * 32, ttl: int = 600) -> FormGuard:
    return FormGuard(
        secret, captcha_cost=5, captcha_max_counter=30, captcha_ttl_seconds=ttl, secure_cookie=True
    )


def test_a_csrf_token_is_good_for_its_own_cookie_and_secret_only():
    cookie, other = FormGuard.new_cookie(), FormGuard.new_cookie()
    token = guard().csrf_token(cookie)
    assert guard().csrf_valid(cookie, token)
    assert not guard().csrf_valid(other, token)
    assert not guard(b"another secret").csrf_valid(cookie, token)
    assert not guard().csrf_valid(None, token) and not guard().csrf_valid(cookie, None)


def test_a_solved_challenge_verifies_under_its_secret_until_it_expires():
    solved = guard().verify(solve(guard().challenge()))
    assert solved is not None and len(solved.signature) == 64
    assert guard(b"another secret").verify(solve(guard().challenge())) is None
    assert guard(ttl=-60).verify(solve(guard(ttl=-60).challenge())) is None, "expired"
    assert guard().verify("") is None and guard().verify("e30=") is None  # '' and '{}'


def test_the_served_widget_is_the_pinned_copy_its_readme_names():
    pinned = re.findall(r"\| `([^`]+)` \| `[^`]+` \| `([0-9a-f]{64})` \|", (STATIC / "README.md").read_text())
    assert {name for name, _ in pinned} == {"altcha.min.js", "fr-fr.js", "LICENSE.txt"}
    for name, digest in pinned:
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, name
