"""Say clearly which server the platform needs is not reachable, and how to start it."""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlsplit

HINTS = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "RabbitMQ": "rabbitmq-server -detached",
}


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url.replace("+asyncpg", ""))
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def main() -> int:
    servers = {
        "PostgreSQL": (os.environ.get("POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432"), 5432),
        "RabbitMQ": (os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/"), 5672),
    }
    missing = [name for name, (url, port) in servers.items() if not reachable(url, port)]
    for name in missing:
        url = servers[name][0]
        print(f"{name} is not reachable at {urlsplit(url).netloc.split('@')[-1]}.", file=sys.stderr)
        print(f"  start it (e.g. `{HINTS[name]}`) or point the URL variable at one.", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
