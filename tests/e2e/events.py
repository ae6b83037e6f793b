"""CloudEvents as an external system would publish them."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chorus_common.testing.events import cloud_event, party


def engagement_validated() -> dict[str, Any]:
    return cloud_event(
        "engagement-validated",
        {
            "number": f"EJ-{uuid.uuid4().hex[:8]}",
            "issuer": {**party("ministere"), "kind": "ETAT"},
            "supplier": party("fournisseur"),
            "total_ht": "1000.00",
            "total_ttc": "1200.00",
            "currency": "EUR",
            "validated_at": datetime.now(UTC).isoformat(),
        },
        source="/erp/chorus-etat",
    )


def deadline_exceeded() -> dict[str, Any]:
    return cloud_event(
        "deadline-exceeded",
        {
            "works_invoice_id": str(uuid.uuid4()),
            "number": f"PDM-{uuid.uuid4().hex[:6]}",
            "billing_frame": "A4",
            "supplier": party("fournisseur"),
            "moe": party("moe"),
            "moa": party("moa"),
            "made_available_at": (datetime.now(UTC) - timedelta(days=10)).isoformat(),
            "deadline": (date.today() - timedelta(days=3)).isoformat(),
            "days_overdue": 3,
            "notice_date": date.today().isoformat(),
        },
        source="/services/invoicing-works",
    )


def delegation_routed() -> dict[str, Any]:
    return cloud_event(
        "delegation-routed",
        {
            "invoice_id": str(uuid.uuid4()),
            "number": f"F-{uuid.uuid4().hex[:6]}",
            "billing_frame": "A1",
            "supplier": party("fournisseur"),
            "recipient": party("hopital"),
            "delegate": party("delegue"),
            "right": "VALIDATION",
            "delegation_id": str(uuid.uuid4()),
            "amount_ttc": "1500.00",
            "currency": "EUR",
            "routed_at": datetime.now(UTC).isoformat(),
        },
        source="/services/received-invoices",
    )
