"""Tables of the notifications service."""

from __future__ import annotations

import sqlalchemy as sa

from chorus_common.replica import replica_tables
from chorus_common.runtime import messaging_tables

metadata = sa.MetaData()
outbox, inbox = messaging_tables(metadata)
# What this service knows of the directory, fed by its snapshot events (chorus_common.replica).
replica = replica_tables(metadata)

decisions = sa.Table(
    "notification_decisions",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("event_id", sa.String(200), nullable=False),
    sa.Column("event_type", sa.String(200), nullable=False),
    sa.Column("event_source", sa.String(500), nullable=False),
    sa.Column("recipient_role", sa.String(40), nullable=False),
    sa.Column("recipient_email", sa.String(320), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("flag_key", sa.String(100), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("subject", sa.Text),
    sa.Column("message_id", sa.String(300), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("event_id", "recipient_role", name="uq_decision_event_role"),
    sa.Index("ix_decisions_event_type", "event_type"),
    sa.Index("ix_decisions_status", "status"),
    sa.Index("ix_decisions_recipient_email", "recipient_email"),
    sa.Index("ix_decisions_decided_at", "decided_at"),
)
