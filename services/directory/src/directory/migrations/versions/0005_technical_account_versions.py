"""technical accounts carry the version of their snapshots

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("technical_accounts", sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    op.add_column("technical_accounts", sa.Column("updated_at", sa.DateTime(timezone=True)))
    # An account deactivated already has had its second version.
    op.execute("UPDATE technical_accounts SET version = 2 WHERE NOT active")
    op.execute("UPDATE technical_accounts SET updated_at = coalesce(deactivated_at, created_at)")
    op.alter_column("technical_accounts", "updated_at", nullable=False)


def downgrade() -> None:
    op.drop_column("technical_accounts", "updated_at")
    op.drop_column("technical_accounts", "version")
