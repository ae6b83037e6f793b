"""`python -m chorus_common mint-token | schemas | publish`: tools for operators and other systems."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from chorus_common.auth import mint_dev_token
from chorus_common.events import CATALOGUE, parse_event
from chorus_common.events.catalogue import envelope_schema, json_schemas
from chorus_common.messaging.accounts import all_passwords, definitions, import_accounts, user_of
from chorus_common.messaging.outbox import publish_event_body
from chorus_common.messaging.topology import create_broker
from chorus_common.settings import DEV_JWT_SECRET


def _mint(args: argparse.Namespace) -> int:
    secret = os.environ.get("CHORUS_AUTH_JWT_SECRET") or DEV_JWT_SECRET
    print(
        mint_dev_token(
            args.sub,
            args.structure,
            args.role,
            email=args.email,
            secret=secret,
            ttl_seconds=args.ttl,
        )
    )
    return 0


def _schemas(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "cloudevent.schema.json").write_text(json.dumps(envelope_schema(), indent=2) + "\n")
    for name, schema in json_schemas().items():
        (out / f"{name}.data.schema.json").write_text(json.dumps(schema, indent=2) + "\n")
    print(f"wrote {len(CATALOGUE) + 1} schemas to {out}")
    return 0


async def _publish(body: bytes) -> int:
    envelope, _ = parse_event(body)
    url = os.environ.get("CHORUS_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
    broker = create_broker(url)
    await broker.connect()
    try:
        await publish_event_body(broker, envelope.type, envelope.id, body, user_of(url))
    finally:
        await broker.stop()
    print(f"published {envelope.type} {envelope.id}")
    return 0


def _rabbitmq_accounts(args: argparse.Namespace) -> int:
    """Write the accounts' definitions to a file, or import them into the local node with rabbitmqctl."""
    passwords = all_passwords(dict(item.split("=", 1) for item in args.password))
    vhosts = args.vhost or ["/"]
    if args.definitions:
        Path(args.definitions).write_text(json.dumps(definitions(vhosts, passwords), indent=2) + "\n")
        print(f"wrote the definitions of {len(passwords)} accounts to {args.definitions}")
        return 0
    try:
        import_accounts(vhosts, passwords)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"RabbitMQ accounts on {', '.join(vhosts)}: {', '.join(passwords)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chorus_common")
    commands = parser.add_subparsers(dest="command", required=True)
    mint = commands.add_parser("mint-token", help="a dev (HS256) bearer token for CHORUS_APP_ENV=dev")
    mint.add_argument("--sub", required=True)
    mint.add_argument("--structure", action="append", default=[], help="repeatable")
    mint.add_argument("--role", action="append", default=[], help="repeatable")
    mint.add_argument("--email")
    mint.add_argument("--ttl", type=int, default=3600)
    schemas = commands.add_parser("schemas", help="write the event JSON Schemas")
    schemas.add_argument("--out", default="docs/events")
    publish = commands.add_parser("publish", help="validate a CloudEvent JSON file and publish it")
    publish.add_argument("file", help="path, or - for standard input")
    rabbitmq = commands.add_parser(
        "rabbitmq-accounts",
        help="the RabbitMQ users and permissions of every producer, from the event catalogue",
    )
    rabbitmq.add_argument("--vhost", action="append", help="repeatable; default /")
    rabbitmq.add_argument(
        "--password",
        action="append",
        default=[],
        metavar="NAME=PASSWORD",
        help="an account's password (repeatable); without, the development password: its name",
    )
    rabbitmq.add_argument("--definitions", metavar="FILE", help="write definitions.json here instead")
    args = parser.parse_args(argv)
    if args.command == "mint-token":
        return _mint(args)
    if args.command == "schemas":
        return _schemas(args)
    if args.command == "rabbitmq-accounts":
        return _rabbitmq_accounts(args)
    body = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    return asyncio.run(_publish(body))


if __name__ == "__main__":
    raise SystemExit(main())
