"""Settings of the piste-gateway service, from the environment."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from chorus_common.settings import ServiceSettings, default_database_url, refuse_development_secret

DEV_TOKEN_SECRET = "chorus-dev-piste-token-secret-not-for-production"  # refused when CHORUS_APP_ENV=prod


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
    # The largest file a flow may carry (deposer/flux), decoded; Chorus Pro's own limit is 120 MB.
    max_flow_bytes: int = Field(default=10_000_000, ge=1024, le=120_000_000)
    # A deposit's JSON carries the file in base64: a third larger than the file.
    max_json_bytes: int = 14 * 1024 * 1024
    # How often the flow worker looks for flows to read when no deposit woke it.
    flow_poll_interval_seconds: float = Field(default=1.0, gt=0)
    # A flow whose reading fails this many times for a technical reason is IN_INCIDENTE.
    flow_attempts: int = Field(default=3, ge=1)
    # The actions on invoices (traiter/recue, traiter/factureAValider, traiterRejet, completer,
    # recycler) go to the services that own them, at these addresses, with a token the gateway signs
    # for the technical account's structure: RS256 with this private key (PEM), whose public half it
    # serves at /.well-known/jwks.json (the services' CHORUS_GATEWAY_JWKS_URL); in CHORUS_APP_ENV=dev,
    # without a key, HS256 with the dev secret.
    received_invoices_url: str = "http://127.0.0.1:8002"
    invoicing_works_url: str = "http://127.0.0.1:8001"
    # Where the support categories (rechercher/categorieSollicitation) come from: support-portal's
    # public referential.
    support_portal_url: str = "http://127.0.0.1:8004"
    internal_token_key: SecretStr | None = None
    internal_token_ttl_seconds: int = Field(default=60, ge=5, le=900)
    forward_timeout_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _a_secret_of_its_own_in_production(self) -> PisteGatewaySettings:
        refuse_development_secret(
            self.app_env, self.token_secret.get_secret_value(), DEV_TOKEN_SECRET, "CHORUS_TOKEN_SECRET"
        )
        if self.app_env == "prod" and self.internal_token_key is None:
            raise ValueError("CHORUS_APP_ENV=prod needs CHORUS_INTERNAL_TOKEN_KEY (a PEM RSA private key)")
        needed = self.max_flow_bytes * 4 // 3 + 64 * 1024
        if self.max_json_bytes < needed:
            raise ValueError(
                f"CHORUS_MAX_JSON_BYTES must hold a flow of CHORUS_MAX_FLOW_BYTES in base64: {needed} or more"
            )
        return self
