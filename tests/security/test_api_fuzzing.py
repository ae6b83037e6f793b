"""Schemathesis over each service's published OpenAPI document, against the running service.

Generated requests (valid and invalid) are sent with a valid token; no response may be a 5xx, and every
response must match what the document declares for its status.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from chorus_testing.platform import Platform

from .conftest import IdentityProvider

DOCS = Path(__file__).resolve().parents[2] / "docs"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same requests on every run: a failure here is reproducible
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


def published(service: str) -> Any:
    return schemathesis.openapi.from_dict(json.loads((DOCS / service / "openapi.json").read_text()))


def send(case: Any, platform: Platform, service: str, identity_provider: IdentityProvider) -> None:
    headers = identity_provider.headers("fuzzer", ["FUZZ-STRUCTURE"], ["admin"])
    case.call_and_validate(base_url=platform.url(service), headers=headers, checks=CHECKS)


invoicing_works = published("invoicing-works")
received_invoices = published("received-invoices")
engagements = published("engagements")
support_portal = published("support-portal")
notifications = published("notifications")
directory = published("directory")
piste_gateway = published("piste-gateway")


@invoicing_works.parametrize()
@FUZZ
def test_invoicing_works_answers_any_request_within_its_document(
    case: Any, secured_platform: Platform, identity_provider: IdentityProvider
) -> None:
    send(case, secured_platform, "invoicing-works", identity_provider)


@received_invoices.parametrize()
@FUZZ
def test_received_invoices_answers_any_request_within_its_document(
    case: Any, secured_platform: Platform, identity_provider: IdentityProvider
) -> None:
    send(case, secured_platform, "received-invoices", identity_provider)


@engagements.parametrize()
@FUZZ
def test_engagements_answers_any_request_within_its_document(
    case: Any, secured_platform: Platform, identity_provider: IdentityProvider
) -> None:
    send(case, secured_platform, "engagements", identity_provider)


@support_portal.parametrize()
@FUZZ
def test_support_portal_answers_any_request_within_its_document(
    case: Any, secured_platform: Platform, identity_provider: IdentityProvider
) -> None:
    send(case, secured_platform, "support-portal", identity_provider)


@notifications.parametrize()
@FUZZ
def test_notifications_answers_any_request_within_its_document(
    case: Any, secured_platform: Platform, identity_provider: IdentityProvider
) -> None:
    send(case, secured_platform, "notifications", identity_provider)


@directory.parametrize()
@FUZZ
def test_directory_answers_any_request_within_its_document(
    case: Any, secured_platform: Platform, identity_provider: IdentityProvider
) -> None:
    send(case, secured_platform, "directory", identity_provider)


@piste_gateway.parametrize()
@FUZZ
def test_piste_gateway_answers_any_request_within_its_document(
    case: Any, secured_platform: Platform, identity_provider: IdentityProvider
) -> None:
    send(case, secured_platform, "piste-gateway", identity_provider)
