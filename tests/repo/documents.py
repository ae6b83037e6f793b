"""The published API documents under docs/: each service's OpenAPI and AsyncAPI, the event schemas.

`python tests/repo/documents.py --write` (i.e. `make docs`) rewrites them; the test beside this
file fails when a committed document differs from what the code generates.
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from typing import Any

from chorus_common.events.catalogue import envelope_schema, json_schemas
from chorus_common.messaging.accounts import all_passwords, definitions, development_salt, password_hash
from chorus_testing.platform import load_roster

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# Documents name the development broker, whatever the environment of the one who generates them.
DOC_SETTINGS = {
    "rabbitmq_url": "amqp://guest:guest@127.0.0.1:5672/",
    "database_url": "postgresql+asyncpg://postgres@127.0.0.1:5432/docs",
}


def services() -> list[str]:
    return sorted(service.name for service in load_roster().services())


def settings_class(service: str) -> Any:
    """The settings class a service reads its environment with."""
    module = importlib.import_module(f"{service.replace('-', '_')}.settings")
    return next(
        value
        for name, value in vars(module).items()
        if name.endswith("Settings") and getattr(value, "__module__", "") == module.__name__
    )


def render(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def development_definitions() -> dict[str, Any]:
    """What docker compose's RabbitMQ loads at boot: every account with its development password, and
    the `guest` administrator of the management UI."""
    document = definitions(["/"], all_passwords(), salt=development_salt)
    guest = {
        "name": "guest",
        "password_hash": password_hash("guest", development_salt("guest")),
        "hashing_algorithm": "rabbit_password_hashing_sha256",
        "tags": ["administrator"],
    }
    document["users"].append(guest)
    document["permissions"].append(
        {"user": "guest", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}
    )
    return document


def expected_documents() -> dict[Path, str]:
    documents = {DOCS / "events" / "cloudevent.schema.json": render(envelope_schema())}
    documents[ROOT / "deploy" / "rabbitmq" / "definitions.dev.json"] = render(development_definitions())
    for event_type, schema in json_schemas().items():
        documents[DOCS / "events" / f"{event_type}.data.schema.json"] = render(schema)
    for service in services():
        package = service.replace("-", "_")
        app_module = importlib.import_module(f"{package}.app")
        app = app_module.build_app(settings_class(service)(**DOC_SETTINGS))
        documents[DOCS / service / "openapi.json"] = render(app.openapi())
        documents[DOCS / service / "asyncapi.json"] = render(
            app.state.runtime.asyncapi(app.title, app.version)
        )
    return documents


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    for path, text in expected_documents().items():
        if args.write:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
