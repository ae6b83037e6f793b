"""recipients from the directory

One decision per (event, role, recipient): the recipients are the users the read model of the directory
has for a structure, so a decision names the structure and may have no address (nobody to mail). Events
waiting for a structure the read model does not know yet are kept in `awaiting_directory`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "notification_decisions", sa.Column("recipient_structure_id", sa.String(length=100), nullable=True)
    )
    op.alter_column("notification_decisions", "recipient_email", nullable=True)
    op.alter_column("notification_decisions", "message_id", nullable=True)
    op.drop_constraint("uq_decision_event_role", "notification_decisions", type_="unique")
    op.create_unique_constraint(
        "uq_decision_event_role_recipient",
        "notification_decisions",
        ["event_id", "recipient_role", "recipient_email"],
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "awaiting_directory",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unknown_structures", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )


def downgrade() -> None:
    op.drop_table("awaiting_directory")
    op.drop_constraint("uq_decision_event_role_recipient", "notification_decisions", type_="unique")
    op.execute(
        "DELETE FROM notification_decisions d USING notification_decisions e"
        " WHERE d.event_id = e.event_id AND d.recipient_role = e.recipient_role AND d.id > e.id"
    )
    op.execute("UPDATE notification_decisions SET recipient_email = '' WHERE recipient_email IS NULL")
    op.execute("UPDATE notification_decisions SET message_id = '' WHERE message_id IS NULL")
    op.create_unique_constraint(
        "uq_decision_event_role", "notification_decisions", ["event_id", "recipient_role"]
    )
    op.alter_column("notification_decisions", "message_id", nullable=False)
    op.alter_column("notification_decisions", "recipient_email", nullable=False)
    op.drop_column("notification_decisions", "recipient_structure_id")
