"""Settings of the received-invoices service, from the environment."""

from __future__ import annotations

from chorus_common.settings import ServiceSettings, default_database_url


class ReceivedInvoicesSettings(ServiceSettings):
    service_name: str = "received-invoices"
    http_port: int = 8002
    database_url: str = default_database_url("chorus_received_invoices")
    # How often the service ends the delegations past their end date (0: only the CronJob's command).
    delegation_sweep_interval_seconds: float = 3600.0
