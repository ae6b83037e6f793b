"""Repository-level promises: published documents are current, compose and the image cover every service."""

from __future__ import annotations

import re
from pathlib import Path

import dockerfile
import yaml

from chorus_common.messaging.accounts import SERVICES as ACCOUNTS
from chorus_testing.platform import load_launcher, load_roster

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
    roster = {service.name: service for service in load_roster().services()}
    for service in services():
        entry = compose[service]
        assert entry["build"]["context"] == "."
        assert entry["build"]["dockerfile"] == "deploy/docker/Dockerfile"
        assert entry["build"]["args"] == {
            "SERVICE": service,
            "PACKAGE": roster[service].package,
            "PORT": str(roster[service].port),
        }
        assert f"{roster[service].port}:{roster[service].port}" in entry["ports"]
        assert entry["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert entry["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
        assert "/health/ready" in " ".join(entry["healthcheck"]["test"])
        database = entry["environment"]["CHORUS_DATABASE_URL"]
        assert database.startswith("postgresql+asyncpg://") and "@postgres:5432/" in database
        # its own RabbitMQ account, which the broker's definitions hold
        assert entry["environment"]["CHORUS_RABBITMQ_URL"] == f"amqp://{service}:{service}@rabbitmq:5672/"
    volumes = compose["rabbitmq"]["volumes"]
    assert "./deploy/rabbitmq/definitions.dev.json:/etc/rabbitmq/definitions.json:ro" in volumes


def test_notifications_reads_the_mounted_flag_file_and_mails_through_mailpit():
    notifications = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["notifications"]
    flag_path = notifications["environment"]["CHORUS_FLAGD_OFFLINE_FLAG_SOURCE_PATH"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in notifications["volumes"]}
    host_dir = next(host for container, host in mounts.items() if flag_path.startswith(container))
    assert (ROOT / host_dir / Path(flag_path).name).exists()
    assert notifications["environment"]["CHORUS_SMTP_HOST"] == "mailpit"


def stages(path: Path) -> dict[str, list[dockerfile.Command]]:
    """The instructions of each stage of a Dockerfile, by stage name (the last one is "final")."""
    found: dict[str, list[dockerfile.Command]] = {}
    current: list[dockerfile.Command] = []
    for command in dockerfile.parse_file(str(path)):
        if command.cmd == "FROM":
            current = []
            words = [word.lower() for word in command.value]
            found[command.value[words.index("as") + 1] if "as" in words else "final"] = current
        else:
            current.append(command)
    return found


def test_the_image_is_wheels_of_one_service_cached_apart_from_its_code_and_runs_as_a_numeric_user():
    image = stages(ROOT / "deploy" / "docker" / "Dockerfile")
    top = [c for c in dockerfile.parse_file(str(ROOT / "deploy" / "docker" / "Dockerfile")) if c.cmd == "ARG"]
    uv_image = next(c.value[0] for c in top if c.value[0].startswith("UV_IMAGE="))
    assert re.fullmatch(r"UV_IMAGE=ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+", uv_image), "uv is pinned"

    def runs(stage: str) -> list[str]:
        return [" ".join(c.value) for c in image[stage] if c.cmd == "RUN"]

    # The dependency layer sees the requirements and the script only, so code changes reuse it.
    assert [c.value for c in image["dependencies"] if c.cmd == "COPY"] == [
        ("deploy/docker/venv.sh", "deploy/docker/"),
        ("/requirements.txt", "/requirements.txt"),
    ]
    assert runs("requirements") == [
        'sh deploy/docker/venv.sh requirements "${SERVICE:?build with --build-arg SERVICE=<name>}"'
        " /requirements.txt"
    ]
    assert runs("dependencies") == ["sh deploy/docker/venv.sh dependencies /requirements.txt /app/.venv"]
    assert runs("code") == ['sh deploy/docker/venv.sh code "$SERVICE" /app/.venv']
    # The final stage copies the environment alone: nothing from the build context (no source, no tests).
    final = image["final"]
    copies = [c for c in final if c.cmd in ("COPY", "ADD")]
    assert [(c.flags, c.value) for c in copies] == [(("--from=code",), ("/app/.venv", "/app/.venv"))]
    user = [c.value[0] for c in final if c.cmd == "USER"]
    assert len(user) == 1 and re.fullmatch(r"[1-9]\d*:[1-9]\d*", user[0]), user
    assert user[0].split(":")[0] == str(load_k8s_uid())
    assert [c.value for c in final if c.cmd == "CMD"] == [
        ("sh", "-c", 'exec python -m "$SERVICE_PACKAGE" serve --migrate')
    ]
    healthcheck = next(c.value for c in final if c.cmd == "HEALTHCHECK")
    assert healthcheck[:3] == ("CMD", "python", "-c")
    compile(healthcheck[3], "HEALTHCHECK", "exec")  # the probe is valid Python


def load_k8s_uid() -> int:
    source = (ROOT / "deploy" / "k8s" / "generate.py").read_text()
    match = re.search(r"^UID = (\d+)", source, re.MULTILINE)
    assert match
    return int(match.group(1))


def test_the_flag_file_defaults_follow_the_release_note():
    import json

    flags = json.loads((ROOT / "deploy" / "flags" / "flags.json").read_text())["flags"]
    defaults = {key: flag["variants"][flag["defaultVariant"]] for key, flag in flags.items()}
    assert defaults == {
        "notify-deadline-exceeded": True,
        "notify-delegation-ended": True,
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


def test_every_service_of_the_roster_has_its_own_rabbitmq_account():
    assert set(ACCOUNTS) == {service.name for service in load_roster().services()}
