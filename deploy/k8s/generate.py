"""Writes the kustomize bases and overlays under deploy/k8s/ from one description of the services.

`python deploy/k8s/generate.py --write` (part of `make docs`) rewrites them; a repository test fails
when a committed manifest differs from what this script generates, and renders every overlay with
`kubectl kustomize` and validates the result against the Kubernetes schemas.

Layout:
  base/<service>/         one service alone: its api and worker Deployments (migrations in an init
                          container), Service, PodDisruptionBudgets, HorizontalPodAutoscalers, settings
                          ConfigMap, and a CronJob for its scheduled jobs
  overlays/<env>/<service>/  that service in `dev` or `prod`, deployable on its own
  overlays/<env>/         the whole platform in that environment
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

K8S = Path(__file__).resolve().parent
ROOT = K8S.parents[1]
sys.path.insert(0, str(ROOT))

from deploy import roster  # noqa: E402  (run as a script, from any folder)

PART_OF = "chorus-pro"
IMAGE_REGISTRY = "registry.example.org/chorus"
UID = 10001  # the numeric user of deploy/docker/Dockerfile


@dataclass(frozen=True)
class CronJobSpec:
    name: str
    schedule: str
    args: list[str]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    package: str
    port: int
    roles: tuple[str, ...]
    settings: dict[str, str] = field(default_factory=dict)
    # Files mounted read-only from a ConfigMap: source path in the repository -> (mount dir, env var).
    files: dict[str, tuple[str, str]] = field(default_factory=dict)
    optional_secrets: dict[str, str] = field(default_factory=dict)  # env var -> secret key
    cronjobs: list[CronJobSpec] = field(default_factory=list)


# A Service listens on port 80.
CHORUS_GATEWAY_JWKS_URL = "http://piste-gateway/.well-known/jwks.json"

# What the manifests of a service need beyond the roster's name, package, port and roles.
DEPLOYMENTS: dict[str, dict[str, Any]] = {
    "invoicing-works": {
        # The sweep runs as the CronJob below; the daily notice is unique whatever runs it.
        "settings": {
            "CHORUS_DEADLINE_SWEEP_INTERVAL_SECONDS": "0",
            "CHORUS_GATEWAY_JWKS_URL": CHORUS_GATEWAY_JWKS_URL,
        },
        "cronjobs": [CronJobSpec("sweep-deadlines", "5 0 * * *", ["jobs", "sweep-deadlines"])],
    },
    "received-invoices": {
        # Delegations past their end date end in the CronJob below; ending one twice does nothing.
        # The PISTE gateway's forwarded calls are checked against its keys.
        "settings": {
            "CHORUS_DELEGATION_SWEEP_INTERVAL_SECONDS": "0",
            "CHORUS_GATEWAY_JWKS_URL": CHORUS_GATEWAY_JWKS_URL,
        },
        "cronjobs": [CronJobSpec("end-delegations", "10 0 * * *", ["jobs", "end-delegations"])],
    },
    "support-portal": {
        "files": {
            "deploy/support/routing.json": ("/etc/chorus/support", "CHORUS_ROUTING_TABLE_PATH"),
            "deploy/support/categories.json": ("/etc/chorus/support-categories", "CHORUS_CATEGORIES_PATH"),
        },
        # Signs the forms' CSRF tokens and captcha challenges; production refuses to start without it.
        "optional_secrets": {"CHORUS_FORM_SECRET": "form-secret"},
    },
    "piste-gateway": {
        # Signs the access tokens it issues, and (a PEM RSA key) the calls it forwards to the services
        # owning the invoices; production refuses to start without them.
        "optional_secrets": {
            "CHORUS_TOKEN_SECRET": "token-secret",
            "CHORUS_INTERNAL_TOKEN_KEY": "internal-token-key",
        },
        "settings": {
            "CHORUS_RECEIVED_INVOICES_URL": "http://received-invoices",
            "CHORUS_INVOICING_WORKS_URL": "http://invoicing-works",
            "CHORUS_SUPPORT_PORTAL_URL": "http://support-portal",
        },
    },
    "notifications": {
        "settings": {"CHORUS_SMTP_HOST": "smtp", "CHORUS_SMTP_PORT": "1025", "CHORUS_FLAGD_RESOLVER": "file"},
        "files": {"deploy/flags/flags.json": ("/etc/chorus/flags", "CHORUS_FLAGD_OFFLINE_FLAG_SOURCE_PATH")},
        "optional_secrets": {
            "CHORUS_SMTP_USERNAME": "smtp-username",
            "CHORUS_SMTP_PASSWORD": "smtp-password",
        },
    },
}

# Every service deletes what is past its retention window (published outbox rows, inbox ids, and its
# own: `chorus_common.retention`) in this CronJob, hourly, rather than in its worker pods.
RETENTION = CronJobSpec("retention", "17 * * * *", ["jobs", "retention"])

SERVICES = [
    ServiceSpec(
        s.name,
        s.package,
        s.port,
        s.roles,
        **{
            **DEPLOYMENTS.get(s.name, {}),
            "cronjobs": [*DEPLOYMENTS.get(s.name, {}).get("cronjobs", []), RETENTION],
        },
    )
    for s in roster.services()
]

# What every environment sets for one service ({environment} is the environment's name).
PER_SERVICE: dict[str, dict[str, str]] = {
    "support-portal": {"CHORUS_PUBLIC_BASE_URL": "https://support.{environment}.example.org"},
    # ticket mails link to the portal only (a follow link elsewhere is not sent)
    "notifications": {"CHORUS_SUPPORT_PORTAL_URL": "https://support.{environment}.example.org"},
}

# What differs between environments; everything else is in the bases.
ENVIRONMENTS: dict[str, dict[str, Any]] = {
    "dev": {
        "namespace": "chorus-dev",
        "tag": "dev",
        "replicas": 1,
        "hpa": (1, 3),
        "settings": {"CHORUS_APP_ENV": "dev", "CHORUS_LOG_LEVEL": "DEBUG"},
        # Development credentials for in-cluster servers; prod takes them from a Secret made outside.
        "secrets": {
            # Each service is its own RabbitMQ account (development password: its name), as
            # `python -m chorus_common rabbitmq-accounts` creates them.
            "rabbitmq-url": "amqp://{name}:{name}@rabbitmq:5672/",
            "database-url": "postgresql+asyncpg://postgres@postgres:5432/chorus_{package}",
        },
    },
    "prod": {
        "namespace": "chorus",
        "tag": "0.1.0",
        "replicas": 2,
        "hpa": (2, 10),
        "settings": {
            "CHORUS_APP_ENV": "prod",
            "CHORUS_LOG_LEVEL": "INFO",
            "CHORUS_AUTH_JWKS_URL": "https://idp.example.org/.well-known/jwks.json",
            "CHORUS_AUTH_ISSUER": "https://idp.example.org/",
            "CHORUS_AUTH_AUDIENCE": "chorus",
        },
        "services": {
            # The organisation's relay on the submission port, STARTTLS with its certificate checked
            # (credentials are never sent in clear).
            "notifications": {
                "CHORUS_SMTP_HOST": "smtp.example.org",
                "CHORUS_SMTP_PORT": "587",
                "CHORUS_SMTP_STARTTLS": "true",
            },
        },
        "secrets": None,
    },
}


def labels(service: ServiceSpec, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": service.name, "app.kubernetes.io/component": component}


def container_env(service: ServiceSpec, role: str | None) -> dict[str, Any]:
    credentials = f"{service.name}-credentials"
    env: list[dict[str, Any]] = []
    if role is not None:
        env.append({"name": "CHORUS_SERVICE_ROLE", "value": role})
    env += [
        {
            "name": "CHORUS_DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": credentials, "key": "database-url"}},
        },
        {
            "name": "CHORUS_RABBITMQ_URL",
            "valueFrom": {"secretKeyRef": {"name": credentials, "key": "rabbitmq-url"}},
        },
    ]
    for variable, key in service.optional_secrets.items():
        env.append(
            {
                "name": variable,
                "valueFrom": {"secretKeyRef": {"name": credentials, "key": key, "optional": True}},
            }
        )
    return {"env": env, "envFrom": [{"configMapRef": {"name": f"{service.name}-settings"}}]}


def security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def volumes(service: ServiceSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    for source, (directory, _) in service.files.items():
        name = Path(source).stem + "-file"
        volumes.append({"name": name, "configMap": {"name": f"{service.name}-{Path(source).stem}"}})
        mounts.append({"name": name, "mountPath": directory, "readOnly": True})
    return volumes, mounts


def image(service: ServiceSpec) -> str:
    return f"{IMAGE_REGISTRY}/{service.name}"


def workload_name(service: ServiceSpec, role: str) -> str:
    return service.name if role == "api" else f"{service.name}-{role}"


def command(service: ServiceSpec) -> list[str]:
    return ["python", "-m", service.package]


def deployment(service: ServiceSpec, role: str) -> dict[str, Any]:
    name = workload_name(service, role)
    pod_volumes, mounts = volumes(service)
    probe_port = {"port": "http"}
    container = {
        "name": service.name,
        "image": image(service),
        "command": command(service),
        "args": ["serve"],
        "ports": [{"name": "http", "containerPort": service.port}],
        **container_env(service, role),
        "readinessProbe": {
            "httpGet": {"path": "/health/ready", **probe_port},
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": "/health/live", **probe_port},
            "periodSeconds": 10,
            "failureThreshold": 6,
        },
        "startupProbe": {
            "httpGet": {"path": "/health/live", **probe_port},
            "periodSeconds": 2,
            "failureThreshold": 60,
        },
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "256Mi"},
        },
        "securityContext": security_context(),
        "volumeMounts": mounts,
    }
    migrate = {
        "name": "migrate",
        "image": image(service),
        "command": command(service),
        "args": ["migrate"],
        **container_env(service, None),
        "resources": {
            "requests": {"cpu": "50m", "memory": "96Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "securityContext": security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels(service, role)},
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": labels(service, role)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels(service, role)},
                "spec": {
                    "securityContext": pod_security(),
                    # Migrations take an advisory lock, so replicas starting together apply them once.
                    "initContainers": [migrate],
                    "containers": [container],
                    "terminationGracePeriodSeconds": 30,
                    "volumes": pod_volumes,
                },
            },
        },
    }


def kube_service(service: ServiceSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service.name, "labels": labels(service, "api")},
        "spec": {
            "selector": labels(service, "api"),
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }


def disruption_budget(service: ServiceSpec, role: str) -> dict[str, Any]:
    name = workload_name(service, role)
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "labels": labels(service, role)},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels(service, role)}},
    }


def autoscaler(service: ServiceSpec, role: str) -> dict[str, Any]:
    name = workload_name(service, role)
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "labels": labels(service, role)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
        },
    }


def cronjob(service: ServiceSpec, job: CronJobSpec) -> dict[str, Any]:
    pod_volumes, mounts = volumes(service)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": f"{service.name}-{job.name}", "labels": labels(service, job.name)},
        "spec": {
            "schedule": job.schedule,
            "timeZone": "Europe/Paris",
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 3,
                    "template": {
                        "metadata": {"labels": labels(service, job.name)},
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "securityContext": pod_security(),
                            "containers": [
                                {
                                    "name": job.name,
                                    "image": image(service),
                                    "command": command(service),
                                    "args": job.args,
                                    **container_env(service, None),
                                    "resources": {
                                        "requests": {"cpu": "50m", "memory": "96Mi"},
                                        "limits": {"cpu": "1", "memory": "256Mi"},
                                    },
                                    "securityContext": security_context(),
                                    "volumeMounts": mounts,
                                }
                            ],
                            "volumes": pod_volumes,
                        },
                    },
                }
            },
        },
    }


def base_settings(service: ServiceSpec) -> dict[str, str]:
    settings = {
        # Production unless an overlay says otherwise (the code's default too).
        "CHORUS_APP_ENV": "prod",
        "CHORUS_HTTP_HOST": "0.0.0.0",
        "CHORUS_HTTP_PORT": str(service.port),
        "CHORUS_LOG_JSON": "true",
        "CHORUS_RETENTION_INTERVAL_SECONDS": "0",  # the retention CronJob does it
        **service.settings,
    }
    for source, (directory, variable) in service.files.items():
        settings[variable] = f"{directory}/{Path(source).name}"
    return settings


def dump(documents: list[dict[str, Any]]) -> str:
    return "---\n".join(yaml.safe_dump(d, sort_keys=False, default_flow_style=False) for d in documents)


HEADER = "# Generated by deploy/k8s/generate.py (`make docs`); edit the generator, not this file.\n"


def base_files(service: ServiceSpec) -> dict[Path, str]:
    folder = K8S / "base" / service.name
    resources = {
        "deployments.yaml": [deployment(service, role) for role in service.roles],
        "service.yaml": [kube_service(service)],
        "disruption-budgets.yaml": [disruption_budget(service, role) for role in service.roles],
        "autoscalers.yaml": [autoscaler(service, role) for role in service.roles],
    }
    if service.cronjobs:
        resources["cronjobs.yaml"] = [cronjob(service, job) for job in service.cronjobs]
    files = {folder / name: HEADER + dump(docs) for name, docs in resources.items()}
    generators: list[dict[str, Any]] = [
        {
            "name": f"{service.name}-settings",
            "literals": [f"{key}={value}" for key, value in base_settings(service).items()],
        }
    ]
    for source in service.files:
        # kustomize reads files only from inside the kustomization, so the generator copies them.
        copy = folder / Path(source).name
        files[copy] = (ROOT / source).read_text()
        generators.append({"name": f"{service.name}-{Path(source).stem}", "files": [copy.name]})
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "labels": [{"pairs": {"app.kubernetes.io/part-of": PART_OF}, "includeSelectors": False}],
        "resources": list(resources),
        "configMapGenerator": generators,
    }
    files[folder / "kustomization.yaml"] = HEADER + dump([kustomization])
    return files


def overlay_files(environment: str, config: dict[str, Any]) -> dict[Path, str]:
    folder = K8S / "overlays" / environment
    files: dict[Path, str] = {}
    low, high = config["hpa"]
    for service in SERVICES:
        kustomization: dict[str, Any] = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": config["namespace"],
            "resources": [f"../../../base/{service.name}"],
            "images": [{"name": image(service), "newTag": config["tag"]}],
            "replicas": [
                {"name": name, "count": config["replicas"]}
                for name in (service.name, f"{service.name}-worker")
            ],
            "configMapGenerator": [
                {
                    "name": f"{service.name}-settings",
                    "behavior": "merge",
                    "literals": [
                        f"{key}={value.format(environment=environment)}"
                        for key, value in {
                            **config["settings"],
                            **PER_SERVICE.get(service.name, {}),
                            **config.get("services", {}).get(service.name, {}),
                        }.items()
                    ],
                }
            ],
            "patches": [
                {
                    "target": {"kind": "HorizontalPodAutoscaler"},
                    "patch": yaml.safe_dump(
                        [
                            {"op": "replace", "path": "/spec/minReplicas", "value": low},
                            {"op": "replace", "path": "/spec/maxReplicas", "value": high},
                        ],
                        sort_keys=False,
                    ),
                }
            ],
        }
        if config["secrets"] is not None:
            kustomization["secretGenerator"] = [
                {
                    "name": f"{service.name}-credentials",
                    "literals": [
                        f"{key}={value.format(package=service.package, name=service.name)}"
                        for key, value in config["secrets"].items()
                    ],
                }
            ]
        files[folder / service.name / "kustomization.yaml"] = HEADER + dump([kustomization])
    platform = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [service.name for service in SERVICES],
    }
    files[folder / "kustomization.yaml"] = HEADER + dump([platform])
    return files


def expected_manifests() -> dict[Path, str]:
    files: dict[Path, str] = {}
    for service in SERVICES:
        files.update(base_files(service))
    for environment, config in ENVIRONMENTS.items():
        files.update(overlay_files(environment, config))
    return files


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="write the manifests (else: check them)")
    args = parser.parse_args()
    stale = []
    for path, text in expected_manifests().items():
        if args.write:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        elif not path.exists() or path.read_text() != text:
            stale.append(str(path.relative_to(ROOT)))
    if stale:
        print("stale manifests (run `make docs`):", *stale, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
