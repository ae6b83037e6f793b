"""Every integration event type of the platform and the shape of its `data` (DESIGN.md §4)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Base64Bytes, BaseModel, ConfigDict, Field, ValidationError, create_model

from chorus_common.events.envelope import CloudEvent
from chorus_common.frames import FrameCode, long_code
from chorus_common.history import HistoryEntry
from chorus_common.text import control_character

Money = Annotated[Decimal, Field(max_digits=18, decimal_places=2, allow_inf_nan=False)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)]
NonEmpty = Annotated[str, Field(min_length=1, max_length=200)]


class EventType(StrEnum):
    DEADLINE_EXCEEDED = "deadline-exceeded"
    DELEGATION_ENDED = "delegation-ended"
    DELEGATION_ROUTED = "delegation-routed"
    DELEGATION_UPDATED = "delegation-updated"
    ENGAGEMENT_STATUS_CHANGED = "engagement-status-changed"
    ENGAGEMENT_VALIDATED = "engagement-validated"
    INVOICE_REFUSED = "invoice-refused"
    INVOICE_STATUS_CHANGED = "invoice-status-changed"
    INVOICE_SUBMITTED = "invoice-submitted"
    SERVICE_UPDATED = "service-updated"
    STRUCTURE_REGISTERED = "structure-registered"
    STRUCTURE_UPDATED = "structure-updated"
    TECHNICAL_ACCOUNT_UPDATED = "technical-account-updated"
    TICKET_SUBMITTED = "ticket-submitted"
    TICKET_UPDATED = "ticket-updated"
    USER_ATTACHED = "user-attached"
    USER_DETACHED = "user-detached"
    USER_UPDATED = "user-updated"
    WORKS_INVOICE_STATUS_CHANGED = "works-invoice-status-changed"


class EventData(BaseModel):
    # Consumers ignore unknown fields so that additive changes stay v1.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Party(EventData):
    structure_id: NonEmpty
    name: NonEmpty
    # The structure's contact address when the directory has one; a party named by its directory
    # identifier may have none.
    email: Email | None = None
    service_code: Annotated[str | None, Field(max_length=100)] = None


class IssuerParty(Party):
    kind: Literal["ETAT", "COLLECTIVITE", "HOSPITALIER", "AUTRE"]


class DeadlineExceeded(EventData):
    works_invoice_id: NonEmpty
    number: NonEmpty
    billing_frame: Literal["A4"]
    billing_frame_code: Literal["A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR"] = (
        "A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR"
    )
    supplier: Party
    moe: Party
    moa: Party
    made_available_at: AwareDatetime
    deadline: date
    days_overdue: int = Field(ge=1)
    notice_date: date


class DelegationRouted(EventData):
    invoice_id: NonEmpty
    number: NonEmpty
    billing_frame: Literal["A1"]
    billing_frame_code: Literal["A1_FACTURE_FOURNISSEUR"] = "A1_FACTURE_FOURNISSEUR"
    supplier: Party
    recipient: Party
    delegate: Party
    right: Literal["VALIDATION", "TRAITEMENT"]
    delegation_id: NonEmpty
    amount_ttc: Money
    currency: Currency
    routed_at: AwareDatetime


class DelegationEnded(EventData):
    """A delegation that ended, revoked by its delegator or past its end date: the invoices still
    waiting at the delegate went back to the delegator, and the delegate may no longer act on any."""

    delegation_id: NonEmpty
    delegator: Party
    delegate: Party
    right: Literal["VALIDATION", "TRAITEMENT"]
    reason: Literal["REVOCATION", "ECHEANCE"]  # revoked, or its end date passed
    end_date: date | None = None
    invoices_returned: int = Field(ge=0)
    ended_at: AwareDatetime


class StatusChanged(EventData):
    """One transition of an invoice, for integrators: one event per change of status, `sequence`
    growing along each invoice's transitions (an integrator orders and deduplicates on it)."""

    invoice_id: NonEmpty
    number: NonEmpty
    billing_frame: NonEmpty  # the short form, e.g. A1
    billing_frame_code: NonEmpty  # Chorus Pro's codeCadreFacturation, e.g. A1_FACTURE_FOURNISSEUR
    from_status: str | None = None  # None for the deposit
    to_status: NonEmpty
    step: NonEmpty  # the history's action code (DEPOT, TRAITEMENT, TRANSMISSION, ...)
    capacity: NonEmpty  # FOURNISSEUR, DESTINATAIRE, VALIDEUR_DELEGUE, ...
    actor_structure_id: str | None = None
    motif: str | None = None
    sequence: int = Field(ge=1)
    changed_at: AwareDatetime


