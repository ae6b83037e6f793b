"""What a platform sets in a pod's environment for its own purposes changes nothing: Kubernetes'
service links (FLAGD_PORT=tcp://... for a Service named flagd) and a SERVICE_NAME of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from chorus_common.flags import FeatureFlags, FlagSettings
from chorus_common.settings import ServiceSettings
from chorus_testing.fixtures import write_flags

# What Kubernetes injects into every pod of a namespace holding a Service named flagd.
SERVICE_LINKS = {
    "FLAGD_PORT": "tcp://10.96.0.12:8013",
    "FLAGD_SERVICE_HOST": "10.96.0.12",
    "FLAGD_SERVICE_PORT": "8013",
    "FLAGD_PORT_8013_TCP": "tcp://10.96.0.12:8013",
    "FLAGD_PORT_8013_TCP_PROTO": "tcp",
    "FLAGD_PORT_8013_TCP_PORT": "8013",
    "FLAGD_PORT_8013_TCP_ADDR": "10.96.0.12",
}


class Settings(ServiceSettings, FlagSettings):
    service_name: str = "notifications"


def test_the_environment_cannot_rename_a_service_nor_break_its_flags(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    for name, value in {**SERVICE_LINKS, "SERVICE_NAME": "someone-else"}.items():
        monkeypatch.setenv(name, value)
    flag_file = tmp_path / "flags.json"
    write_flags(flag_file, {"notify-engagement-validated": True})
    monkeypatch.setenv("FLAGD_OFFLINE_FLAG_SOURCE_PATH", str(flag_file))
    monkeypatch.setenv("APP_ENV", "dev")

    settings = Settings()
    assert settings.service_name == "notifications"
    assert settings.event_source == "/services/notifications"
    assert settings.chorus_flagd_port is None
    assert Settings(service_name="probe").service_name == "probe", "a program still names it"

    flags = FeatureFlags(settings, "settings-test")
    flags.start()
    try:
        decision = flags.evaluate("notify-engagement-validated", "someone", {})
    finally:
        flags.stop()
    assert decision.enabled, decision


def test_the_flagd_port_is_read_from_its_own_name(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CHORUS_FLAGD_PORT", "9013")
    monkeypatch.setenv("FLAGD_PORT", "tcp://10.96.0.12:8013")
    assert Settings().chorus_flagd_port == 9013
