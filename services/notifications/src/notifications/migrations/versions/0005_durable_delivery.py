"""durable delivery: mails are recorded PENDING before they are sent

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "notification_decisions"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("message", sa.LargeBinary(), nullable=True))
    op.add_column(TABLE, sa.Column("position", sa.SmallInteger(), server_default="0", nullable=False))
    op.add_column(TABLE, sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    op.add_column(TABLE, sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(TABLE, sa.Column("last_error", sa.Text(), nullable=True))
    op.add_column(TABLE, sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
    # Mails sent before this version were sent when decided.
    op.execute(f"UPDATE {TABLE} SET sent_at = decided_at WHERE status = 'SENT'")
    op.create_index(
        "ix_decisions_due", TABLE, ["next_attempt_at"], postgresql_where=sa.text("status = 'PENDING'")
    )


def downgrade() -> None:
    op.drop_index("ix_decisions_due", table_name=TABLE)
    for column in ("sent_at", "last_error", "next_attempt_at", "attempts", "position", "message"):
        op.drop_column(TABLE, column)
