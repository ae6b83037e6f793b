"""Settings of the piste-gateway service, from the environment."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from chorus_common.settings import ServiceSettings, default_database_url, refuse_development_secret

DEV_TOKEN_SECRET = "chorus-dev-piste-token-secret-not-for-production"  # refused when APP_ENV=prod


class PisteGatewaySettings(ServiceSettings):
    service_name: str = "piste-gateway"
    http_port: int = 8007
    database_url: str = default_database_url("chorus_piste_gateway")
    # Signs the access tokens POST /api/oauth/token issues (HS256); replicas share it.
    token_secret: SecretStr = SecretStr(DEV_TOKEN_SECRET)
    # Below 32,768: one client reads `expires_in` as a 16-bit integer.
    token_ttl_seconds: int = Field(default=3600, ge=60, le=32_767)
    # A technical account's password, once checked (scrypt, about a quarter of a second), is believed
    # this long for as long as the account's snapshot is unchanged.
    credentials_cache_seconds: float = Field(default=300.0, ge=0)

    @model_validator(mode="after")
    def _a_secret_of_its_own_in_production(self) -> PisteGatewaySettings:
        refuse_development_secret(
            self.app_env, self.token_secret.get_secret_value(), DEV_TOKEN_SECRET, "TOKEN_SECRET"
        )
        return self
