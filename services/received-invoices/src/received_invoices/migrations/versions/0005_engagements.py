"""engagements referenced by invoices

A read model of the validated engagements (`engagement-validated`), and the engagement an invoice
references.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "validated_engagements",
        sa.Column("issuer_structure_id", sa.String(length=100), nullable=False),
        sa.Column("number", sa.String(length=50), nullable=False),
        sa.Column("engagement_id", sa.String(length=200), nullable=True),
        sa.Column("supplier_structure_id", sa.String(length=200), nullable=False),
        sa.Column("total_ttc", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("issuer_structure_id", "number"),
    )
    op.add_column("received_invoices", sa.Column("engagement_number", sa.String(length=50), nullable=True))
    op.add_column("received_invoices", sa.Column("engagement", JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("received_invoices", "engagement")
    op.drop_column("received_invoices", "engagement_number")
    op.drop_table("validated_engagements")
