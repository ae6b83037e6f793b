"""Settings of the support-portal service, from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from chorus_common.settings import ServiceSettings, default_database_url, refuse_development_secret

DEV_FORM_SECRET = "chorus-dev-form-secret-not-for-production"  # refused when CHORUS_APP_ENV=prod

DEFAULT_ROUTING_TABLE = Path(__file__).resolve().parents[4] / "deploy" / "support" / "routing.json"
DEFAULT_CATEGORIES = DEFAULT_ROUTING_TABLE.with_name("categories.json")


class SupportPortalSettings(ServiceSettings):
    service_name: str = "support-portal"
    http_port: int = 8004
    database_url: str = default_database_url("chorus_support_portal")
    routing_table_path: Path = DEFAULT_ROUTING_TABLE
    categories_path: Path = DEFAULT_CATEGORIES  # the referential of categories and subcategories
    # The address users reach the portal at; follow links in e-mails start with it.
    public_base_url: str = "http://127.0.0.1:8004"
    # Signed-out ticket creation, per e-mail address and per client address.
    signed_out_limit_per_hour: int = Field(default=5, ge=1)
    # Signs the forms' CSRF tokens and the captcha's challenges; replicas share it.
    form_secret: SecretStr = SecretStr(DEV_FORM_SECRET)
    # The captcha's work: a counter below CHORUS_CAPTCHA_MAX_COUNTER to find, each try CHORUS_CAPTCHA_COST
    # PBKDF2 iterations (half the counter on average: about a second of a phone's browser by default).
    captcha_cost: int = Field(default=1000, ge=1, le=1_000_000)
    captcha_max_counter: int = Field(default=5000, ge=1, le=10_000_000)
    captcha_ttl_seconds: int = Field(default=600, ge=10)

    @model_validator(mode="after")
    def _a_secret_of_its_own_in_production(self) -> SupportPortalSettings:
        refuse_development_secret(
            self.app_env, self.form_secret.get_secret_value(), DEV_FORM_SECRET, "CHORUS_FORM_SECRET"
        )
        return self
