"""directory replica

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 11:49:41.855259
"""

from collections.abc import Sequence

from chorus_common.replica import create_replica_tables, drop_replica_tables

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_replica_tables()


def downgrade() -> None:
    drop_replica_tables()
