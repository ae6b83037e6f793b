"""Settings of the support-portal service, from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from chorus_common.settings import ServiceSettings, default_database_url

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
