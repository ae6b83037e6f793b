"""What the support portal deletes on its own schedule (the runtime runs the rules, as does the command
`jobs retention`)."""

from __future__ import annotations

from chorus_common.retention import RetentionRule, older_than
from support_portal.db import signed_out_creations
from support_portal.domain import RATE_LIMIT_WINDOW


def retention_rules() -> list[RetentionRule]:
    """Signed-out creations once out of the rate limit's hour."""
    return [
        RetentionRule(
            "signed-out creations (rate limit)",
            signed_out_creations,
            older_than(signed_out_creations.c.at, RATE_LIMIT_WINDOW),
        )
    ]
