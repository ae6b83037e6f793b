"""Events as another system would publish them, for tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
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
