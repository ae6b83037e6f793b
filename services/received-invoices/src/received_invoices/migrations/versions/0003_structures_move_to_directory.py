"""structures move to the directory

The service's own `structures` and `structure_services` tables are gone: the directory owns them, and
this service decides against its read model (`directory_*`). Delegations keep the identifiers.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("delegations_delegator_structure_id_fkey", "delegations", type_="foreignkey")
    op.drop_constraint("delegations_delegate_structure_id_fkey", "delegations", type_="foreignkey")
    op.drop_table("structure_services")
    op.drop_table("structures")


def downgrade() -> None:
    op.create_table(
        "structures",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("identifier_type", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "structure_services",
        sa.Column("structure_id", sa.String(length=100), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["structure_id"], ["structures.id"]),
        sa.PrimaryKeyConstraint("structure_id", "code"),
    )
    # The delegations' structures are not brought back: the foreign keys are restored only when
    # every delegation's structures exist again.
