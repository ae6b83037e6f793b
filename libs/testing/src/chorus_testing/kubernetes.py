"""What a platform sets in every pod's environment for its own purposes, which must change nothing."""

from __future__ import annotations


def service_links(name: str, port: int, address: str = "10.96.0.12") -> dict[str, str]:
    """The variables Kubernetes injects into every pod of a namespace holding a Service `name`
    (`enableServiceLinks`, on by default): FLAGD_PORT=tcp://... for a Service named flagd."""
    prefix = name.upper().replace("-", "_")
    return {
        f"{prefix}_SERVICE_HOST": address,
        f"{prefix}_SERVICE_PORT": str(port),
        f"{prefix}_PORT": f"tcp://{address}:{port}",
        f"{prefix}_PORT_{port}_TCP": f"tcp://{address}:{port}",
        f"{prefix}_PORT_{port}_TCP_PROTO": "tcp",
        f"{prefix}_PORT_{port}_TCP_PORT": str(port),
        f"{prefix}_PORT_{port}_TCP_ADDR": address,
    }


# Services a namespace may well hold (an SMTP relay, a flag daemon, a broker, a database, a proxy named
# http), and names a platform sets for itself; each would once have been read as a setting.
PLATFORM_ENVIRONMENT = {
    **service_links("smtp", 25),
    **service_links("flagd", 8013),
    **service_links("rabbitmq", 5672),
    **service_links("postgres", 5432),
    **service_links("http", 80),
    **service_links("database", 5432),
    "SERVICE_NAME": "someone-else",
    "APP_ENV": "prod",
    "LOG_LEVEL": "CRITICAL",
    "SERVICE_ROLE": "nothing",
}
