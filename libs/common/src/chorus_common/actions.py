"""Why a state-changing action is refused, the same way in every service (DESIGN.md §7).

Domain modules raise `ActionRefused` with a `Refusal`; the HTTP layer turns it into the problem:
403 when the caller may not take the action, 409 when the resource's status (or another resource)
does not allow it, 422 when the request lacks what the action needs (a reason, say) or breaks a rule.
"""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    FORBIDDEN = "FORBIDDEN"
    NOT_NOW = "NOT_NOW"
    INCOMPLETE = "INCOMPLETE"
    CONFLICT = "CONFLICT"
    INVALID = "INVALID"


REFUSAL_STATUS = {
    Refusal.FORBIDDEN: 403,
    Refusal.NOT_NOW: 409,
    Refusal.INCOMPLETE: 422,
    Refusal.CONFLICT: 409,
    Refusal.INVALID: 422,
}
REFUSAL_SLUG = {
    Refusal.FORBIDDEN: "action-forbidden",
    Refusal.NOT_NOW: "action-not-allowed",
    Refusal.INCOMPLETE: "action-incomplete",
    Refusal.CONFLICT: "conflict",
    Refusal.INVALID: "action-invalid",
}
REFUSAL_TITLE = {
    Refusal.FORBIDDEN: "Action not permitted to the caller",
    Refusal.NOT_NOW: "Action not allowed in the current status",
    Refusal.INCOMPLETE: "Action incomplete",
    Refusal.CONFLICT: "Conflict",
    Refusal.INVALID: "Action invalid",
}


class ActionRefused(Exception):
    """An action that cannot be taken; `slug` (and `title`) name a more specific problem when useful,
    and `extensions` are members of the problem body (the statuses allowed instead, the field missing)."""

    def __init__(
        self,
        message: str,
        refusal: Refusal,
        slug: str | None = None,
        title: str | None = None,
        **extensions: object,
    ) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.slug = slug or REFUSAL_SLUG[refusal]
        self.title = title or REFUSAL_TITLE[refusal]
        self.extensions = extensions
