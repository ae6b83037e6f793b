"""OpenFeature with the flagd provider; evaluations fail closed and say why."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal

from openfeature import api
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import DEFAULT_PORT_IN_PROCESS, DEFAULT_PORT_RPC, ResolverType
from openfeature.evaluation_context import EvaluationContext
from openfeature.provider import ProviderStatus
from pydantic_settings import BaseSettings, SettingsConfigDict

from chorus_common.settings import ENV_PREFIX

logger = logging.getLogger("chorus.flags")


class FlagSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    flagd_resolver: Literal["file", "rpc", "in-process"] = "file"
    flagd_offline_flag_source_path: str | None = None
    flagd_host: str = "localhost"
    # Always given to the provider, which would otherwise read FLAGD_PORT itself: Kubernetes sets
    # FLAGD_PORT=tcp://host:port in every pod of a namespace with a Service named flagd.
    flagd_port: int | None = None
    flagd_offline_poll_ms: int = 500
    flags_ready_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class FlagDecision:
    enabled: bool
    reason: str
    error: str | None = None


class FeatureFlags:
    """Boolean flags for one service; an unevaluable flag counts as off."""

    def __init__(self, settings: FlagSettings, domain: str) -> None:
        self._settings = settings
        self._domain = domain
        self._client = api.get_client(domain)

    def start(self) -> None:
        """Install the provider and wait (bounded) until it has read its flags."""
        settings = self._settings
        resolver = {
            "file": ResolverType.FILE,
            "rpc": ResolverType.RPC,
            "in-process": ResolverType.IN_PROCESS,
        }[settings.flagd_resolver]
        if resolver is ResolverType.FILE and not settings.flagd_offline_flag_source_path:
            raise ValueError(
                "CHORUS_FLAGD_OFFLINE_FLAG_SOURCE_PATH is required with CHORUS_FLAGD_RESOLVER=file"
            )
        provider = FlagdProvider(
            resolver_type=resolver,
            offline_flag_source_path=settings.flagd_offline_flag_source_path,
            host=settings.flagd_host,
            # Always given: without it the provider reads FLAGD_PORT from the environment itself.
            port=settings.flagd_port
            or (DEFAULT_PORT_RPC if resolver is ResolverType.RPC else DEFAULT_PORT_IN_PROCESS),
            deadline_ms=settings.flagd_offline_poll_ms,
        )
        api.set_provider(provider, self._domain)
        deadline = time.monotonic() + settings.flags_ready_timeout_seconds
        while self.status() is not ProviderStatus.READY and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.status() is not ProviderStatus.READY:
            logger.error("flag provider not ready (%s); flags evaluate as off", self.status())

    def status(self) -> ProviderStatus:
        return self._client.get_provider_status()

    def stop(self) -> None:
        provider = api.provider_registry.get_provider(self._domain)
        provider.shutdown()

    def evaluate(self, key: str, targeting_key: str, attributes: dict[str, str | int | bool]) -> FlagDecision:
        status = self.status()
        if status is not ProviderStatus.READY:
            # The provider lost its source (the flag file removed, unreadable, invalid; flagd away): it
            # still answers from what it read last, which may no longer be what the operators say.
            message = f"the flag provider is {status.value.lower()}"
            return FlagDecision(False, f"flag {key} could not be evaluated: {message}", message)
        details = self._client.get_boolean_details(
            key, False, EvaluationContext(targeting_key=targeting_key, attributes=dict(attributes))
        )
        if details.error_code is not None:
            message = details.error_message or str(details.error_code)
            return FlagDecision(
                False, f"flag {key} could not be evaluated: {details.error_code}: {message}", message
            )
        return FlagDecision(bool(details.value), f"flag {key} is {'on' if details.value else 'off'}")
