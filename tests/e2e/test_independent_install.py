"""Each service installs from `libs/common` and itself alone, then starts and becomes ready.

What the image build does for one service (deploy/docker/Dockerfile): in a copy of the workspace,
`deploy/docker/venv.sh` exports the service's locked requirements, installs them from wheels into a new
environment, then adds libs/common and the service built as wheels; the environment is run from
elsewhere, with no source tree beside it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from chorus_testing.fixtures import free_port
from chorus_testing.platform import load_launcher

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())


@pytest.fixture(scope="module")
def workspace_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files a service image is built from, and nothing else (no virtual environment)."""
    copy = tmp_path_factory.mktemp("workspace")
    shutil.copy(ROOT / "pyproject.toml", copy)
    shutil.copy(ROOT / "uv.lock", copy)
    (copy / "deploy" / "docker").mkdir(parents=True)
    shutil.copy(ROOT / "deploy" / "docker" / "venv.sh", copy / "deploy" / "docker")
    ignore = shutil.ignore_patterns("__pycache__", "tests", ".pytest_cache", ".mypy_cache")
    shutil.copytree(ROOT / "libs" / "common", copy / "libs" / "common", ignore=ignore)
    shutil.copytree(ROOT / "services", copy / "services", ignore=ignore)
    # The test harness is a workspace member too: uv reads its manifest, and installs none of it.
    (copy / "libs" / "testing").mkdir()
    shutil.copy(ROOT / "libs" / "testing" / "pyproject.toml", copy / "libs" / "testing")
    return copy


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_installs_alone_and_starts_to_ready(
    service: str,
    workspace_copy: Path,
    tmp_path: Path,
    database_factory: Callable[[str], str],
    rabbitmq_url: str,
):
    package = service.replace("-", "_")
    environment = tmp_path / "venv"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON", "UV_"))}
    assert shutil.which("uv"), "venv.sh runs uv from PATH (`make install` installs it)"
    build_env = {**clean, "PYTHON": sys.executable, "UV_PYTHON_DOWNLOADS": "never"}
    requirements = tmp_path / "requirements.txt"
    for step in (
        ["requirements", service, str(requirements)],
        ["dependencies", str(requirements), str(environment)],
        ["code", service, str(environment)],
    ):
        built = subprocess.run(
            ["sh", "deploy/docker/venv.sh", *step],
            cwd=workspace_copy,
            env=build_env,
            capture_output=True,
            text=True,
        )
        assert built.returncode == 0, f"venv.sh {step[0]}: {built.stderr}"
    python = str(environment / "bin" / "python")
    shutil.rmtree(workspace_copy / "services" / service / "src")  # what runs is the wheel, not the tree

    others = [s.replace("-", "_") for s in SERVICES if s != service]
    probe = "import importlib.util as u, sys; print([m for m in sys.argv[1:] if u.find_spec(m)])"
    importable = subprocess.run([python, "-c", probe, *others], capture_output=True, text=True, check=True)
    assert importable.stdout.strip() == "[]", f"{service} can import other services: {importable.stdout}"
    dev_only = subprocess.run(
        [python, "-c", probe, "pytest", "aiosmtpd", "chorus_testing"], capture_output=True, text=True
    )
    assert dev_only.stdout.strip() == "[]"

    port = free_port()
    env = {
        **clean,
        "CHORUS_DATABASE_URL": database_factory(package),
        "CHORUS_RABBITMQ_URL": rabbitmq_url,
        "CHORUS_HTTP_PORT": str(port),
        # Files a deployment mounts (a ConfigMap in Kubernetes, a volume in compose).
        "CHORUS_ROUTING_TABLE_PATH": str(ROOT / "deploy" / "support" / "routing.json"),
        "CHORUS_CATEGORIES_PATH": str(ROOT / "deploy" / "support" / "categories.json"),
        "CHORUS_FLAGD_OFFLINE_FLAG_SOURCE_PATH": str(ROOT / "deploy" / "flags" / "flags.json"),
    }
    log = (tmp_path / "service.log").open("wb")
    server = subprocess.Popen(
        [python, "-m", package, "serve", "--migrate"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/health/ready"
        ready = load_launcher().wait_ready(url, server, deadline=time.monotonic() + 90)
        assert ready, (tmp_path / "service.log").read_text()[-3000:]
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    # uvicorn re-raises the SIGTERM it handled once shutdown is complete
    output = (tmp_path / "service.log").read_text()
    assert server.returncode in (0, -signal.SIGTERM), output[-3000:]
    assert "Application shutdown complete" in output


def test_replicas_starting_together_apply_the_migrations_once(database_factory: Callable[[str], str]):
    """Several init containers (or `serve --migrate` replicas) migrate one database at the same moment."""
    env = {**os.environ, "CHORUS_DATABASE_URL": database_factory("concurrent_migrations")}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "invoicing_works", "migrate"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0] * 4, "\n".join(outputs)[-4000:]
    applied = [output.count("Running upgrade  -> 0001") for output in outputs]
    assert sum(applied) == 1, outputs
