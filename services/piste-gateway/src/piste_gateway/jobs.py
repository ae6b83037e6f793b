"""The gateway's commands: register and list the applications that may call the API."""

from __future__ import annotations

import argparse
import json
import sys

from chorus_common.auth import Principal
from chorus_common.problems import Problem
from chorus_common.runtime import command_runtime
from piste_gateway import access, repository
from piste_gateway.db import inbox, outbox
from piste_gateway.settings import PisteGatewaySettings

OPERATOR = Principal(sub="operator:cli", roles=frozenset({"admin"}))


def add_clients_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="register an application; prints its client_id and secret")
    create.add_argument("--name", required=True, help="who the application is, e.g. an ERP")
    create.add_argument("--structure", required=True, help="the structure whose technical accounts it uses")
    actions.add_parser("list", help="the registered applications (never their secrets)")


async def clients_command(args: argparse.Namespace, settings: PisteGatewaySettings) -> int:
    async with command_runtime(settings, outbox, inbox) as runtime:
        if args.action == "create":
            try:
                created = await access.register_client(
                    runtime.unit_of_work(OPERATOR), args.name, args.structure, OPERATOR.sub
                )
            except Problem as refused:
                print(f"refused: {refused.detail}", file=sys.stderr)
                return 1
            print(json.dumps({key: created[key] for key in ("client_id", "client_secret", "structure_id")}))
            return 0
        async with runtime.unit_of_work(OPERATOR).reading() as conn:
            for row in await repository.list_clients(conn):
                state = "active" if row["active"] else "deactivated"
                print(f"{row['client_id']}  {row['structure_id']}  {state}  {row['name']}")
    return 0
