"""history: `role` is called `capacity`, as in every service's history

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("works_invoice_history", "role", new_column_name="capacity")


def downgrade() -> None:
    op.alter_column("works_invoice_history", "capacity", new_column_name="role")