def transition(invoice: Mapping[Any, Any], entry: HistoryEntry, sequence: int) -> dict[str, Any]:
    """The fields of a `StatusChanged` event every invoice gives the same way: the invoice's id,
    number and frame (both forms), its amounts, and the history entry of the transition, at `sequence`."""
    return {
        **{name: invoice[name] for name in ("amount_ht", "vat_amount", "amount_ttc", "currency")},
        "invoice_id": str(invoice["id"]),
        "number": invoice["number"],
        "billing_frame": invoice["billing_frame"],
        "billing_frame_code": long_code(invoice["billing_frame"]),
        "from_status": entry.from_status,
        "to_status": entry.to_status,
        "step": entry.action,
        "capacity": entry.capacity,
        "actor_structure_id": entry.actor_structure_id,
        "sequence": sequence,
        "changed_at": entry.at,
    }


class Amounts(EventData):
    """What an invoice (or an engagement) amounts to, on each of its status events, so that an
    integrator's read model (the PISTE gateway's searches) needs no other source; absent from events
    published before they were added."""

    amount_ht: Money | None = None
    vat_amount: Money | None = None
    amount_ttc: Money | None = None
    currency: Currency | None = None


class InvoiceStatusChanged(StatusChanged, Amounts):
    external_id: NonEmpty
    supplier_structure_id: NonEmpty
    recipient_structure_id: NonEmpty
    recipient_service_code: str | None = None
    delegate_structure_id: str | None = None
    issue_date: date | None = None
    engagement_number: Annotated[str | None, Field(max_length=50)] = None


class WorksInvoiceStatusChanged(StatusChanged, Amounts):
    supplier_structure_id: NonEmpty
    moe_structure_id: str | None = None
    moa_structure_id: str | None = None
    acting_for: str | None = None  # MOE: the MOA acting in its place after the deadline


class EngagementValidated(EventData):
    number: Annotated[str, Field(min_length=1, max_length=50)]
    issuer: IssuerParty
    supplier: Party
    total_ht: Money
    total_ttc: Money
    currency: Currency
    validated_at: AwareDatetime
    engagement_id: str | None = None


class EngagementStatusChanged(Amounts):
    """One transition of a legal commitment (its creation as a draft, its validation, its taking into
    account, refusal or inactivation), for the read models that answer who may invoice against it (the
    PISTE gateway's engagementsJuridiques search). `sequence` grows along each engagement's transitions."""

    engagement_id: NonEmpty
    number: Annotated[str, Field(min_length=1, max_length=50)]
    type: NonEmpty  # BON_DE_COMMANDE, BAIL, SUBVENTION, ORDRE_DE_SERVICE, AUTRE
    issuer_structure_id: NonEmpty
    supplier_structure_id: NonEmpty
    from_status: str | None = None  # None for its creation (or its record from another system)
    to_status: NonEmpty  # BROUILLON, COMMANDE, PRISE_EN_COMPTE, REFUSEE, INACTIF
    step: NonEmpty  # CREATION, VALIDATION, PRISE_EN_COMPTE, REFUS, INACTIVATION
    motif: str | None = None
    sequence: int = Field(ge=1)
    changed_at: AwareDatetime


class MainDocument(EventData):
    """The file an invoice came as (a Factur-X PDF, a CII or UBL XML), kept as its main document."""

    filename: Annotated[str, Field(min_length=1, max_length=255)]
    content: Base64Bytes  # base64 in the event, at most the receiving service's attachment limit


class InvoiceSubmitted(EventData):
    external_id: NonEmpty
    number: NonEmpty
    billing_frame: FrameCode  # either form (A1, A1_FACTURE_FOURNISSEUR); the short one kept
    supplier: Party
    recipient: Party
    amount_ht: Money
    vat_amount: Money
    amount_ttc: Money
    currency: Currency
    issue_date: date
    # The legal engagement (numéro d'engagement juridique) the invoice references, if any.
    engagement_number: Annotated[str | None, Field(min_length=1, max_length=50)] = None
    main_document: MainDocument | None = None


class InvoiceRefused(EventData):
    """An `invoice-submitted` event whose invoice received-invoices refused (an unknown party, a closed
    service, a missing engagement, ...): well formed, so not dead-lettered, but answered, so that the
    channel that submitted it tells its sender (the PISTE gateway's flows turn `IN_REJETE`)."""

    external_id: NonEmpty
    number: NonEmpty
    supplier_structure_id: NonEmpty
    submitted_by: NonEmpty  # the submitting event's source, e.g. /piste-gateway
    reason: Annotated[str, Field(min_length=1, max_length=1000)]
    refused_at: AwareDatetime


class TicketRecipient(EventData):
    # STRUCTURE: the structure of the directory the ticket concerns, handled by its managers.
    kind: Literal["SUPPORT", "SERVICE", "STRUCTURE"]
    name: NonEmpty
    structure_id: str | None = None
    service_code: str | None = None


