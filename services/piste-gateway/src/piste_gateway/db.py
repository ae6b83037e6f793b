"""Tables of the piste-gateway service: its read models (the directory's structures, services, users
and technical accounts), the client applications it issues tokens to, and the integer ids Chorus Pro's
API speaks beside the platform's own keys."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from chorus_common.replica import replica_tables
from chorus_common.runtime import messaging_tables

metadata = sa.MetaData()
outbox, inbox = messaging_tables(metadata)
# What this service knows of the directory, fed by its snapshot events (chorus_common.replica).
replica = replica_tables(metadata)

TIMESTAMP = sa.DateTime(timezone=True)

# The technical accounts of the directory (`technical-account-updated`): the login a caller names in
# `cpro-account`, the structure it acts for, and the hash its password is checked against.
technical_accounts = sa.Table(
    "technical_accounts",
    metadata,
    sa.Column("login", sa.String(100), primary_key=True),
    sa.Column("structure_id", sa.String(100), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
)

# The applications registered to call the API (PISTE's client_id / client_secret), each connected to
# one structure: its calls act only through that structure's technical accounts.
clients = sa.Table(
    "clients",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),  # SHA-256 of a 256-bit random secret
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("structure_id", sa.String(100), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", TIMESTAMP, nullable=False),
)

# Chorus Pro's API names objects by integers (idService, identifiantFactureCPP, ...): each key of the
# platform gets one here the first time the gateway shows it, and keeps it.
numbers = sa.Table(
    "numbers",
    metadata,
    sa.Column("number", sa.BigInteger, sa.Identity(start=1), primary_key=True),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("key", sa.String(300), nullable=False),
    sa.UniqueConstraint("kind", "key", name="uq_numbers_kind_key"),
)

# The flows deposited (deposer/flux): the file as it came, where its reading stands (Chorus Pro's flow
# states), and the invoice it carries once read. `number` is numeroFluxDepot's integer.
flows = sa.Table(
    "flows",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("number", sa.BigInteger, sa.Identity(start=1), nullable=False, unique=True),
    sa.Column("structure_id", sa.String(100), nullable=False),  # the depositing technical account's
    sa.Column("login", sa.String(100), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("file_name", sa.String(200), nullable=False),
    sa.Column("syntax", sa.String(60), nullable=False),
    sa.Column("signed", sa.Boolean, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=True),  # None when it was not base64
    sa.Column("status", sa.String(40), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("deposited_at", TIMESTAMP, nullable=False),
    sa.Column("status_at", TIMESTAMP, nullable=False),
    # listeErreurDP: the invoices refused, each with its reasons; listeErreurTechnique.
    sa.Column("invoice_errors", JSONB, nullable=False, server_default="[]"),
    sa.Column("technical_errors", JSONB, nullable=False, server_default="[]"),
    sa.Column("invoice_number", sa.String(200), nullable=True),
    sa.Column("supplier_id", sa.String(100), nullable=True),
    sa.Column("recipient_id", sa.String(100), nullable=True),
    sa.Column("invoice_id", UUID(as_uuid=True), nullable=True),  # received-invoices' once integrated
    sa.Index(
        "ix_flows_waiting",
        "number",
        postgresql_where=sa.text("status IN ('IN_RECU', 'IN_EN_ATTENTE_TRAITEMENT_CPP')"),
    ),
    sa.Index("ix_flows_supplier_invoice", "supplier_id", "invoice_number"),
)

# The received invoices as their status events describe them (`invoice-status-changed`), for the
# searches and consultations of factures/v1: `version` is the event's sequence, a row keeps the latest.
invoices = sa.Table(
    "invoices",
    metadata,
    sa.Column("invoice_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("cpp_id", sa.BigInteger, nullable=False, unique=True),  # identifiantFactureCPP (numbers)
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("number", sa.String(200), nullable=False),
    sa.Column("billing_frame", sa.String(10), nullable=False),
    sa.Column("status", sa.String(40), nullable=False),
    sa.Column("status_at", TIMESTAMP, nullable=False),
    sa.Column("motif", sa.Text, nullable=True),
    sa.Column("external_id", sa.String(200), nullable=False),
    sa.Column("supplier_id", sa.String(100), nullable=False),
    sa.Column("recipient_id", sa.String(100), nullable=False),
    sa.Column("service_code", sa.String(100), nullable=True),
    sa.Column("delegate_id", sa.String(100), nullable=True),
    sa.Column("amount_ht", sa.Numeric(18, 2), nullable=True),
    sa.Column("vat_amount", sa.Numeric(18, 2), nullable=True),
    sa.Column("amount_ttc", sa.Numeric(18, 2), nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("issue_date", sa.Date, nullable=True),
    sa.Column("engagement_number", sa.String(50), nullable=True),
    sa.Column("deposited_at", TIMESTAMP, nullable=True),  # the deposit's instant, once its event is seen
    sa.Index("ix_invoices_supplier", "supplier_id", "status_at"),
    sa.Index("ix_invoices_recipient", "recipient_id", "status_at"),
    sa.Index("ix_invoices_delegate", "delegate_id", "status_at"),
)

# Each transition of those invoices (consulter/historique), once.
invoice_history = sa.Table(
    "invoice_history",
    metadata,
    sa.Column("invoice_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("sequence", sa.Integer, primary_key=True),
    sa.Column("from_status", sa.String(40), nullable=True),
    sa.Column("to_status", sa.String(40), nullable=False),
    sa.Column("step", sa.String(40), nullable=False),
    sa.Column("capacity", sa.String(40), nullable=False),
    sa.Column("actor_structure_id", sa.String(100), nullable=True),
    sa.Column("motif", sa.Text, nullable=True),
    sa.Column("at", TIMESTAMP, nullable=False),
)

# The works invoices as their status events describe them (`works-invoice-status-changed`), for
# facturesTravaux/v1's searches and traiterRejet; their integers share the received invoices' space.
works_invoices = sa.Table(
    "works_invoices",
    metadata,
    sa.Column("works_invoice_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("cpp_id", sa.BigInteger, nullable=False, unique=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("number", sa.String(200), nullable=False),
    sa.Column("billing_frame", sa.String(10), nullable=False),
    sa.Column("status", sa.String(40), nullable=False),
    sa.Column("status_at", TIMESTAMP, nullable=False),
    sa.Column("motif", sa.Text, nullable=True),
    sa.Column("supplier_id", sa.String(100), nullable=False),
    sa.Column("moe_id", sa.String(100), nullable=True),
    sa.Column("moa_id", sa.String(100), nullable=True),
    sa.Column("amount_ht", sa.Numeric(18, 2), nullable=True),
    sa.Column("vat_amount", sa.Numeric(18, 2), nullable=True),
    sa.Column("amount_ttc", sa.Numeric(18, 2), nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("deposited_at", TIMESTAMP, nullable=True),
    sa.Index("ix_works_invoices_supplier", "supplier_id", "status_at"),
    sa.Index("ix_works_invoices_moe", "moe_id", "status_at"),
    sa.Index("ix_works_invoices_moa", "moa_id", "status_at"),
)

# The legal commitments as their status events describe them (`engagement-status-changed`), for
# engagementsJuridiques/v1's search: seen by their issuer, and by their supplier once validated.
engagements = sa.Table(
    "engagements",
    metadata,
    sa.Column("engagement_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("cpp_id", sa.BigInteger, nullable=False, unique=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("number", sa.String(50), nullable=False),
    sa.Column("type", sa.String(30), nullable=False),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("status_at", TIMESTAMP, nullable=False),
    sa.Column("issuer_id", sa.String(100), nullable=False),
    sa.Column("supplier_id", sa.String(100), nullable=False),
    sa.Column("amount_ht", sa.Numeric(18, 2), nullable=True),
    sa.Column("vat_amount", sa.Numeric(18, 2), nullable=True),
    sa.Column("amount_ttc", sa.Numeric(18, 2), nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("created_at", TIMESTAMP, nullable=True),  # its creation's instant, once its event is seen
    sa.Index("ix_engagements_issuer", "issuer_id", "number"),
    sa.Index("ix_engagements_supplier", "supplier_id", "number"),
)
