"""Settings of the engagements service, from the environment."""

from __future__ import annotations

from chorus_common.settings import ServiceSettings, default_database_url


class EngagementsSettings(ServiceSettings):
    service_name: str = "engagements"
    http_port: int = 8003
    database_url: str = default_database_url("chorus_engagements")
