"""received invoices' read model (factures/v1)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "invoices",
        sa.Column("invoice_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("cpp_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=200), nullable=False),
        sa.Column("billing_frame", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("motif", sa.Text(), nullable=True),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("supplier_id", sa.String(length=100), nullable=False),
        sa.Column("recipient_id", sa.String(length=100), nullable=False),
        sa.Column("service_code", sa.String(length=100), nullable=True),
        sa.Column("delegate_id", sa.String(length=100), nullable=True),
        sa.Column("amount_ht", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("vat_amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("amount_ttc", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("engagement_number", sa.String(length=50), nullable=True),
        sa.Column("deposited_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("invoice_id"),
        sa.UniqueConstraint("cpp_id"),
    )
    op.create_index("ix_invoices_supplier", "invoices", ["supplier_id", "status_at"])
    op.create_index("ix_invoices_recipient", "invoices", ["recipient_id", "status_at"])
    op.create_index("ix_invoices_delegate", "invoices", ["delegate_id", "status_at"])
    op.create_table(
        "invoice_history",
        sa.Column("invoice_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=40), nullable=True),
        sa.Column("to_status", sa.String(length=40), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=False),
        sa.Column("capacity", sa.String(length=40), nullable=False),
        sa.Column("actor_structure_id", sa.String(length=100), nullable=True),
        sa.Column("motif", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("invoice_id", "sequence"),
    )


def downgrade() -> None:
    op.drop_table("invoice_history")
    op.drop_index("ix_invoices_delegate", table_name="invoices")
    op.drop_index("ix_invoices_recipient", table_name="invoices")
    op.drop_index("ix_invoices_supplier", table_name="invoices")
    op.drop_table("invoices")
