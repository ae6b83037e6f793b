"""Tables of the invoicing-works service."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from chorus_common.replica import replica_tables
from chorus_common.runtime import messaging_tables

metadata = sa.MetaData()
outbox, inbox = messaging_tables(metadata)
# What this service knows of the directory, fed by its snapshot events (chorus_common.replica).
replica = replica_tables(metadata)

MONEY = sa.Numeric(18, 2)

works_invoices = sa.Table(
    "works_invoices",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("number", sa.String(50), nullable=False),
    sa.Column("billing_frame", sa.String(4), nullable=False),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("supplier_structure_id", sa.String(200), nullable=False),
    sa.Column("moe_structure_id", sa.String(200)),
    sa.Column("moa_structure_id", sa.String(200)),
    sa.Column("supplier", JSONB, nullable=False),
    sa.Column("moe", JSONB),
    sa.Column("moa", JSONB),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_ht", MONEY, nullable=False),
    sa.Column("vat_amount", MONEY, nullable=False),
    sa.Column("amount_ttc", MONEY, nullable=False),
    sa.Column("made_available_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("moe_deadline", sa.Date),
    sa.Column("rejection_processed_at", sa.DateTime(timezone=True)),
    sa.Column("deposited_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("supplier_structure_id", "number", name="uq_works_invoice_supplier_number"),
    sa.Index("ix_works_invoices_supplier", "supplier_structure_id", "status"),
    sa.Index("ix_works_invoices_moe", "moe_structure_id", "status"),
    sa.Index("ix_works_invoices_moa", "moa_structure_id", "status"),
    # Exactly what the deadline sweep scans.
    sa.Index(
        "ix_works_invoices_awaiting_moe",
        "moe_deadline",
        postgresql_where=sa.text(
            "billing_frame = 'A4' AND status = 'MISE_A_DISPOSITION_MOE' AND moa_structure_id IS NOT NULL"
        ),
    ),
)

works_invoice_history = sa.Table(
    "works_invoice_history",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column(
        "works_invoice_id", sa.Uuid, sa.ForeignKey("works_invoices.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("action", sa.String(30), nullable=False),
    sa.Column("from_status", sa.String(30)),
    sa.Column("to_status", sa.String(30), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("actor_structure_id", sa.String(200), nullable=False),
    sa.Column("capacity", sa.String(20), nullable=False),
    sa.Column("acting_for", sa.String(20)),
    sa.Column("reason_code", sa.String(30)),
    sa.Column("reason", sa.Text),
    sa.Column("amounts", JSONB),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_works_invoice_history_invoice", "works_invoice_id", "id"),
)

# One row per invoice and Paris day a deadline notice was issued: the permanent record that makes
# the sweep exactly-once per day, whatever the number of replicas or repeated sweeps. No foreign key
# nor index beyond the primary key: the sweep writes here in bulk, and invoices are never deleted.
deadline_notices = sa.Table(
    "deadline_notices",
    metadata,
    sa.Column("works_invoice_id", sa.Uuid, primary_key=True),
    sa.Column("notice_date", sa.Date, primary_key=True),
    sa.Column("event_id", sa.Uuid, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)
