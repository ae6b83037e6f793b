"""The Kubernetes manifests: current with their generator, rendered by kustomize, valid, and coherent."""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from chorus_testing.platform import load_script

from .documents import settings_class


def from_environment(settings: Any, variables: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The settings a container with exactly these variables (the CHORUS_ ones) would read."""
    for name in [name for name in os.environ if name.startswith("CHORUS_")]:
        monkeypatch.delenv(name)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return settings()


ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.32"  # the kubectl this machine has


GENERATOR = load_script(K8S / "generate.py", "chorus_k8s_generate")
SERVICE_NAMES = [service.name for service in GENERATOR.SERVICES]
OVERLAYS = [
    path.parent.relative_to(K8S).as_posix() for path in sorted((K8S / "overlays").rglob("kustomization.yaml"))
]


@cache
def render(overlay: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["kubectl", "kustomize", str(K8S / overlay)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def by_kind(documents: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


def pod_specs(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    specs = [d["spec"]["template"]["spec"] for d in documents if d["kind"] == "Deployment"]
    specs += [
        d["spec"]["jobTemplate"]["spec"]["template"]["spec"] for d in documents if d["kind"] == "CronJob"
    ]
    return specs


def test_committed_manifests_are_current():
    stale = [
        str(path.relative_to(ROOT))
        for path, text in GENERATOR.expected_manifests().items()
        if not path.exists() or path.read_text() != text
    ]
    assert not stale, f"run `make docs`: {stale}"


def test_there_is_an_overlay_per_environment_and_per_service():
    expected = {f"overlays/{env}" for env in ("dev", "prod")}
    expected |= {f"overlays/{env}/{name}" for env in ("dev", "prod") for name in SERVICE_NAMES}
    assert set(OVERLAYS) == expected


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_resource_is_valid_against_the_kubernetes_schemas(overlay: str):
    documents = render(overlay)
    assert documents
    for document in documents:
        # strict: an unknown field (a typo) is an error, not silently dropped by the API server
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", [o for o in OVERLAYS if o.count("/") == 2])
def test_one_service_overlay_deploys_that_service_alone_with_everything_it_references(overlay: str):
    service = overlay.rsplit("/", 1)[1]
    documents = render(overlay)
    names = {d["metadata"].get("labels", {}).get("app.kubernetes.io/name") for d in documents}
    assert names <= {service, None}
    config_maps = by_kind(documents, "ConfigMap")
    secrets = by_kind(documents, "Secret")
    deployments = by_kind(documents, "Deployment")
    assert set(deployments) == {service, f"{service}-worker"}
    for pod in pod_specs(documents):
        for container in pod["containers"] + pod.get("initContainers", []):
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                # prod takes credentials from a Secret made outside the manifests (no value in git)
                if ref and overlay.startswith("overlays/dev") and not ref.get("optional"):
                    assert ref["key"] in secrets[ref["name"]]["data"], (variable, ref)
        for volume in pod["volumes"]:
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_each_deployment_probes_health_limits_resources_runs_unprivileged_and_migrates_first(
    environment: str,
):
    documents = render(f"overlays/{environment}")
    deployments = by_kind(documents, "Deployment")
    assert set(deployments) == {f"{name}{suffix}" for name in SERVICE_NAMES for suffix in ("", "-worker")}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        port = container["ports"][0]["containerPort"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready", name
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live", name
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
        assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        role = next(v["value"] for v in container["env"] if v["name"] == "CHORUS_SERVICE_ROLE")
        assert role == ("worker" if name.endswith("-worker") else "api")
        (migrate,) = pod["initContainers"]
        assert migrate["command"] == container["command"] and migrate["args"] == ["migrate"]
        settings = next(
            d
            for d in documents
            if d["kind"] == "ConfigMap"
            and d["metadata"]["name"].startswith(name.removesuffix("-worker") + "-settings")
        )
        assert settings["data"]["CHORUS_HTTP_PORT"] == str(port)
        assert deployment["spec"]["replicas"] == GENERATOR.ENVIRONMENTS[environment]["replicas"]
    for kind in ("PodDisruptionBudget", "HorizontalPodAutoscaler"):
        covered = {
            d["spec"]["scaleTargetRef"]["name"]
            if kind == "HorizontalPodAutoscaler"
            else d["metadata"]["name"]
            for d in by_kind(documents, kind).values()
        }
        assert covered == set(deployments), kind
    services = by_kind(documents, "Service")
    assert set(services) == set(SERVICE_NAMES)


def test_the_deadline_sweep_is_a_paris_cronjob_and_not_also_run_in_process():
    documents = render("overlays/prod/invoicing-works")
    cronjob = next(
        c
        for c in by_kind(documents, "CronJob").values()
        if c["metadata"]["name"].endswith("-sweep-deadlines")
    )
    assert cronjob["spec"]["timeZone"] == "Europe/Paris"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "invoicing_works"]
    assert container["args"] == ["jobs", "sweep-deadlines"]
    settings = next(d for d in documents if d["kind"] == "ConfigMap")
    assert settings["data"]["CHORUS_DEADLINE_SWEEP_INTERVAL_SECONDS"] == "0"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_every_service_applies_its_retention_in_a_cronjob_not_in_its_workers(service: str):
    documents = render(f"overlays/prod/{service}")
    cronjob = next(
        c for c in by_kind(documents, "CronJob").values() if c["metadata"]["name"].endswith("-retention")
    )
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", service.replace("-", "_")]
    assert container["args"] == ["jobs", "retention"]
    settings = next(
        d for d in documents if d["kind"] == "ConfigMap" and "-settings-" in d["metadata"]["name"]
    )
    assert settings["data"]["CHORUS_RETENTION_INTERVAL_SECONDS"] == "0"


@pytest.mark.parametrize("environment", ["dev", "prod"])
@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_each_rendered_configuration_is_accepted_by_the_service_itself(
    environment: str, service: str, monkeypatch: pytest.MonkeyPatch
):
    documents = render(f"overlays/{environment}/{service}")
    settings = next(
        d["data"] for d in documents if d["kind"] == "ConfigMap" and "-settings-" in d["metadata"]["name"]
    )
    credentials = {
        "CHORUS_DATABASE_URL": f"postgresql+asyncpg://chorus@db:5432/{service}",
        "CHORUS_RABBITMQ_URL": "amqp://chorus:secret@rabbitmq:5672/",
    }
    if environment == "prod":
        # Production's Secret, made outside, holds every key the containers read from it.
        for deployment in by_kind(documents, "Deployment").values():
            for container in deployment["spec"]["template"]["spec"]["containers"]:
                for variable in container["env"]:
                    if "secretKeyRef" in variable.get("valueFrom", {}):
                        credentials.setdefault(variable["name"], f"a {variable['name']} of the deployment")
    # Only the file paths are container paths; every other setting must parse as the service reads it.
    parsed = from_environment(settings_class(service), {**settings, **credentials}, monkeypatch)
    assert parsed.app_env == environment
    assert parsed.http_host == "0.0.0.0"
    if environment == "prod":
        assert parsed.jwt_secret is None and parsed.auth_jwks_url


def test_production_mail_goes_to_a_relay_over_starttls_and_notifications_starts_with_it(
    monkeypatch: pytest.MonkeyPatch,
):
    """The production notifications speak STARTTLS on the submission port (credentials are never sent
    in clear); its settings, as rendered, are ones the service accepts."""
    documents = render("overlays/prod/notifications")
    [data] = [
        d["data"] for d in documents if d["kind"] == "ConfigMap" and "-settings-" in d["metadata"]["name"]
    ]
    assert (data["CHORUS_SMTP_PORT"], data["CHORUS_SMTP_STARTTLS"], data["CHORUS_APP_ENV"]) == (
        "587",
        "true",
        "prod",
    )
    settings = settings_class("notifications")
    with_credentials = data | {
        "CHORUS_DATABASE_URL": "postgresql+asyncpg://db/notifications",
        "CHORUS_SMTP_USERNAME": "chorus",
        "CHORUS_SMTP_PASSWORD": "secret",
    }
    assert from_environment(settings, with_credentials, monkeypatch).smtp_starttls
