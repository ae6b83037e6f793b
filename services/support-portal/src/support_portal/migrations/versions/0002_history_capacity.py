"""history: the model every service shares (`capacity`, acting structure, reason)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("ticket_history", "role", new_column_name="capacity")
    op.add_column("ticket_history", sa.Column("actor_structure_id", sa.String(200)))
    op.add_column("ticket_history", sa.Column("reason", sa.Text))


def downgrade() -> None:
    op.drop_column("ticket_history", "reason")
    op.drop_column("ticket_history", "actor_structure_id")
    op.alter_column("ticket_history", "capacity", new_column_name="role")
