"""What a platform sets in a pod's environment for its own purposes changes nothing: Kubernetes'
service links (FLAGD_PORT=tcp://... for a Service named flagd, SMTP_PORT=tcp://... for one named smtp)
and names of its own (SERVICE_NAME, APP_ENV); the settings are read as CHORUS_<NAME>."""

from __future__ import annotations

from pathlib import Path

import pytest

from chorus_common.flags import FeatureFlags, FlagSettings
from chorus_common.settings import ServiceSettings
from chorus_testing.fixtures import write_flags
from chorus_testing.kubernetes import PLATFORM_ENVIRONMENT


class Settings(ServiceSettings, FlagSettings):
    service_name: str = "notifications"
    smtp_port: int = 25


def test_the_environment_cannot_rename_a_service_nor_break_its_flags(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    for name, value in PLATFORM_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CHORUS_SERVICE_NAME", "someone-else")
    flag_file = tmp_path / "flags.json"
    write_flags(flag_file, {"notify-engagement-validated": True})
    monkeypatch.setenv("CHORUS_FLAGD_OFFLINE_FLAG_SOURCE_PATH", str(flag_file))
    monkeypatch.setenv("CHORUS_APP_ENV", "dev")

    settings = Settings()
    assert settings.service_name == "notifications"
    assert settings.event_source == "/services/notifications"
    assert (settings.app_env, settings.service_role, settings.log_level) == ("dev", "all", "INFO")
    assert (settings.http_port, settings.smtp_port, settings.flagd_port) == (8000, 25, None)
    assert Settings(service_name="probe").service_name == "probe", "a program still names it"

    flags = FeatureFlags(settings, "settings-test")
    flags.start()
    try:
        decision = flags.evaluate("notify-engagement-validated", "someone", {})
    finally:
        flags.stop()
    assert decision.enabled, decision


def test_every_setting_is_read_under_its_prefixed_name_only(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CHORUS_APP_ENV", "dev")
    defaults = Settings().model_dump()
    for name in Settings.model_fields:
        monkeypatch.setenv(name.upper(), "tcp://10.96.0.12:8013")
    assert Settings().model_dump() == defaults

    monkeypatch.setenv("CHORUS_FLAGD_PORT", "9013")
    monkeypatch.setenv("CHORUS_HTTP_PORT", "8123")
    monkeypatch.setenv("CHORUS_SMTP_PORT", "2525")
    settings = Settings()
    assert (settings.flagd_port, settings.http_port, settings.smtp_port) == (9013, 8123, 2525)
