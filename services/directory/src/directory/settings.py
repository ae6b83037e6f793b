"""Settings of the directory service, from the environment."""

from __future__ import annotations

from chorus_common.settings import ServiceSettings, default_database_url


class DirectorySettings(ServiceSettings):
    service_name: str = "directory"
    http_port: int = 8006
    database_url: str = default_database_url("chorus_directory")
