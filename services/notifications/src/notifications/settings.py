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
    # Events are handled in batches of up to CHORUS_CONSUMER_BATCH_SIZE, CHORUS_CONSUMER_CONCURRENCY
    # batches at a time; a batch's decisions, its mails PENDING, commit before any mail is sent.
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
    # reached by another (an address, an alias), against CHORUS_SMTP_CA_FILE's CA when given.
    smtp_tls_server_name: str | None = None
    smtp_ca_file: str | None = None
    # Credentials over a connection without TLS: for a development relay only, refused in prod.
    smtp_allow_plain_auth: bool = False
    # SMTP sessions kept open and used in parallel.
    smtp_connections: int = Field(default=8, ge=1)
    smtp_local_hostname: str | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    # Delivery: up to CHORUS_MAIL_SEND_BATCH due mails taken at a time (leased for
    # CHORUS_MAIL_LEASE_SECONDS, so a replica that dies mid-send leaves them to another); a temporary
    # failure (connection, timeout, 4xx) is tried again after CHORUS_MAIL_RETRY_BASE_DELAY_SECONDS,
    # doubling up to CHORUS_MAIL_RETRY_MAX_DELAY_SECONDS (with jitter), until
    # CHORUS_MAIL_RETRY_HORIZON_SECONDS after the decision (48 h): then FAILED. A flag
    # that cannot be evaluated makes its event wait the same horizon.
    mail_send_batch: int = Field(default=32, ge=1)
    mail_lease_seconds: float = Field(default=60.0, gt=0)
    mail_poll_interval_seconds: float = Field(default=1.0, gt=0)
    mail_retry_base_delay_seconds: float = Field(default=30.0, ge=0)
    mail_retry_max_delay_seconds: float = Field(default=1800.0, ge=0)
    mail_retry_horizon_seconds: float = Field(default=48 * 3600.0, ge=0)
    # The support portal's public base URL: a ticket mail's follow link must lead there, or the mail
    # is not sent (an event could otherwise have official mail carry any link).
    support_portal_url: str = "http://127.0.0.1:8004"
    # An event naming a structure the read model of the directory does not know yet waits for its
    # snapshot this long at most (decided again every interval), then is recorded with the reason.
    directory_wait_seconds: float = Field(default=600.0, ge=0)
    directory_retry_interval_seconds: float = Field(default=5.0, gt=0)
    mail_from: str = "Chorus Pro <ne-pas-repondre@chorus-pro.local>"
    # Retention of settled decisions (SENT, FAILED, SKIPPED...; a PENDING mail is never touched): their
    # addresses and composed messages are erased past CHORUS_RETENTION_ADDRESS_DAYS, the decisions
    # themselves deleted past CHORUS_RETENTION_DECISION_DAYS.
    retention_address_days: int = Field(default=400, ge=1)
    retention_decision_days: int = Field(default=400, ge=1)
    message_id_domain: str = "chorus-pro.local"

    @model_validator(mode="after")
    def _addresses_go_first(self) -> NotificationsSettings:
        if self.retention_address_days > self.retention_decision_days:
            raise ValueError("CHORUS_RETENTION_ADDRESS_DAYS must not exceed CHORUS_RETENTION_DECISION_DAYS")
        return self

    @model_validator(mode="after")
    def _a_lease_outlasts_its_batch(self) -> NotificationsSettings:
        # A batch whose every mail times out takes this long; past its lease another replica would
        # take the mails not tried yet, and send them twice.
        rounds = -(-self.mail_send_batch // self.smtp_connections)
        if self.mail_lease_seconds <= rounds * self.smtp_timeout_seconds:
            raise ValueError(
                "CHORUS_MAIL_LEASE_SECONDS must exceed CHORUS_MAIL_SEND_BATCH / CHORUS_SMTP_CONNECTIONS"
                " x CHORUS_SMTP_TIMEOUT_SECONDS "
                f"({rounds * self.smtp_timeout_seconds:.0f} s)"
            )
        return self

    @model_validator(mode="after")
    def _credentials_only_over_tls(self) -> NotificationsSettings:
        if self.smtp_allow_plain_auth and self.app_env == "prod":
            raise ValueError("CHORUS_SMTP_ALLOW_PLAIN_AUTH is refused when CHORUS_APP_ENV=prod")
        encrypted = self.smtp_tls or self.smtp_starttls
        if self.smtp_username is not None and not encrypted and not self.smtp_allow_plain_auth:
            raise ValueError(
                "SMTP credentials are sent only over TLS: set CHORUS_SMTP_STARTTLS or CHORUS_SMTP_TLS "
                "(CHORUS_SMTP_ALLOW_PLAIN_AUTH=true for a development relay)"
            )
        return self

    @property
    def mails_a_crash_can_repeat(self) -> int:
        """The most mails accepted by the relay but not yet recorded SENT at any moment: one per SMTP
        session, each recorded as soon as the relay takes it; a crash repeats at most these."""
        return self.smtp_connections

    @cached_property
    def envelope_sender(self) -> str:
        """The address of MAIL FROM: the one in CHORUS_MAIL_FROM."""
        return parseaddr(self.mail_from)[1]
