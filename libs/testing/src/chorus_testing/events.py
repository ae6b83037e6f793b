"""Events as another system would publish them, for tests."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any


def party(prefix: str) -> dict[str, str]:
    """A party object with unique identifiers, so tests never see each other's mail or rows."""
    suffix = uuid.uuid4().hex[:8]
    return {
        "structure_id": f"{prefix}-{suffix}",
        "name": f"{prefix} {suffix}",
        "email": f"{prefix.lower()}-{suffix}@example.fr",
    }


def cloud_event(event_type: str, data: dict[str, Any], source: str = "/tests") -> dict[str, Any]:
    """A structured-mode CloudEvents 1.0 document with a fresh id."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": source,
        "type": event_type,
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


def engagement_validated(total_ht: str = "1000.00", total_ttc: str = "1200.00") -> dict[str, Any]:
    return cloud_event(
        "engagement-validated",
        {
            "number": f"EJ-{uuid.uuid4().hex[:8]}",
            "issuer": {**party("ministere"), "kind": "ETAT"},
            "supplier": party("fournisseur"),
            "total_ht": total_ht,
            "total_ttc": total_ttc,
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
