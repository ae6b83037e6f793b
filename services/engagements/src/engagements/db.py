"""Tables of the engagements service."""

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

engagements = sa.Table(
    "engagements",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("number", sa.String(50), nullable=False),
    sa.Column("type", sa.String(30), nullable=False),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("origin", sa.String(20), nullable=False),
    sa.Column("source", sa.String(500), nullable=False),
    sa.Column("issuer_structure_id", sa.String(200), nullable=False),
    sa.Column("supplier_structure_id", sa.String(200), nullable=False),
    sa.Column("issuer", JSONB, nullable=False),
    sa.Column("supplier", JSONB, nullable=False),
    sa.Column("invoice_recipient", JSONB),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("total_ht", MONEY, nullable=False),
    sa.Column("total_vat", MONEY, nullable=False),
    sa.Column("total_ttc", MONEY, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("validated_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("issuer_structure_id", "number", name="uq_engagement_issuer_number"),
    sa.Index("ix_engagements_supplier", "supplier_structure_id", "status"),
    sa.Index("ix_engagements_created_at", "created_at"),
)

engagement_lines = sa.Table(
    "engagement_lines",
    metadata,
    sa.Column(
        "engagement_id", sa.Uuid, sa.ForeignKey("engagements.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("line_number", sa.Integer, primary_key=True),
    sa.Column("description", sa.String(500), nullable=False),
    sa.Column("quantity", sa.Numeric(24, 6), nullable=False),
    sa.Column("unit", sa.String(30), nullable=False),
    sa.Column("unit_price_ht", sa.Numeric(24, 6), nullable=False),
    sa.Column("vat_rate", sa.Numeric(5, 2), nullable=False),
    sa.Column("amount_ht", MONEY, nullable=False),
    sa.Column("amount_ttc", MONEY, nullable=False),
)

engagement_history = sa.Table(
    "engagement_history",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("engagement_id", sa.Uuid, sa.ForeignKey("engagements.id", ondelete="CASCADE"), nullable=False),
    sa.Column("action", sa.String(30), nullable=False),
    sa.Column("from_status", sa.String(30)),
    sa.Column("to_status", sa.String(30), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("actor_structure_id", sa.String(200)),
    sa.Column("capacity", sa.String(30), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_engagement_history_engagement", "engagement_id", "id"),
)
