"""received delegations

The delegations received-invoices publishes, from which a structure's `estValideurDelegue` is derived.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "received_delegations",
        sa.Column("delegation_id", sa.String(length=200), nullable=False),
        sa.Column("delegator_structure_id", sa.String(length=100), nullable=False),
        sa.Column("delegate_structure_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("delegation_id"),
    )
    op.create_index(
        "ix_received_delegations_delegate",
        "received_delegations",
        ["delegate_structure_id", "status"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_received_delegations_delegate", table_name="received_delegations")
    op.drop_table("received_delegations")
