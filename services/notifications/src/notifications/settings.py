"""Settings of the notifications service, from the environment."""

from __future__ import annotations

from pydantic import Field

from chorus_common.flags import FlagSettings
from chorus_common.settings import ServiceSettings, default_database_url


class NotificationsSettings(ServiceSettings, FlagSettings):
    service_name: str = "notifications"
    http_port: int = 8005
    database_url: str = default_database_url("chorus_notifications")
    # One mail at a time between the relay's acceptance and the recorded decision, so that a crash
    # repeats at most one mail.
    consumer_concurrency: int = 1

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    smtp_retry_attempts: int = Field(default=4, ge=1)
    smtp_retry_base_delay_seconds: float = Field(default=0.5, ge=0)
    mail_from: str = "Chorus Pro <ne-pas-repondre@chorus-pro.local>"
    message_id_domain: str = "chorus-pro.local"
