import time

import jwt
import pytest
from pydantic import ValidationError

from chorus_common.auth import TokenVerifier, mint_dev_token
from chorus_common.problems import Problem
from chorus_common.settings import DEV_JWT_SECRET, ServiceSettings


def dev_verifier() -> TokenVerifier:
    return TokenVerifier(ServiceSettings(app_env="dev", database_url="postgresql+asyncpg://x/y"))


def test_a_dev_token_becomes_a_principal_with_structures_and_roles():
    token = mint_dev_token("alice", ["S1", "S2"], ["admin"], email="a@example.fr")
    principal = dev_verifier().verify(token)
    assert principal.sub == "alice"
    assert principal.structures == {"S1", "S2"}
    assert principal.has_role("admin")
    assert principal.acts_for("S1") and not principal.acts_for("S3")


@pytest.mark.parametrize(
    "token",
    [
        mint_dev_token("alice", ["S1"], secret="another-secret-of-sufficient-length-0123"),
        mint_dev_token("alice", ["S1"], ttl_seconds=-10),
        jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, key="", algorithm="none"),
        "not-a-token",
    ],
    ids=["wrong-key", "expired", "alg-none", "garbage"],
)
def test_bad_tokens_are_refused_with_401(token: str):
    with pytest.raises(Problem) as refused:
        dev_verifier().verify(token)
    assert refused.value.status == 401


def test_hs256_tokens_are_refused_outside_dev():
    settings = ServiceSettings(app_env="test", database_url="postgresql+asyncpg://x/y")
    with pytest.raises(Problem):
        TokenVerifier(settings).verify(mint_dev_token("alice", ["S1"], secret=DEV_JWT_SECRET))


def test_production_refuses_to_start_with_a_dev_secret():
    with pytest.raises(ValidationError, match="only when CHORUS_APP_ENV=dev"):
        ServiceSettings(
            app_env="prod",
            database_url="postgresql+asyncpg://x/y",
            auth_jwt_secret=DEV_JWT_SECRET,
            auth_jwks_url="https://idp/jwks",
            auth_issuer="https://idp",
            auth_audience="chorus",
        )


def test_production_refuses_to_start_without_its_database():
    with pytest.raises(ValidationError, match="CHORUS_DATABASE_URL"):
        ServiceSettings(
            app_env="prod",
            database_url="",
            auth_jwks_url="https://idp/jwks",
            auth_issuer="https://idp",
            auth_audience="chorus",
        )


def test_a_verified_token_is_trusted_again_only_until_it_expires(monkeypatch: pytest.MonkeyPatch):
    verifier = dev_verifier()
    token = mint_dev_token("alice", ["S1"], ttl_seconds=60)
    assert verifier.already_verified(token) is None, "nothing is trusted before it is verified"
    principal = verifier.verify(token)
    assert verifier.already_verified(token) == principal
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    # Expired: verified afresh, which refuses it (see test_bad_tokens_are_refused_with_401).
    assert verifier.already_verified(token) is None


def test_a_bad_token_is_never_trusted():
    verifier = dev_verifier()
    forged = mint_dev_token("alice", ["S1"], secret="another-secret-of-sufficient-length-0123")
    with pytest.raises(Problem):
        verifier.verify(forged)
    assert verifier.already_verified(forged) is None


def test_without_app_env_a_service_is_production_and_refuses_to_start_unconfigured(monkeypatch):
    from chorus_common.settings import ServiceSettings

    monkeypatch.delenv("CHORUS_APP_ENV", raising=False)
    with pytest.raises(ValidationError, match="CHORUS_APP_ENV=prod needs CHORUS_AUTH_JWKS_URL"):
        ServiceSettings(database_url="postgresql+asyncpg://db/x")
    with pytest.raises(ValidationError, match="only when CHORUS_APP_ENV=dev"):
        ServiceSettings(
            database_url="postgresql+asyncpg://db/x", auth_jwt_secret="chorus-dev-secret-not-for-production"
        )
    configured = ServiceSettings(
        database_url="postgresql+asyncpg://db/x",
        auth_jwks_url="https://idp.example.org/jwks",
        auth_issuer="https://idp.example.org/",
        auth_audience="chorus",
    )
    assert configured.app_env == "prod"
