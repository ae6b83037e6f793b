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
    # The structure of the directory the recipient was resolved from (none for a ticket's requester),
    # and the recipient's address (none when nobody could be mailed: the reason says why).
    sa.Column("recipient_structure_id", sa.String(100)),
    sa.Column("recipient_email", sa.String(320)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("flag_key", sa.String(100), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("subject", sa.Text),
    sa.Column("message_id", sa.String(300)),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    # A mail to send is PENDING until the relay accepts it (SENT) or refuses it for good (FAILED): the
    # message as composed, when the next attempt is due (a lease while one is under way), how many
    # attempts failed for now and the relay's last answer.
    sa.Column("message", sa.LargeBinary),
    sa.Column("position", sa.SmallInteger, nullable=False, server_default="0"),  # order in its event
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.Column("last_error", sa.Text),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    # One decision per (event, role, recipient); a decision that mails nobody has no address.
    sa.UniqueConstraint(
        "event_id",
        "recipient_role",
        "recipient_email",
        name="uq_decision_event_role_recipient",
        postgresql_nulls_not_distinct=True,
    ),
    sa.Index("ix_decisions_event_type", "event_type"),
    sa.Index("ix_decisions_status", "status"),
    sa.Index("ix_decisions_recipient_email", "recipient_email"),
    sa.Index("ix_decisions_decided_at", "decided_at"),
    sa.Index("ix_decisions_due", "next_attempt_at", postgresql_where=sa.text("status = 'PENDING'")),
)

# Events naming a structure the read model of the directory does not know yet (its snapshot may still
# be on its way): kept, and decided again every CHORUS_DIRECTORY_RETRY_INTERVAL_SECONDS, until the directory
# knows it or CHORUS_DIRECTORY_WAIT_SECONDS have passed since the event came (then decided with the reason).
awaiting_directory = sa.Table(
    "awaiting_directory",
    metadata,
    sa.Column("event_id", sa.String(200), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),  # the CloudEvent as received
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("unknown_structures", sa.Text, nullable=False),
)
