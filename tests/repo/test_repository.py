"""Repository-level promises: published documents are current, compose and Dockerfiles cover every service."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

from chorus_testing.platform import load_launcher

from .documents import DOCS, ROOT, expected_documents, services


def test_published_api_documents_are_current():
    stale = [
        str(path.relative_to(ROOT))
        for path, text in expected_documents().items()
        if not path.exists() or path.read_text() != text
    ]
    assert not stale, f"run `make docs`: {stale}"
    assert (DOCS / "events" / "deadline-exceeded.data.schema.json").exists()


def test_every_workspace_service_is_in_docker_compose_with_its_dependencies():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert {"rabbitmq", "postgres", "mailpit"} <= set(compose)
    for service in services():
        entry = compose[service]
        dockerfile = ROOT / entry["build"]["dockerfile"]
        assert entry["build"]["context"] == "."
        assert dockerfile == ROOT / "services" / service / "Dockerfile" and dockerfile.exists()
        assert entry["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert entry["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
        assert "/health/ready" in " ".join(entry["healthcheck"]["test"])
        database = entry["environment"]["DATABASE_URL"]
        assert database.startswith("postgresql+asyncpg://") and "@postgres:5432/" in database
        assert entry["environment"]["RABBITMQ_URL"].endswith("@rabbitmq:5672/")


def test_notifications_reads_the_mounted_flag_file_and_mails_through_mailpit():
    notifications = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["notifications"]
    flag_path = notifications["environment"]["FLAGD_OFFLINE_FLAG_SOURCE_PATH"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in notifications["volumes"]}
    host_dir = next(host for container, host in mounts.items() if flag_path.startswith(container))
    assert (ROOT / host_dir / Path(flag_path).name).exists()
    assert notifications["environment"]["SMTP_HOST"] == "mailpit"


def test_each_dockerfile_installs_only_its_service_runs_as_non_root_and_migrates_first():
    for service in services():
        dockerfile = (ROOT / "services" / service / "Dockerfile").read_text()
        package = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())["project"][
            "name"
        ]
        assert f"uv sync --frozen --no-dev --package {package}" in dockerfile
        assert "\nUSER chorus\n" in dockerfile
        assert '"serve", "--migrate"' in dockerfile


def test_the_flag_file_defaults_follow_the_release_note():
    import json

    flags = json.loads((ROOT / "deploy" / "flags" / "flags.json").read_text())["flags"]
    defaults = {key: flag["variants"][flag["defaultVariant"]] for key, flag in flags.items()}
    assert defaults == {
        "notify-deadline-exceeded": True,
        "notify-delegation-routed": True,
        "notify-engagement-validated": False,  # suspended since 2022-07-25
        "notify-ticket-updates": True,
    }


def test_make_run_starts_every_workspace_service_on_its_own_port():
    launcher = load_launcher()
    started = {service.name: service for service in launcher.SERVICES}
    workspace = {p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists()}
    assert set(started) == set(services()) == workspace
    assert len({service.port for service in launcher.SERVICES}) == len(started)
    for name, service in started.items():
        assert service.package == name.replace("-", "_")
