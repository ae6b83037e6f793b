"""Who connects to RabbitMQ: one user per service and per external system, allowed to publish only
the event types the catalogue lets it (`events.PRODUCERS`).

From the catalogue this builds RabbitMQ definitions (users, permissions, topic permissions) that
`rabbitmqctl import_definitions` applies in one call: `python -m chorus_common rabbitmq-accounts`
applies them to the local node for development and CI, or writes them to a `definitions.json` for a
platform team to load (`load_definitions` in rabbitmq.conf, or the management API). Each user may:
- declare, bind and read its own queues (`<service>.*`) and the platform's two exchanges;
- publish on `chorus.events` only with the routing keys of its event types (topic permission), and
  dead-letter to `chorus.dead-letter`;
and each message it publishes carries its name as AMQP `user_id`, which RabbitMQ verifies against the
connection's user, so a consumer knows who published it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from chorus_common.events import EXTERNAL_PRODUCERS, published_by
from chorus_common.messaging.topology import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE

# The platform's services, each its own RabbitMQ user (a repository test checks them against the roster).
SERVICES = (
    "directory",
    "engagements",
    "invoicing-works",
    "notifications",
    "piste-gateway",
    "received-invoices",
    "support-portal",
)
HASHING = "rabbit_password_hashing_sha256"


def _literal(text: str) -> str:
    return re.escape(text).replace("\\-", "-")


@dataclass(frozen=True)
class Account:
    name: str
    external: bool  # an external system publishes only; a service also consumes

    @property
    def publishes(self) -> list[str]:
        return published_by(self.name)

    def permissions(self) -> tuple[str, str, str]:
        """(configure, write, read) regular expressions on the vhost's exchanges and queues."""
        exchanges = f"{_literal(EVENTS_EXCHANGE.name)}|{_literal(DEAD_LETTER_EXCHANGE.name)}"
        if self.external:  # it may declare (as its client does) and publish to the events exchange
            events = f"^{_literal(EVENTS_EXCHANGE.name)}$"
            return events, events, "^$"
        own = f"^({exchanges}|{_literal(self.name)}\\..+)$"
        return own, own, own

    def topic_write(self) -> str:
        """The routing keys it may publish on `chorus.events`."""
        types = "|".join(_literal(event_type) for event_type in self.publishes)
        return f"^({types})$" if types else "^$"


def accounts() -> list[Account]:
    return [Account(name, False) for name in SERVICES] + [Account(name, True) for name in EXTERNAL_PRODUCERS]


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's `rabbit_password_hashing_sha256`: base64(salt + sha256(salt + password))."""
    salt = salt if salt is not None else os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def dev_password(name: str) -> str:
    """The password of an account in development and CI: its name. Never outside them."""
    return name


def all_passwords(given: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every account's password: the one given by name, else its development password."""
    given = given or {}
    return {account.name: given.get(account.name, dev_password(account.name)) for account in accounts()}


def dev_account_url(rabbitmq_url: str, name: str) -> str:
    """`rabbitmq_url` as account `name`, with its development password."""
    return with_account(rabbitmq_url, name, dev_password(name))


def development_salt(name: str) -> bytes:
    """A fixed salt per account, for the committed development definitions only (so that they are
    reproducible); every other use salts at random."""
    return hashlib.sha256(name.encode()).digest()[:4]


def definitions(
    vhosts: Iterable[str],
    passwords: Mapping[str, str],
    salt: Callable[[str], bytes] | None = None,
) -> dict[str, Any]:
    """RabbitMQ definitions for every account on `vhosts`, with the passwords given by name."""
    vhosts = list(vhosts)
    users, permissions, topic_permissions = [], [], []
    for account in accounts():
        users.append(
            {
                "name": account.name,
                "password_hash": password_hash(passwords[account.name], salt(account.name) if salt else None),
                "hashing_algorithm": HASHING,
                "tags": [],
            }
        )
        configure, write, read = account.permissions()
        for vhost in vhosts:
            permissions.append(
                {"user": account.name, "vhost": vhost, "configure": configure, "write": write, "read": read}
            )
            topic_permissions.append(
                {
                    "user": account.name,
                    "vhost": vhost,
                    "exchange": EVENTS_EXCHANGE.name,
                    "write": account.topic_write(),
                    "read": ".*",
                }
            )
    return {
        "users": users,
        "vhosts": [{"name": vhost} for vhost in vhosts],
        "permissions": permissions,
        "topic_permissions": topic_permissions,
    }


def with_account(rabbitmq_url: str, name: str, password: str) -> str:
    """`rabbitmq_url` with the credentials of account `name`."""
    parts = urlsplit(rabbitmq_url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(name, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def user_of(rabbitmq_url: str) -> str:
    """The user a URL connects as (RabbitMQ's default, guest, without one)."""
    return unquote(urlsplit(rabbitmq_url).username or "guest")


def import_accounts(vhosts: Iterable[str], passwords: Mapping[str, str] | None = None) -> None:
    """Create or update every account on `vhosts` of the local RabbitMQ node, in one `rabbitmqctl
    import_definitions` (development passwords unless given)."""
    chosen = all_passwords(passwords)
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(definitions(vhosts, chosen), file)
        file.flush()
        os.chmod(file.name, 0o644)  # rabbitmqctl may run as another user
        done = subprocess.run(
            ["rabbitmqctl", "-q", "import_definitions", file.name],
            text=True,
            capture_output=True,
            timeout=120,
        )
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl import_definitions failed: {done.stderr or done.stdout}")
