"""The settings every service reads from its environment; each service subclasses `ServiceSettings`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEV_JWT_SECRET = "chorus-dev-secret-not-for-production"  # refused outside CHORUS_APP_ENV=dev

AppEnv = Literal["dev", "test", "prod"]
ServiceRole = Literal["api", "worker", "all"]


def refuse_development_secret(app_env: str, value: str, development: str, variable: str) -> None:
    """In production, a secret left at its development value (printed in the README) is refused."""
    if app_env == "prod" and value == development:
        raise ValueError(f"CHORUS_APP_ENV=prod needs {variable} (the development one is refused)")


def default_database_url(database: str) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"


# Every setting is read from the environment as CHORUS_<NAME>: the names a platform sets in a pod for its
# own purposes (SERVICE_NAME, and Kubernetes' service links, <SERVICE>_PORT=tcp://... and
# <SERVICE>_SERVICE_HOST for every Service of the namespace: a Service named smtp sets SMTP_PORT) change
# nothing.
ENV_PREFIX = "CHORUS_"

# Settings the environment never sets: a service's name is its own (its queues, its event source, its
# migration table).
NOT_FROM_ENVIRONMENT = frozenset({"service_name"})


class _Environment(EnvSettingsSource):
    def __call__(self) -> dict[str, object]:
        return {name: value for name, value in super().__call__().items() if name not in NOT_FROM_ENVIRONMENT}


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", populate_by_name=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _Environment(settings_cls), dotenv_settings, file_secret_settings

    service_name: str = ""
    # Production unless told otherwise: a deployment that forgets CHORUS_APP_ENV refuses the dev secret and
    # needs its identity provider; `make`, compose and the tests say `dev` (or `test`) explicitly.
    app_env: AppEnv = "prod"
    service_role: ServiceRole = "all"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    database_url: str = ""
    db_pool_size: int = 10
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    log_level: str = "INFO"
    log_json: bool = True

    auth_jwt_secret: str | None = None
    auth_jwks_url: str | None = None
    auth_issuer: str | None = None
    auth_audience: str | None = None
    # The PISTE gateway's public keys: a token it signs (issuer urn:chorus:piste-gateway) forwards a
    # technical account's action, acting for that account's structure. Unset: such tokens are refused,
    # except in CHORUS_APP_ENV=dev, where the gateway signs them with the dev secret.
    gateway_jwks_url: str | None = None

    outbox_poll_interval_seconds: float = Field(default=1.0, gt=0)
    outbox_batch_size: int = Field(default=200, ge=1)
    # Consumers handle an event only from a producer the catalogue allows for its type (the AMQP user_id
    # RabbitMQ verifies); others are dead-lettered as "unauthorized producer".
    trusted_producers: bool = True
    # HTTPS served by the service itself (a certificate chain and its key, PEM files), for clients that
    # refuse plain HTTP and no proxy in front; both or neither.
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    # The proxies whose X-Forwarded-For names the client (uvicorn's rule, comma-separated addresses or
    # networks, "*" for any); none by default: the client is the TCP peer.
    forwarded_allow_ips: str = ""
    # The largest file that may be attached to a ticket or an invoice (413 beyond).
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    # A request body beyond this is a 413 (a JSON body is parsed whole), except an attachment's.
    max_json_bytes: int = Field(default=1_048_576, ge=1024)
    consumer_prefetch: int = Field(default=32, ge=1)
    consumer_delivery_limit: int = Field(default=5, ge=1)
    consumer_retry_delay_seconds: float = Field(default=0.5, ge=0)
    consumer_concurrency: int = Field(default=4, ge=1)
    # The most events one transaction handles, for a service that consumes in batches.
    consumer_batch_size: int = Field(default=50, ge=1)
    # Retention (`chorus_common.retention`): published outbox rows and inbox ids are deleted past these
    # windows, in batches, every CHORUS_RETENTION_INTERVAL_SECONDS by the worker role (0: only by the command
    # `jobs retention`, which a CronJob runs).
    retention_outbox_days: int = Field(default=7, ge=1)
    retention_inbox_days: int = Field(default=30, ge=1)
    retention_batch_size: int = Field(default=1000, ge=1)
    retention_interval_seconds: float = Field(default=3600.0, ge=0)
    # The longest after its first delivery that an event may come again: a redelivery once the broker
    # is back, a producer's relay publishing again after it was down, a dead letter replayed. The inbox
    # must remember an event at least that long, or its second copy would be handled again.
    redelivery_horizon_days: int = Field(default=7, ge=1)

    @property
    def max_upload_bytes(self) -> int:
        """The largest multipart body the service reads: an attachment with its envelope."""
        return self.attachment_max_bytes + 64 * 1024

    @model_validator(mode="after")
    def _tls_files_together(self) -> ServiceSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("CHORUS_TLS_CERT_FILE and CHORUS_TLS_KEY_FILE go together")
        for variable, path in (
            ("CHORUS_TLS_CERT_FILE", self.tls_cert_file),
            ("CHORUS_TLS_KEY_FILE", self.tls_key_file),
        ):
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{variable}: no such file {path}")
        return self

    @model_validator(mode="after")
    def _handlers_fit_in_the_pool(self) -> ServiceSettings:
        # The pool holds 2 x CHORUS_DB_POOL_SIZE connections; a handler may take two (its transaction and a
        # short one), and HTTP requests and the outbox relay need some too.
        if self.consumer_concurrency >= self.db_pool_size:
            raise ValueError("CHORUS_CONSUMER_CONCURRENCY must be below CHORUS_DB_POOL_SIZE")
        return self

    @model_validator(mode="after")
    def _inbox_outlives_redeliveries(self) -> ServiceSettings:
        if self.retention_inbox_days < self.redelivery_horizon_days:
            raise ValueError(
                f"CHORUS_RETENTION_INBOX_DAYS ({self.retention_inbox_days}) must not be shorter than "
                f"CHORUS_REDELIVERY_HORIZON_DAYS ({self.redelivery_horizon_days}): an event delivered "
                "again after its inbox id was deleted would be handled twice"
            )
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> ServiceSettings:
        if self.app_env == "prod":
            if not self.database_url:
                raise ValueError("CHORUS_DATABASE_URL is required when CHORUS_APP_ENV=prod")
            if self.auth_jwt_secret:
                raise ValueError(
                    "CHORUS_AUTH_JWT_SECRET (HS256) is accepted only when CHORUS_APP_ENV=dev; "
                    "use CHORUS_AUTH_JWKS_URL with CHORUS_AUTH_ISSUER and CHORUS_AUTH_AUDIENCE"
                )
            if not (self.auth_jwks_url and self.auth_issuer and self.auth_audience):
                raise ValueError(
                    "CHORUS_APP_ENV=prod needs CHORUS_AUTH_JWKS_URL, CHORUS_AUTH_ISSUER and "
                    "CHORUS_AUTH_AUDIENCE"
                )
        return self

    @property
    def runs_api(self) -> bool:
        return self.service_role in ("api", "all")

    @property
    def runs_worker(self) -> bool:
        return self.service_role in ("worker", "all")

    @property
    def event_source(self) -> str:
        """The CloudEvents `source` of the events this service publishes."""
        return f"/services/{self.service_name}"

    @property
    def jwt_secret(self) -> str | None:
        """The HS256 secret in force: the configured one, or the dev one, and only in dev."""
        if self.app_env != "dev":
            return None
        return self.auth_jwt_secret or DEV_JWT_SECRET