class TicketEvent(EventData):
    ticket_id: NonEmpty
    reference: NonEmpty
    category: NonEmpty
    # The category's label in the portal's referential (what the requester chose), for mails.
    category_label: Annotated[str | None, Field(max_length=200)] = None
    status: NonEmpty
    requester_email: Email
    recipient: TicketRecipient
    follow_url: str | None = None
    message: str | None = None


class TicketSubmitted(TicketEvent):
    pass


class TicketUpdated(TicketEvent):
    pass


class Snapshot(EventData):
    """The whole state of one directory object after a change. `version` grows by one with each
    change of that object: a read model keeps the highest it has seen and ignores older ones."""

    version: int = Field(ge=1)
    updated_at: AwareDatetime


class StructureParameters(EventData):
    service_code_required: bool
    engagement_required: bool
    engagement_or_service_required: bool
    moa_only: bool


class StructureSnapshot(Snapshot):
    structure_id: NonEmpty  # the identifier, e.g. a SIRET
    cpp_id: int = Field(ge=1)  # Chorus Pro's idStructureCPP
    identifier_type: Literal["SIRET", "UE_HORS_FRANCE", "HORS_UE", "RIDET", "TAHITI", "AUTRE", "PARTICULIER"]
    name: NonEmpty
    kind: Literal["PUBLIQUE", "PRIVEE"]
    public_category: Literal["ETAT", "COLLECTIVITE", "HOSPITALIER", "AUTRE"] | None = None
    email: Email | None = None
    vat_number: Annotated[str | None, Field(max_length=20)] = None
    active: bool
    parameters: StructureParameters


class ServiceSnapshot(Snapshot):
    structure_id: NonEmpty
    code: Annotated[str, Field(min_length=1, max_length=100)]
    name: NonEmpty
    active: bool
    valid_from: date | None = None
    valid_to: date | None = None
    engagement_required: bool


class TechnicalAccountSnapshot(Snapshot):
    """A technical account of a structure (the login a system calls Chorus Pro's API with), whole, after
    it was created (version 1) or deactivated (version 2). The password is only ever its salted scrypt
    hash (`scrypt$N$r$p$salt$digest`), against which the PISTE gateway checks a caller's."""

    login: Annotated[str, Field(min_length=1, max_length=100)]
    structure_id: NonEmpty
    password_hash: Annotated[str, Field(min_length=1, max_length=200)]
    active: bool


class UserAttachment(EventData):
    structure_id: NonEmpty
    service_code: Annotated[str | None, Field(max_length=100)] = None
    role: Literal["GESTIONNAIRE_PRINCIPAL", "GESTIONNAIRE", "UTILISATEUR"]
    notifications: bool


class UserSnapshot(Snapshot):
    """A user and every attachment it has now (none once detached from everything)."""

    sub: NonEmpty
    email: Email
    name: NonEmpty
    attachments: list[UserAttachment]


class DelegationSnapshot(Snapshot):
    """A delegation of the validation of received invoices, whole, after it was made or revoked (version
    1, then 2): the directory derives `estValideurDelegue` from the active ones."""

    delegation_id: NonEmpty
    delegator_structure_id: NonEmpty
    delegate_structure_id: NonEmpty
    right: Literal["VALIDATION", "TRAITEMENT"]
    scope: Literal["STRUCTURE", "SERVICES"]
    service_codes: list[Annotated[str, Field(max_length=100)]]
    start_date: date
    end_date: date | None = None
    status: Literal["ACTIVE", "REVOKED"]


CATALOGUE: dict[str, type[EventData]] = {
    EventType.DEADLINE_EXCEEDED: DeadlineExceeded,
    EventType.DELEGATION_ENDED: DelegationEnded,
    EventType.DELEGATION_ROUTED: DelegationRouted,
    EventType.DELEGATION_UPDATED: DelegationSnapshot,
    EventType.ENGAGEMENT_STATUS_CHANGED: EngagementStatusChanged,
    EventType.ENGAGEMENT_VALIDATED: EngagementValidated,
    EventType.INVOICE_REFUSED: InvoiceRefused,
    EventType.INVOICE_STATUS_CHANGED: InvoiceStatusChanged,
    EventType.INVOICE_SUBMITTED: InvoiceSubmitted,
    EventType.SERVICE_UPDATED: ServiceSnapshot,
    EventType.STRUCTURE_REGISTERED: StructureSnapshot,
    EventType.STRUCTURE_UPDATED: StructureSnapshot,
    EventType.TECHNICAL_ACCOUNT_UPDATED: TechnicalAccountSnapshot,
    EventType.TICKET_SUBMITTED: TicketSubmitted,
    EventType.TICKET_UPDATED: TicketUpdated,
    EventType.USER_ATTACHED: UserSnapshot,
    EventType.USER_DETACHED: UserSnapshot,
    EventType.USER_UPDATED: UserSnapshot,
    EventType.WORKS_INVOICE_STATUS_CHANGED: WorksInvoiceStatusChanged,
}


