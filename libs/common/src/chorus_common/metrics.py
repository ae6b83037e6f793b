"""Prometheus metrics shared by every service."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "chorus_http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "chorus_http_request_duration_seconds", "HTTP request duration", ["service", "method", "route"]
)
EVENTS_CONSUMED = Counter(
    "chorus_events_consumed_total",
    "Events taken from the bus, by outcome",
    ["service", "event_type", "outcome"],
)
EVENTS_PUBLISHED = Counter(
    "chorus_events_published_total", "Outbox events confirmed by the broker", ["service", "event_type"]
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "chorus_outbox_publish_failures_total", "Outbox publish attempts that failed", ["service"]
)
