"""Which e-mails an event calls for, behind which flag, and to whom in the directory: pure rules, no I/O."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chorus_common.events import (
    DeadlineExceeded,
    DelegationEnded,
    DelegationRouted,
    EngagementValidated,
    EventData,
    EventType,
    Party,
    TicketEvent,
)

MESSAGE_ID_NAMESPACE = uuid.UUID("8f4d0c9e-7a55-4c52-9a4e-3c1b6f0e2d71")


class DecisionStatus(StrEnum):
    PENDING = "PENDING"  # to send: recorded before it leaves, due again after a temporary failure
    SENT = "SENT"
    SUPPRESSED = "SUPPRESSED"
    FAILED = "FAILED"


class Flag(StrEnum):
    DEADLINE_EXCEEDED = "notify-deadline-exceeded"
    DELEGATION_ENDED = "notify-delegation-ended"
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
class Addressing:
    """The mail an event calls for in one role, and to whom: the users the directory has for a
    structure (and service), or one address the event carries (a ticket's requester)."""

    role: str
    template: str
    context: dict[str, Any]
    party: Party | None = None
    email: str | None = None

    def to_address(self) -> PlannedMail:
        assert self.email is not None
        return PlannedMail(self.role, self.email, "", self.template, self.context)

    def to(self, recipient: Recipient) -> PlannedMail:
        return PlannedMail(self.role, recipient.email, recipient.name, self.template, self.context)


@dataclass(frozen=True)
class NotificationPlan:
    flag: Flag
    flag_attributes: dict[str, str | int | bool]
    mails: list[Addressing] = field(default_factory=list)
    refused: str | None = None  # why none of the mails may be sent, whatever the flag says


PRINCIPAL_MANAGER = "GESTIONNAIRE_PRINCIPAL"


@dataclass(frozen=True)
class Attachment:
    """A user attached to a structure (or one of its services), as the read model of the directory
    has it."""

    sub: str
    email: str
    name: str
    service_code: str | None
    role: str
    notifications: bool


@dataclass(frozen=True)
class Recipient:
    sub: str
    email: str
    name: str


def recipients(attachments: Iterable[Attachment], service_code: str | None) -> list[Recipient]:
    """Who is mailed about a structure (and service): its principal manager, whose "Notification
    Facturation" cannot be turned off, and every user with it on who is attached to the structure
    itself, or to the service named (any of its services when none is). One mail per user, in the
    order of their subs."""
    chosen: dict[str, Recipient] = {}
    for a in attachments:
        concerned = a.service_code is None or service_code is None or a.service_code == service_code
        if a.role == PRINCIPAL_MANAGER or (a.notifications and concerned):
            chosen.setdefault(a.sub, Recipient(a.sub, a.email, a.name))
    return [chosen[sub] for sub in sorted(chosen)]


def nobody_reason(party: Party) -> str:
    where = f"service {party.service_code} of " if party.service_code else ""
    return (
        f"no recipient in the directory for {where}structure {party.structure_id}: no user with "
        "notifications on, and no principal manager"
    )


def unknown_reason(structure_id: str, waited_seconds: float) -> str:
    return f"structure {structure_id} unknown to the directory after waiting {waited_seconds:.0f} s"


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
                Addressing("MOA", "deadline_exceeded_moa", context, party=data.moa),
                Addressing("SUPPLIER", "deadline_exceeded_supplier", context, party=data.supplier),
            ],
        )
    if isinstance(data, DelegationRouted):
        attributes.update(structure_id=data.recipient.structure_id, right=data.right)
        return NotificationPlan(
            Flag.DELEGATION_ROUTED,
            attributes,
            [Addressing("DELEGATE", "delegation_routed", {"event": data}, party=data.delegate)],
        )
    if isinstance(data, DelegationEnded):
        attributes.update(structure_id=data.delegator.structure_id, reason=data.reason)
        return NotificationPlan(
            Flag.DELEGATION_ENDED,
            attributes,
            [Addressing("DELEGATE", "delegation_ended", {"event": data}, party=data.delegate)],
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
            [Addressing("SUPPLIER", "engagement_validated", {"event": data}, party=data.supplier)],
        )
    if isinstance(data, TicketEvent):
        attributes.update(category=data.category, status=data.status)
        template = "ticket_submitted" if event_type == EventType.TICKET_SUBMITTED else "ticket_updated"
        return NotificationPlan(
            Flag.TICKET_UPDATES,
            attributes,
            # A ticket's requester may be signed out, and so unknown to the directory: its address.
            [Addressing("REQUESTER", template, {"event": data}, email=data.requester_email)],
            refused=follow_link_refusal(data.follow_url, portal_url),
        )
    raise ValueError(f"notifications has no rule for {type(data).__name__}")


def message_id(event_id: str, role: str, email: str, domain: str) -> str:
    """A Message-ID that is the same for every attempt at the same (event, recipient role, recipient)."""
    return f"<{uuid.uuid5(MESSAGE_ID_NAMESPACE, f'{event_id}/{role}/{email}').hex}@{domain}>"


@dataclass(frozen=True)
class DecisionFilter:
    """What a list of recorded decisions is filtered on (each criterion when given)."""

    event_id: str | None = None
    event_type: str | None = None
    status: str | None = None
    recipient_email: str | None = None