# Who may publish each event type: a producer is the RabbitMQ user it connects as, which RabbitMQ checks
# against the AMQP `user_id` property of every message it publishes. A consumer dead-letters a message
# from any other producer ("unauthorized producer"), whatever the broker's permissions let through.
# Services are named after themselves; `erp-etat` (the State's ERP) and `edi-depot` (the EDI deposit
# channel) are external systems.
EXTERNAL_PRODUCERS = ("edi-depot", "erp-etat")
DIRECTORY_EVENTS = (
    EventType.SERVICE_UPDATED,
    EventType.STRUCTURE_REGISTERED,
    EventType.STRUCTURE_UPDATED,
    EventType.TECHNICAL_ACCOUNT_UPDATED,
    EventType.USER_ATTACHED,
    EventType.USER_DETACHED,
    EventType.USER_UPDATED,
)
PRODUCERS: dict[str, frozenset[str]] = {
    EventType.DEADLINE_EXCEEDED: frozenset({"invoicing-works"}),
    EventType.DELEGATION_ENDED: frozenset({"received-invoices"}),
    EventType.DELEGATION_ROUTED: frozenset({"received-invoices"}),
    EventType.DELEGATION_UPDATED: frozenset({"received-invoices"}),
    EventType.INVOICE_REFUSED: frozenset({"received-invoices"}),
    EventType.INVOICE_STATUS_CHANGED: frozenset({"received-invoices"}),
    EventType.ENGAGEMENT_STATUS_CHANGED: frozenset({"engagements"}),
    EventType.ENGAGEMENT_VALIDATED: frozenset({"engagements", "erp-etat"}),
    EventType.INVOICE_SUBMITTED: frozenset({"received-invoices", "edi-depot", "piste-gateway"}),
    EventType.WORKS_INVOICE_STATUS_CHANGED: frozenset({"invoicing-works"}),
    EventType.TICKET_SUBMITTED: frozenset({"support-portal"}),
    EventType.TICKET_UPDATED: frozenset({"support-portal"}),
    **{event_type: frozenset({"directory"}) for event_type in DIRECTORY_EVENTS},
}


def may_publish(producer: str | None, event_type: str) -> bool:
    """Whether `producer` (a message's AMQP user_id) may publish events of `event_type`."""
    return producer is not None and producer in PRODUCERS.get(event_type, frozenset())


def published_by(producer: str) -> list[str]:
    """The event types `producer` may publish, sorted."""
    return sorted(str(event_type) for event_type, producers in PRODUCERS.items() if producer in producers)


class InvalidEvent(Exception):
    """A message that is not a valid event of the catalogue; the reason says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _summarise(error: ValidationError, prefix: str) -> str:
    parts = []
    for item in error.errors()[:5]:
        location = ".".join(str(p) for p in item.get("loc", ()))
        parts.append(f"{prefix}{location}: {item.get('msg')}")
    return "; ".join(parts)


def parse_event(body: bytes) -> tuple[CloudEvent, EventData]:
    """Parse a structured-mode CloudEvent and validate its `data` against the catalogue."""
    try:
        envelope = CloudEvent.model_validate_json(body)
    except ValidationError as exc:
        if any(e["type"] in ("json_invalid", "json_type") for e in exc.errors()):
            raise InvalidEvent("not valid JSON") from exc
        raise InvalidEvent("not a CloudEvent: " + _summarise(exc, "")) from exc
    model = CATALOGUE.get(envelope.type)
    if model is None:
        raise InvalidEvent(f"unknown event type: {envelope.type!r}")
    hit = control_character(envelope.data, "data")
    if hit is not None:
        raise InvalidEvent(f"invalid data: {hit[0]}: control character {hit[1]} not allowed")
    try:
        data = model.model_validate(envelope.data)
    except ValidationError as exc:
        raise InvalidEvent("invalid data: " + _summarise(exc, "data.")) from exc
    return envelope, data


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each event type's `data`, keyed by type."""
    return {name: model.model_json_schema() for name, model in CATALOGUE.items()}


def envelope_schema() -> dict[str, Any]:
    return CloudEvent.model_json_schema()


@cache
def typed_envelope(event_type: str) -> type[CloudEvent]:
    """The envelope of one event type, with `type` fixed and `data` typed (for API documents)."""
    data_model = CATALOGUE[event_type]
    name = "".join(part.capitalize() for part in event_type.replace(".", "-").split("-")) + "Event"
    model: type[CloudEvent] = create_model(
        name,
        __base__=CloudEvent,
        type=(Literal[event_type], ...),  # type: ignore[arg-type]
        data=(data_model, ...),
    )
    return model
