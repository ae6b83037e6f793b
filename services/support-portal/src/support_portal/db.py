"""Tables of the support-portal service."""

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

TIMESTAMP = sa.DateTime(timezone=True)

tickets = sa.Table(
    "tickets",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("reference", sa.String(20), nullable=False, unique=True),
    sa.Column("category", sa.String(100), nullable=False),
    sa.Column("subcategory", sa.String(100)),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("environment", sa.String(20), nullable=False),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("signed_out", sa.Boolean, nullable=False),
    sa.Column("requester_sub", sa.String(200)),
    sa.Column("requester_structure_id", sa.String(200)),
    sa.Column("requester_email", sa.String(320), nullable=False),
    sa.Column("requester_name", sa.String(200)),
    sa.Column("recipient", JSONB, nullable=False),
    sa.Column("recipient_kind", sa.String(10), nullable=False),
    sa.Column("recipient_structure_id", sa.String(200)),
    sa.Column("recipient_service_code", sa.String(100)),
    sa.Column("assigned_to", sa.String(200)),
    sa.Column("follow_token_hash", sa.String(64)),
    sa.Column("follow_token_revoked", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
    sa.Index("ix_tickets_requester", "requester_sub", "status"),
    sa.Index(
        "ix_tickets_recipient", "recipient_kind", "recipient_structure_id", "recipient_service_code", "status"
    ),
)

ticket_messages = sa.Table(
    "ticket_messages",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("ticket_id", sa.Uuid, sa.ForeignKey("tickets.id"), nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("author_role", sa.String(20), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("at", TIMESTAMP, nullable=False),
    sa.Index("ix_ticket_messages_ticket", "ticket_id", "id"),
)

ticket_history = sa.Table(
    "ticket_history",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("ticket_id", sa.Uuid, sa.ForeignKey("tickets.id"), nullable=False),
    sa.Column("action", sa.String(30), nullable=False),
    sa.Column("from_status", sa.String(30)),
    sa.Column("to_status", sa.String(30), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("actor_structure_id", sa.String(200)),
    sa.Column("capacity", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("at", TIMESTAMP, nullable=False),
    sa.Index("ix_ticket_history_ticket", "ticket_id", "id"),
)

# The last reference number issued each year: incremented under the row's lock, so two tickets
# created at once never share a reference.
reference_counters = sa.Table(
    "reference_counters",
    metadata,
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("last", sa.Integer, nullable=False),
)

# Signed-out creations, for the rate limit.
signed_out_creations = sa.Table(
    "signed_out_creations",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("client_address", sa.String(100), nullable=False),
    sa.Column("at", TIMESTAMP, nullable=False),
    sa.Index("ix_signed_out_creations_email", "email", "at"),
    sa.Index("ix_signed_out_creations_address", "client_address", "at"),
)

# The captcha solutions used already, each kept until its challenge expires (a solution is good once).
captcha_spent = sa.Table(
    "captcha_spent",
    metadata,
    sa.Column("signature", sa.String(128), primary_key=True),
    sa.Column("expires_at", TIMESTAMP, nullable=False),
    sa.Index("ix_captcha_spent_expires_at", "expires_at"),
)

# Files attached to tickets (a screenshot, an invoice), their bytes in PostgreSQL.
attachments = Attachments.in_postgres(attachment_tables(metadata))
