"""Tables of the received-invoices service."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from chorus_common.attachments import Attachments, attachment_tables
from chorus_common.replica import replica_tables
from chorus_common.runtime import messaging_tables

metadata = sa.MetaData()
outbox, inbox = messaging_tables(metadata)
# What this service knows of the directory, fed by its snapshot events (chorus_common.replica).
replica = replica_tables(metadata)

MONEY = sa.Numeric(18, 2)
TIMESTAMP = sa.DateTime(timezone=True)

delegations = sa.Table(
    "delegations",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    # Structures of the directory (this service's read model checks them when a delegation is made).
    sa.Column("delegator_structure_id", sa.String(100), nullable=False),
    sa.Column("delegate_structure_id", sa.String(100), nullable=False),
    sa.Column("right", sa.String(20), nullable=False),
    sa.Column("scope", sa.String(20), nullable=False),
    sa.Column("service_codes", sa.ARRAY(sa.String(100)), nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("revoked_by", sa.String(200)),
    sa.Column("revoked_at", TIMESTAMP),
    # Grows by one with each change (a modification, the revocation): the snapshot's version.
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    # When the delegation ended (revoked, or past its end date) and its waiting invoices went back to
    # the delegator: set once, by whoever ends it first.
    sa.Column("ended_at", TIMESTAMP),
    sa.Index("ix_delegations_delegator", "delegator_structure_id", "status"),
    sa.Index("ix_delegations_delegate", "delegate_structure_id", "status"),
)

invoices = sa.Table(
    "received_invoices",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("external_id", sa.String(200), nullable=False),
    sa.Column("source", sa.String(500), nullable=False),
    sa.Column("number", sa.String(200), nullable=False),
    sa.Column("billing_frame", sa.String(60), nullable=False),
    sa.Column("supplier_structure_id", sa.String(200), nullable=False),
    sa.Column("recipient_structure_id", sa.String(100), nullable=False),
    sa.Column("recipient_service_code", sa.String(100)),
    sa.Column("supplier", JSONB, nullable=False),
    sa.Column("recipient", JSONB, nullable=False),
    sa.Column("amount_ht", MONEY, nullable=False),
    sa.Column("vat_amount", MONEY, nullable=False),
    sa.Column("amount_ttc", MONEY, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("issue_date", sa.Date, nullable=False),
    sa.Column("status", sa.String(40), nullable=False),
    sa.Column("delegation_id", sa.Uuid),
    sa.Column("delegate_structure_id", sa.String(100)),
    sa.Column("delegation_right", sa.String(20)),
    sa.Column("delegate", JSONB),  # the delegate as the directory named it when the invoice was routed
    sa.Column("validation_decision", sa.String(20)),
    # The recipient holds the invoice; False while it waits at (or is processed by) the delegate.
    sa.Column("with_recipient", sa.Boolean, nullable=False),
    sa.Column("rejection_processed_at", TIMESTAMP),
    # The legal engagement (numéro d'engagement juridique) the invoice references, as validated.
    sa.Column("engagement_number", sa.String(50)),
    sa.Column("engagement", JSONB),
    # The file the invoice came as (a flow's Factur-X, CII or UBL), among its attachments.
    sa.Column("main_attachment_id", sa.Uuid),
    sa.Column("received_at", TIMESTAMP, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
    sa.UniqueConstraint("supplier_structure_id", "external_id", name="uq_received_invoice_external_id"),
    sa.Index("ix_received_invoices_recipient", "recipient_structure_id", "with_recipient"),
    sa.Index("ix_received_invoices_delegate", "delegate_structure_id", "status"),
    sa.Index("ix_received_invoices_supplier", "supplier_structure_id"),
    sa.Index(
        "ix_received_invoices_delegation_waiting",
        "delegation_id",
        postgresql_where=sa.text("NOT with_recipient"),
    ),
)

invoice_history = sa.Table(
    "received_invoice_history",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("invoice_id", sa.Uuid, sa.ForeignKey("received_invoices.id"), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("from_status", sa.String(40)),
    sa.Column("to_status", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("actor_structure_id", sa.String(200)),  # None: the platform's own step
    sa.Column("capacity", sa.String(40), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("dp_mandate_number", sa.String(100)),  # numeroDPMandat, with a MANDATEE
    sa.Column("at", TIMESTAMP, nullable=False),
    sa.Index("ix_received_invoice_history_invoice", "invoice_id", "id"),
)

# The engagements validated by their issuers, fed by `engagement-validated`: what an invoice's
# engagement number is checked against.
engagements = sa.Table(
    "validated_engagements",
    metadata,
    sa.Column("issuer_structure_id", sa.String(100), primary_key=True),
    sa.Column("number", sa.String(50), primary_key=True),
    sa.Column("engagement_id", sa.String(200)),
    sa.Column("supplier_structure_id", sa.String(200), nullable=False),
    sa.Column("total_ttc", MONEY, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("validated_at", TIMESTAMP, nullable=False),
)

# Files attached to invoices (a completion's pieces, say), their bytes in PostgreSQL.
attachments = Attachments.in_postgres(attachment_tables(metadata))
