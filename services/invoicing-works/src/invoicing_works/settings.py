"""Settings of the invoicing-works service, from the environment."""

from __future__ import annotations

from pydantic import Field

from chorus_common.settings import ServiceSettings, default_database_url


class InvoicingWorksSettings(ServiceSettings):
    service_name: str = "invoicing-works"
    http_port: int = 8001
    database_url: str = default_database_url("chorus_invoicing_works")
    # The in-service deadline sweep; 0 disables it (e.g. when a CronJob runs `jobs sweep-deadlines`).
    deadline_sweep_interval_seconds: float = Field(default=300.0, ge=0)
    # Deadline notices are kept this many days (one notice per invoice and day is known from them);
    # a sweep of a day older than that is refused.
    retention_notice_days: int = Field(default=400, ge=2)
