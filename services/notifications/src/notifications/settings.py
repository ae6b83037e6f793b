"""Settings of the notifications service, from the environment."""

from __future__ import annotations

from email.utils import parseaddr
from functools import cached_property

from pydantic import Field, model_validator

from chorus_common.flags import FlagSettings
from chorus_common.settings import ServiceSettings, default_database_url


class NotificationsSettings(ServiceSettings, FlagSettings):
    service_name: str = "notifications"
    http_port: int = 8005
    database_url: str = default_database_url("chorus_notifications")
    # Events are handled in batches of up to CONSUMER_BATCH_SIZE, CONSUMER_CONCURRENCY batches at a
    # time; a batch's decisions commit once its mails are accepted, so a crash repeats at most the
    # mails of the batches in flight (same Message-IDs, so a receiving system can drop them).
    consumer_batch_size: int = Field(default=50, ge=1)
    consumer_concurrency: int = 2
    consumer_prefetch: int = Field(default=200, ge=1)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    # STARTTLS and implicit TLS check the relay's certificate and its name: this one when the relay is
    # reached by another (an address, an alias), against SMTP_CA_FILE's CA when given.
    smtp_tls_server_name: str | None = None
    smtp_ca_file: str | None = None
    # Credentials over a connection without TLS: for a development relay only, refused in prod.
    smtp_allow_plain_auth: bool = False
    # SMTP sessions kept open and used in parallel.
    smtp_connections: int = Field(default=8, ge=1)
    smtp_local_hostname: str | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    smtp_retry_attempts: int = Field(default=4, ge=1)
    smtp_retry_base_delay_seconds: float = Field(default=0.5, ge=0)
    # The support portal's public base URL: a ticket mail's follow link must lead there, or the mail
    # is not sent (an event could otherwise have official mail carry any link).
    support_portal_url: str = "http://127.0.0.1:8004"
    # An event naming a structure the read model of the directory does not know yet waits for its
    # snapshot this long at most (decided again every interval), then is recorded with the reason.
    directory_wait_seconds: float = Field(default=600.0, ge=0)
    directory_retry_interval_seconds: float = Field(default=5.0, gt=0)
    mail_from: str = "Chorus Pro <ne-pas-repondre@chorus-pro.local>"
    message_id_domain: str = "chorus-pro.local"

    @model_validator(mode="after")
    def _credentials_only_over_tls(self) -> NotificationsSettings:
        if self.smtp_allow_plain_auth and self.app_env == "prod":
            raise ValueError("SMTP_ALLOW_PLAIN_AUTH is refused when APP_ENV=prod")
        encrypted = self.smtp_tls or self.smtp_starttls
        if self.smtp_username is not None and not encrypted and not self.smtp_allow_plain_auth:
            raise ValueError(
                "SMTP credentials are sent only over TLS: set SMTP_STARTTLS or SMTP_TLS "
                "(SMTP_ALLOW_PLAIN_AUTH=true for a development relay)"
            )
        return self

    @property
    def mails_a_crash_can_repeat(self) -> int:
        """The most mails sent but not yet recorded at any moment: a crash repeats at most these."""
        return self.consumer_batch_size * self.consumer_concurrency

    @cached_property
    def envelope_sender(self) -> str:
        """The address of MAIL FROM: the one in MAIL_FROM."""
        return parseaddr(self.mail_from)[1]
