"""The whole platform launched as processes by `deploy/local/launcher.py`, for end-to-end and fault tests.

Each harness gets its own run folder, database prefix, RabbitMQ vhost, flag file and port offset, so
several can run side by side with a developer's `make run`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from chorus_common.auth import mint_dev_token
from chorus_common.db import drop_database
from chorus_common.messaging.accounts import dev_account_url
from chorus_testing.fixtures import eventually, free_port, write_flags
from chorus_testing.servers import TestServers, unique_name

ROOT = Path(__file__).resolve().parents[4]
LAUNCHER = ROOT / "deploy" / "local" / "launcher.py"
RELAY_PORT = 1025


def free_offset() -> int:
    """A port offset at which the catcher's and every service's ports are free."""
    for _ in range(50):
        offset = free_port() % 20000 + 20000 - RELAY_PORT
        ports = [RELAY_PORT + offset, *(port + offset for port in SERVICES.values())]
        if all(_free(port) for port in ports):
            return offset
    raise RuntimeError("no free ports for the platform")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class Platform:
    run_dir: Path
    flags_path: Path
    offset: int
    process: subprocess.Popen[str]
    env: dict[str, str]
    db_prefix: str

    def database_dsn(self, service: str) -> str:
        """The service's database, as a plain PostgreSQL DSN (for asyncpg) for tests to count rows."""
        url = f"{self.env['POSTGRES_URL']}/{self.db_prefix}{service.replace('-', '_')}"
        return url.replace("postgresql+asyncpg://", "postgresql://")

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{SERVICES[service] + self.offset}"

    def set_flags(self, **flags: bool) -> None:
        write_flags(self.flags_path, {key.replace("_", "-"): value for key, value in flags.items()})
        time.sleep(1.5)  # the file provider re-reads the file every 500 ms

    def mails(self) -> list[EmailMessage]:
        new = self.run_dir / "mail" / "new"
        messages = []
        for path in sorted(new.iterdir(), key=lambda p: p.stat().st_mtime_ns) if new.exists() else []:
            messages.append(message_from_bytes(path.read_bytes(), _class=EmailMessage, policy=policy.default))
        return messages

    def mails_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.mails() if address in str(m["To"])]

    def pid(self, service: str) -> int:
        return int((self.run_dir / "pids" / f"{service}.pid").read_text())

    def run_job(self, service: str, *args: str) -> str:
        """Run a service's CLI job against this platform's database, as a CronJob would."""
        return self.run_command(service, "jobs", *args)

    def service_env(self, service: str) -> dict[str, str]:
        """The environment a process of `service` runs with on this platform: its database, its bus."""
        package = service.replace("-", "_")
        return {
            **self.env,
            "CHORUS_DATABASE_URL": f"{self.env['POSTGRES_URL']}/{self.db_prefix}{package}",
            "CHORUS_RABBITMQ_URL": dev_account_url(self.env["RABBITMQ_URL"], service),
        }

    @contextmanager
    def another_process(self, service: str, role: str) -> Iterator[str]:
        """One more process of `service` in `role` (`api`, `worker`), beside the launched one and on the
        same database and bus, as a Deployment of that role would run it; its base URL."""
        port = free_port()
        env = {**self.service_env(service), "CHORUS_SERVICE_ROLE": role, "CHORUS_HTTP_PORT": str(port)}
        log = (self.run_dir / "logs" / f"{service}-{role}-{port}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", service.replace("-", "_"), "serve"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            if not load_launcher().wait_ready(url + "/health/ready", process, time.monotonic() + 60):
                raise RuntimeError(f"the {role} process of {service} did not get ready")
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()

    def run_command(self, service: str, *args: str) -> str:
        """Run `python -m <package> ARGS...` against this platform's database and bus; its output."""
        package = service.replace("-", "_")
        env = self.service_env(service)
        done = subprocess.run(
            [sys.executable, "-m", package, *args], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def log(self, name: str) -> str:
        path = self.run_dir / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def load_script(path: Path, name: str) -> ModuleType:
    """A script of the repository (not a package) as a module named `name`."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def load_launcher() -> ModuleType:
    """`deploy/local/launcher.py`, the process runner of `make run`."""
    return load_script(LAUNCHER, "chorus_launcher")


def load_roster() -> ModuleType:
    """`deploy/roster.py`: the platform's services, as `deploy/services.toml` lists them."""
    return load_script(ROOT / "deploy" / "roster.py", "chorus_roster")


# The default port of each service.
SERVICES: dict[str, int] = {service.name: service.port for service in load_roster().services()}


def start_platform(run_dir: Path, offset: int, env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, str(LAUNCHER), "--run-dir", str(run_dir), "--port-offset", str(offset)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output = []
    deadline = time.monotonic() + 180
    for line in process.stdout:
        output.append(line)
        if "platform ready" in line:
            return process
        if time.monotonic() > deadline:
            break
    process.kill()
    logs = "\n".join(
        f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in (run_dir / "logs").glob("*.log")
    )
    raise RuntimeError("the platform did not start:\n" + "".join(output) + logs)


@contextmanager
def launched_platform(
    servers: TestServers,
    rabbitmq_url: str,
    run_dir: Path,
    extra_env: dict[str, str] | None = None,
    name: str = "e2e",
) -> Iterator[Platform]:
    """The platform on its own databases (dropped afterwards), vhost, flag file and ports."""
    flags_path = run_dir / "flags.json"
    write_flags(flags_path, {})
    prefix = unique_name(name) + "_"
    env = dict(os.environ)
    env.update(
        RABBITMQ_URL=rabbitmq_url,
        POSTGRES_URL=servers.postgres_url,
        DB_PREFIX=prefix,
        CHORUS_FLAGD_OFFLINE_FLAG_SOURCE_PATH=str(flags_path),
        CHORUS_LOG_LEVEL="INFO",
    )
    env.update(extra_env or {})
    for attempt in range(3):
        offset = free_offset()
        try:
            process = start_platform(run_dir, offset, env)
            break
        except RuntimeError as exc:
            # Another program took one of the ports between the check and the bind: try other ports.
            if "address already in use" not in str(exc) or attempt == 2:
                raise
            shutil.rmtree(run_dir / "logs", ignore_errors=True)
    try:
        yield Platform(run_dir, flags_path, offset, process, env, prefix)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        for service in SERVICES:
            asyncio.run(drop_database(f"{servers.postgres_url}/{prefix}{service.replace('-', '_')}"))
        shutil.rmtree(run_dir / "mail", ignore_errors=True)


def admin() -> dict[str, str]:
    return {"authorization": "Bearer " + mint_dev_token("operator", [], ["admin"])}


async def decisions(http: httpx.AsyncClient, platform: Platform, **filters: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        response = await http.get(
            platform.url("notifications") + "/notifications",
            params={**filters, "page": page, "page_size": 200},
            headers=admin(),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        if len(items) >= body["total"] or not body["items"]:
            return items
        page += 1


async def wait_for_decisions(
    http: httpx.AsyncClient, platform: Platform, event_id: str, count: int
) -> list[dict[str, Any]]:
    """The event's decisions once there are `count` and none is PENDING (each mail sent, or not)."""

    async def enough() -> list[dict[str, Any]] | None:
        found = await decisions(http, platform, event_id=event_id)
        settled = len(found) >= count and all(d["status"] != "PENDING" for d in found)
        return found if settled else None

    result: list[dict[str, Any]] = await eventually(enough, within=30)
    return result
