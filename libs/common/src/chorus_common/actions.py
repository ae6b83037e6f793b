"""Why a state-changing action is refused, the same way in every service (DESIGN.md §7).

Domain modules raise `ActionRefused` with a `Refusal`; the HTTP layer turns it into the problem:
403 when the caller may not take the action, 409 when the resource's status does not allow it,
422 when the request lacks what the action needs (a reason, say).
"""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    FORBIDDEN = "FORBIDDEN"
    NOT_NOW = "NOT_NOW"
    INCOMPLETE = "INCOMPLETE"


REFUSAL_STATUS = {Refusal.FORBIDDEN: 403, Refusal.NOT_NOW: 409, Refusal.INCOMPLETE: 422}
REFUSAL_SLUG = {
    Refusal.FORBIDDEN: "action-forbidden",
    Refusal.NOT_NOW: "action-not-allowed",
    Refusal.INCOMPLETE: "action-incomplete",
}
REFUSAL_TITLE = {
    Refusal.FORBIDDEN: "Action not permitted to the caller",
    Refusal.NOT_NOW: "Action not allowed in the current status",
    Refusal.INCOMPLETE: "Action incomplete",
}


class ActionRefused(Exception):
    """An action that cannot be taken; `slug` names a more specific problem type when useful."""

    def __init__(self, message: str, refusal: Refusal, slug: str | None = None) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.slug = slug or REFUSAL_SLUG[refusal]
