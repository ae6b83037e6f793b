"""Where the test servers are: environment first, then 127.0.0.1, then testcontainers if Docker runs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from sqlalchemy.engine import make_url

from chorus_common.messaging.accounts import import_accounts

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432"
DEFAULT_RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/"


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def docker_available() -> bool:
    return shutil.which("docker") is not None and (
        subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0
    )


@dataclass(frozen=True)
class TestServers:
    postgres_url: str  # server URL, no database
    rabbitmq_url: str  # default vhost


def _postgres_from_env() -> str:
    if url := os.environ.get("POSTGRES_URL"):
        return url.rstrip("/")
    if url := os.environ.get("DATABASE_URL"):
        return make_url(url).set(database=None).render_as_string(hide_password=False)
    return DEFAULT_POSTGRES


def locate_servers(stack: ExitStack) -> TestServers:
    """The servers to test against; containers started here are stopped by `stack`."""
    postgres = _postgres_from_env()
    rabbitmq = os.environ.get("RABBITMQ_URL", DEFAULT_RABBITMQ)
    pg_url = make_url(postgres)
    amqp = urlsplit(rabbitmq)
    need_pg = not reachable(pg_url.host or "127.0.0.1", pg_url.port or 5432)
    need_amqp = not reachable(amqp.hostname or "127.0.0.1", amqp.port or 5672)
    if (need_pg or need_amqp) and docker_available():
        if need_pg:
            from testcontainers.community.postgres import PostgresContainer

            container = stack.enter_context(PostgresContainer("postgres:16", driver="asyncpg"))
            postgres = make_url(container.get_connection_url()).set(database=None).render_as_string(False)
        if need_amqp:
            from testcontainers.community.rabbitmq import RabbitMqContainer

            rabbit = stack.enter_context(RabbitMqContainer("rabbitmq:3.13-management"))
            port = rabbit.get_exposed_port(5672)
            rabbitmq = f"amqp://guest:guest@{rabbit.get_container_host_ip()}:{port}/"
    elif need_pg or need_amqp:
        missing = [n for n, m in (("PostgreSQL", need_pg), ("RabbitMQ", need_amqp)) if m]
        raise RuntimeError(
            f"{' and '.join(missing)} not reachable (POSTGRES_URL={postgres}, RABBITMQ_URL={rabbitmq}) "
            "and no Docker engine for testcontainers; start them (see README)"
        )
    return TestServers(postgres, rabbitmq)


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def database_url(servers: TestServers, name: str) -> str:
    return f"{servers.postgres_url}/{name}"


def vhost_url(rabbitmq_url: str, vhost: str) -> str:
    parts = urlsplit(rabbitmq_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), "", ""))


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def create_vhost(vhost: str) -> None:
    """A vhost of its own, so a test run sees no other run's exchanges and queues, where every
    producer account of the catalogue has its permissions (development passwords)."""
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    import_accounts([vhost])


def delete_vhost(vhost: str) -> None:
    _rabbitmqctl("delete_vhost", vhost)
