"""The command line every service offers: serve, migrate, jobs, and its API documents."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from chorus_common import migrations
from chorus_common.logging import configure_logging
from chorus_common.settings import ServiceSettings

JobRunner = Callable[[argparse.Namespace, Any], Coroutine[Any, Any, int]]


@dataclass
class Job:
    """A command under `jobs`, e.g. a sweep a CronJob runs."""

    help: str
    run: JobRunner
    arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None


@dataclass
class ServiceCli:
    settings_factory: Callable[[], ServiceSettings]
    app_factory: Callable[[Any], FastAPI]
    migrations_dir: Path
    jobs: dict[str, Job] = field(default_factory=dict)
    # Commands of the service's own beside serve and migrate (an import, a replay): `python -m <pkg> NAME`.
    commands: dict[str, Job] = field(default_factory=dict)

    def version_table(self, settings: ServiceSettings) -> str:
        return f"alembic_version_{settings.service_name.replace('-', '_')}"

    def parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser()
        commands = parser.add_subparsers(dest="command", required=True)
        serve = commands.add_parser("serve", help="run the service (HTTP, consumers, relay, jobs)")
        serve.add_argument("--host")
        serve.add_argument("--port", type=int)
        serve.add_argument("--migrate", action="store_true", help="apply migrations first")
        commands.add_parser("migrate", help="create the database if needed and apply migrations")
        commands.add_parser("openapi", help="print the OpenAPI document")
        commands.add_parser("asyncapi", help="print the AsyncAPI document")
        jobs = commands.add_parser("jobs", help="run one job and exit").add_subparsers(
            dest="job", required=True
        )
        for name, job in self.jobs.items():
            job.arguments(jobs.add_parser(name, help=job.help))
        jobs.add_parser("retention", help="delete what is past its retention window, in batches")
        for name, command in self.commands.items():
            command.arguments(commands.add_parser(name, help=command.help))
        return parser

    async def retention(self, settings: ServiceSettings) -> int:
        """Apply the retention rules the service's runtime holds (its own and the outbox's and
        inbox's), without serving: what a CronJob runs."""
        runtime = self.app_factory(settings.model_copy(update={"db_pool_size": 2})).state.runtime
        try:
            for what, count in (await runtime.apply_retention()).items():
                print(f"{what}: {count} deleted", flush=True)
        finally:
            await runtime.engine.dispose()
            await runtime.direct_reads.close()
        return 0

    def main(self, argv: Sequence[str] | None = None) -> int:
        args = self.parser().parse_args(argv)
        try:
            settings = self.settings_factory()
        except ValidationError as exc:
            # An operator's mistake: say which settings are wrong, without a traceback.
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']).upper() or 'settings'}: {error['msg']}"
                for error in exc.errors()
            )
            print(f"configuration refused: {problems}", file=sys.stderr)
            return 2
        configure_logging(settings.service_name, settings.log_level, settings.log_json)
        if args.command in ("migrate", "serve") and (args.command == "migrate" or args.migrate):
            migrations.upgrade(self.migrations_dir, settings.database_url, self.version_table(settings))
        if args.command == "serve":
            uvicorn.run(
                self.app_factory(settings),
                host=args.host or settings.http_host,
                port=args.port or settings.http_port,
                log_config=None,
                access_log=False,
                timeout_graceful_shutdown=15,
                # X-Forwarded-For is believed only from the proxies named; from anyone else, the
                # client is the peer (uvicorn would otherwise trust 127.0.0.1).
                proxy_headers=bool(settings.forwarded_allow_ips),
                forwarded_allow_ips=settings.forwarded_allow_ips or None,
                ssl_certfile=settings.tls_cert_file,
                ssl_keyfile=settings.tls_key_file,
            )
        elif args.command == "openapi":
            json.dump(self.app_factory(settings).openapi(), sys.stdout, indent=2)
        elif args.command == "asyncapi":
            app = self.app_factory(settings)
            json.dump(app.state.runtime.asyncapi(app.title, app.version), sys.stdout, indent=2)
        elif args.command == "jobs" and args.job == "retention":
            return asyncio.run(self.retention(settings))
        elif args.command == "jobs":
            return asyncio.run(self.jobs[args.job].run(args, settings))
        elif args.command in self.commands:
            return asyncio.run(self.commands[args.command].run(args, settings))
        return 0
