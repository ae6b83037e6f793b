"""works invoices' read model (facturesTravaux/v1)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "works_invoices",
        sa.Column("works_invoice_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("cpp_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=200), nullable=False),
        sa.Column("billing_frame", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("motif", sa.Text(), nullable=True),
        sa.Column("supplier_id", sa.String(length=100), nullable=False),
        sa.Column("moe_id", sa.String(length=100), nullable=True),
        sa.Column("moa_id", sa.String(length=100), nullable=True),
        sa.Column("amount_ht", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("vat_amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("amount_ttc", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("deposited_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("works_invoice_id"),
        sa.UniqueConstraint("cpp_id"),
    )
    op.create_index("ix_works_invoices_supplier", "works_invoices", ["supplier_id", "status_at"])
    op.create_index("ix_works_invoices_moe", "works_invoices", ["moe_id", "status_at"])
    op.create_index("ix_works_invoices_moa", "works_invoices", ["moa_id", "status_at"])


def downgrade() -> None:
    op.drop_table("works_invoices")
