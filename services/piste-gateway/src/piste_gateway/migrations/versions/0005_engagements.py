"""engagements' read model (engagementsJuridiques/v1)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "engagements",
        sa.Column("engagement_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("cpp_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=50), nullable=False),
        sa.Column("type", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issuer_id", sa.String(length=100), nullable=False),
        sa.Column("supplier_id", sa.String(length=100), nullable=False),
        sa.Column("amount_ht", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("vat_amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("amount_ttc", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("engagement_id"),
        sa.UniqueConstraint("cpp_id"),
    )
    op.create_index("ix_engagements_issuer", "engagements", ["issuer_id", "number"])
    op.create_index("ix_engagements_supplier", "engagements", ["supplier_id", "number"])


def downgrade() -> None:
    op.drop_table("engagements")
