"""The gateway serving HTTPS itself (CHORUS_TLS_CERT_FILE, CHORUS_TLS_KEY_FILE), for clients that refuse
plain HTTP: `chorus-api`, through requests, talks to it with the certificate's authority as its only trust."""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from chorusapi.client import ChorusAPI
from chorusapi.exceptions.exception import ChorusApiException

from chorus_testing.fixtures import eventually, free_port
from chorus_testing.tls import issue


async def test_the_gateway_serves_https_with_its_certificate(
    database_factory: Callable[[str], str],
    rabbitmq_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    certificate = issue(tmp_path, "localhost")
    port = free_port()
    env = {
        **os.environ,
        "CHORUS_APP_ENV": "dev",
        "CHORUS_DATABASE_URL": database_factory("piste_gateway_tls"),
        "CHORUS_RABBITMQ_URL": rabbitmq_url,
        "CHORUS_TLS_CERT_FILE": str(certificate.cert_file),
        "CHORUS_TLS_KEY_FILE": str(certificate.key_file),
    }
    command = [sys.executable, "-m", "piste_gateway", "serve", "--migrate", "--port", str(port)]
    server = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    base = f"https://localhost:{port}"
    try:
        trusting = ssl.create_default_context(cafile=str(certificate.ca_file))
        async with httpx.AsyncClient(verify=trusting) as client:

            async def live() -> bool:
                return (await client.get(base + "/health/live")).status_code == 200

            await eventually(live, within=30, tolerate=(httpx.TransportError,), what="the gateway over TLS")
        async with httpx.AsyncClient() as untrusting:
            with pytest.raises(httpx.ConnectError):
                await untrusting.get(base + "/health/live")  # a certificate its default trust does not know
        # chorus-api reaches the token endpoint over TLS, trusting the test authority (requests reads
        # REQUESTS_CA_BUNDLE); unknown credentials are refused by the gateway, not by the handshake.
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate.ca_file))
        api = ChorusAPI("unknown-client", "wrong-secret", tech_username="x", tech_password="y")
        api.auth_url, api.api_url = base + "/api/oauth/token", base
        with pytest.raises(ChorusApiException, match="invalid_client"):
            await asyncio.to_thread(api.auth)
    finally:
        server.terminate()
        _, stderr = await asyncio.wait_for(server.communicate(), 30)
    assert b"Traceback" not in stderr, stderr.decode()[-2000:]


def test_tls_files_go_together_and_must_exist(tmp_path: Path):
    from piste_gateway.settings import PisteGatewaySettings

    certificate = issue(tmp_path, "localhost")
    with pytest.raises(ValueError, match="go together"):
        PisteGatewaySettings(app_env="dev", tls_cert_file=str(certificate.cert_file))
    with pytest.raises(ValueError, match="no such file"):
        PisteGatewaySettings(
            app_env="dev", tls_cert_file="/nowhere.pem", tls_key_file=str(certificate.key_file)
        )
