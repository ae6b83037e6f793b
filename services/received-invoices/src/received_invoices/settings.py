"""Settings of the received-invoices service, from the environment."""

from __future__ import annotations

from chorus_common.settings import ServiceSettings, default_database_url


class ReceivedInvoicesSettings(ServiceSettings):
    service_name: str = "received-invoices"
    http_port: int = 8002
    database_url: str = default_database_url("chorus_received_invoices")
