"""Run the whole platform as local processes: `make run` and the end-to-end harness both use this.

Applies each service's migrations, starts an SMTP catcher (aiosmtpd writing a Maildir) and every
service on its port, waits until all are ready, and stops everything on Ctrl-C or SIGTERM.

Environment: RABBITMQ_URL, POSTGRES_URL (server, no database), DB_PREFIX, RUN_DIR,
CHORUS_FLAGD_OFFLINE_FLAG_SOURCE_PATH, PORT_OFFSET (added to every port, for side-by-side runs), SMTP_RELAY
(HOST:PORT of a relay to send mail to instead of starting the catcher). Each service connects to
RABBITMQ_URL's broker and vhost as its own account, with its development password.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from chorus_common.messaging.accounts import dev_account_url  # noqa: E402
from deploy.roster import Service, services  # noqa: E402  (run as a script, from any folder)

SERVICES = services()

RELAY_PORT = 1025
SUPPORT_PORTAL_PORT = 8004
PORTS = {service.name: service.port for service in SERVICES}


@dataclass
class Child:
    command: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: IO[bytes]


def say(message: str) -> None:
    print(f"[platform] {message}", flush=True)


def database_url(server: str, prefix: str, service: Service) -> str:
    return f"{server.rstrip('/')}/{prefix}{service.package}"


def prepare_maildir(path: Path) -> None:
    # aiosmtpd's Mailbox creates the Maildir itself, and fails on an existing empty folder.
    if path.exists() and not (path / "new").exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)


def wait_ready(url: str, process: subprocess.Popen[bytes], deadline: float) -> bool:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    return False


class Platform:
    def __init__(self, args: argparse.Namespace) -> None:
        self.run_dir = Path(args.run_dir).resolve()
        self.offset = args.port_offset
        self.rabbitmq_url = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
        self.postgres_url = os.environ.get("POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
        self.db_prefix = os.environ.get("DB_PREFIX", "chorus_")
        self.flags = Path(
            os.environ.get("CHORUS_FLAGD_OFFLINE_FLAG_SOURCE_PATH", ROOT / "deploy" / "flags" / "flags.json")
        ).resolve()
        self.only = set(args.only or [s.name for s in SERVICES])
        # A relay of the caller's (HOST:PORT, e.g. a fault test's) instead of the platform's catcher.
        self.relay = os.environ.get("SMTP_RELAY")
        self.processes: dict[str, Child] = {}

    @property
    def smtp_host(self) -> str:
        return self.relay.rsplit(":", 1)[0] if self.relay else "127.0.0.1"

    @property
    def smtp_port(self) -> int:
        return int(self.relay.rsplit(":", 1)[1]) if self.relay else RELAY_PORT + self.offset

    def service_env(self, service: Service) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            CHORUS_APP_ENV=os.environ.get("CHORUS_APP_ENV", "dev"),
            CHORUS_DATABASE_URL=database_url(self.postgres_url, self.db_prefix, service),
            # Each service connects as its own account (development password), the producer its
            # events name: `python -m chorus_common rabbitmq-accounts` creates them.
            CHORUS_RABBITMQ_URL=dev_account_url(self.rabbitmq_url, service.name),
            CHORUS_HTTP_PORT=str(service.port + self.offset),
            CHORUS_FLAGD_RESOLVER="file",
            CHORUS_FLAGD_OFFLINE_FLAG_SOURCE_PATH=str(self.flags),
            CHORUS_SMTP_HOST=self.smtp_host,
            CHORUS_SMTP_PORT=str(self.smtp_port),
            CHORUS_PUBLIC_BASE_URL=f"http://127.0.0.1:{SUPPORT_PORTAL_PORT + self.offset}",
            CHORUS_SUPPORT_PORTAL_URL=f"http://127.0.0.1:{SUPPORT_PORTAL_PORT + self.offset}",
            # Where the PISTE gateway forwards the actions on invoices.
            CHORUS_RECEIVED_INVOICES_URL=self.url("received-invoices"),
            CHORUS_INVOICING_WORKS_URL=self.url("invoicing-works"),
            PYTHONUNBUFFERED="1",
        )
        if "CHORUS_INTERNAL_TOKEN_KEY" in env:
            # The gateway signs its forwarded calls with its own key: the services check them there.
            env["CHORUS_GATEWAY_JWKS_URL"] = self.url("piste-gateway") + "/.well-known/jwks.json"
        return env

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{PORTS[service] + self.offset}"

    def spawn(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.run_dir / "logs" / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        (self.run_dir / "pids").mkdir(exist_ok=True)
        (self.run_dir / "pids" / f"{name}.pid").write_text(f"{process.pid}\n")
        self.processes[name] = Child(command, env, process, log)
        return process

    def start(self) -> bool:
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        mail = self.run_dir / "mail"
        python = sys.executable
        smtp = None
        if self.relay is None:
            prepare_maildir(mail)
            smtp = self.spawn(
                "smtp",
                [
                    python,
                    "-m",
                    "aiosmtpd",
                    "-n",
                    "-l",
                    f"127.0.0.1:{self.smtp_port}",
                    "-c",
                    "aiosmtpd.handlers.Mailbox",
                    str(mail),
                ],
                dict(os.environ),
            )
        services = [s for s in SERVICES if s.name in self.only]
        for service in services:
            say(f"migrating {service.name}")
            migrate = subprocess.run(
                [python, "-m", service.package, "migrate"],
                cwd=ROOT,
                env=self.service_env(service),
                capture_output=True,
            )
            if migrate.returncode != 0:
                say(f"migration of {service.name} failed:\n{migrate.stderr.decode()[-3000:]}")
                return False
        started = {
            service: self.spawn(
                service.name, [python, "-m", service.package, "serve"], self.service_env(service)
            )
            for service in services
        }
        deadline = time.monotonic() + 90
        for service, process in started.items():
            url = f"http://127.0.0.1:{service.port + self.offset}/health/ready"
            if not wait_ready(url, process, deadline):
                say(f"{service.name} did not become ready; see {self.run_dir / 'logs' / service.name}.log")
                return False
            say(f"{service.name} ready on http://127.0.0.1:{service.port + self.offset}")
        if smtp is not None and smtp.poll() is not None:
            say("the SMTP catcher did not start; see logs/smtp.log")
            return False
        if "support-portal" in self.only:
            say(f"support portal page (signed out): http://127.0.0.1:{SUPPORT_PORTAL_PORT + self.offset}/")
        if smtp is not None:
            say(f"SMTP catcher on 127.0.0.1:{self.smtp_port}, mail in {mail}/new")
        else:
            say(f"mail goes to the relay at {self.relay}")
        say(f"flags from {self.flags} (edits take effect without restart)")
        say(f"logs in {self.run_dir / 'logs'}")
        say("platform ready")
        return True

    def stop(self) -> None:
        # A second Ctrl-C (or the terminal's and uv's copies of the first) must not cut the shutdown short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        children = list(reversed(self.processes.items()))
        for _, child in children:
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for name, child in children:
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in time; killing it")
                child.process.kill()
                child.process.wait()
            child.log.close()
        say("stopped")

    def supervise(self) -> None:
        """Restart a service that dies, as an orchestrator would; stop if the catcher dies."""
        while True:
            for name, child in list(self.processes.items()):
                code = child.process.poll()
                if code is None:
                    continue
                if name == "smtp":
                    say(f"the SMTP catcher exited with code {code}; stopping the platform")
                    return
                say(f"{name} exited with code {code}; restarting it")
                child.log.close()
                self.spawn(name, child.command, child.env)
            time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run-dir", default=os.environ.get("RUN_DIR", ROOT / ".run"))
    parser.add_argument("--port-offset", type=int, default=int(os.environ.get("PORT_OFFSET", "0")))
    parser.add_argument("--only", action="append", help="start only this service (repeatable)")
    args = parser.parse_args()
    platform = Platform(args)

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if not platform.start():
            return 1
        platform.supervise()
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        platform.stop()


if __name__ == "__main__":
    raise SystemExit(main())
