"""Which e-mails an event calls for, behind which flag: pure rules, no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chorus_common.events import (
    DeadlineExceeded,
    DelegationRouted,
    EngagementValidated,
    EventData,
    EventType,
    TicketEvent,
)

MESSAGE_ID_NAMESPACE = uuid.UUID("8f4d0c9e-7a55-4c52-9a4e-3c1b6f0e2d71")


class DecisionStatus(StrEnum):
    SENT = "SENT"
    SUPPRESSED = "SUPPRESSED"
    FAILED = "FAILED"


class Flag(StrEnum):
    DEADLINE_EXCEEDED = "notify-deadline-exceeded"
    DELEGATION_ROUTED = "notify-delegation-routed"
    ENGAGEMENT_VALIDATED = "notify-engagement-validated"
    TICKET_UPDATES = "notify-ticket-updates"


@dataclass(frozen=True)
class PlannedMail:
    """One e-mail to one recipient, in the order it must be sent."""

    role: str
    to_email: str
    to_name: str
    template: str
    context: dict[str, Any]


@dataclass(frozen=True)
class NotificationPlan:
    flag: Flag
    flag_attributes: dict[str, str | int | bool]
    mails: list[PlannedMail] = field(default_factory=list)
    refused: str | None = None  # why none of the mails may be sent, whatever the flag says


def follow_link_refusal(follow_url: str | None, portal_url: str) -> str | None:
    """Why a ticket mail's follow link may not be sent: it must lead to the support portal."""
    if follow_url is None:
        return None
    base = portal_url.rstrip("/") + "/"
    if not follow_url.startswith(base) or any(c.isspace() for c in follow_url):
        return f"follow link outside the support portal ({portal_url})"
    return None


def plan_notifications(event_type: str, source: str, data: EventData, portal_url: str) -> NotificationPlan:
    """The flag that gates `data` and the e-mails it calls for, MOA before supplier and so on."""
    attributes: dict[str, str | int | bool] = {"event_type": event_type, "source": source}
    if isinstance(data, DeadlineExceeded):
        attributes.update(structure_id=data.moa.structure_id, supplier_id=data.supplier.structure_id)
        context = {"event": data}
        return NotificationPlan(
            Flag.DEADLINE_EXCEEDED,
            attributes,
            [
                PlannedMail("MOA", data.moa.email, data.moa.name, "deadline_exceeded_moa", context),
                PlannedMail(
                    "SUPPLIER", data.supplier.email, data.supplier.name, "deadline_exceeded_supplier", context
                ),
            ],
        )
    if isinstance(data, DelegationRouted):
        attributes.update(structure_id=data.recipient.structure_id, right=data.right)
        return NotificationPlan(
            Flag.DELEGATION_ROUTED,
            attributes,
            [
                PlannedMail(
                    "DELEGATE", data.delegate.email, data.delegate.name, "delegation_routed", {"event": data}
                )
            ],
        )
    if isinstance(data, EngagementValidated):
        attributes.update(
            structure_id=data.issuer.structure_id,
            structure_kind=data.issuer.kind,
            supplier_id=data.supplier.structure_id,
        )
        return NotificationPlan(
            Flag.ENGAGEMENT_VALIDATED,
            attributes,
            [
                PlannedMail(
                    "SUPPLIER",
                    data.supplier.email,
                    data.supplier.name,
                    "engagement_validated",
                    {"event": data},
                )
            ],
        )
    if isinstance(data, TicketEvent):
        attributes.update(category=data.category, status=data.status)
        template = "ticket_submitted" if event_type == EventType.TICKET_SUBMITTED else "ticket_updated"
        return NotificationPlan(
            Flag.TICKET_UPDATES,
            attributes,
            [PlannedMail("REQUESTER", data.requester_email, "", template, {"event": data})],
            refused=follow_link_refusal(data.follow_url, portal_url),
        )
    raise ValueError(f"notifications has no rule for {type(data).__name__}")


def message_id(event_id: str, role: str, domain: str) -> str:
    """A Message-ID that is the same for every attempt at the same (event, recipient role)."""
    return f"<{uuid.uuid5(MESSAGE_ID_NAMESPACE, f'{event_id}/{role}').hex}@{domain}>"


@dataclass(frozen=True)
class DecisionFilter:
    """What a list of recorded decisions is filtered on (each criterion when given)."""

    event_id: str | None = None
    event_type: str | None = None
    status: str | None = None
    recipient_email: str | None = None
