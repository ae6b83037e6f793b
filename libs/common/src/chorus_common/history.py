"""One history model for every service: who did what to an object, in which capacity, and when.

Each service names its own capacities and action codes as enums (Chorus Pro's codes); the entry is
the same everywhere, and a service stores it in its `<object>_history` table as `as_row()` says.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, kw_only=True)
class HistoryEntry:
    action: str  # the action code (`DEPOT`, `VALIDATION`, ...)
    from_status: str | None  # None for the creation
    to_status: str
    actor: str  # the user (token `sub`), or the external system's event source
    actor_structure_id: str | None  # the structure the actor acted for
    capacity: str  # the capacity it acted in (`FOURNISSEUR`, `MOE`, `VALIDEUR_DELEGUE`, ...)
    at: datetime
    reason: str | None = None

    def as_row(self) -> dict[str, Any]:
        """The entry as the columns of a history table."""
        return asdict(self)
