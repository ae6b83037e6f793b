"""flows deposited (deposer/flux)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flows",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("number", sa.BigInteger(), sa.Identity(always=False, start=1), nullable=False),
        sa.Column("structure_id", sa.String(length=100), nullable=False),
        sa.Column("login", sa.String(length=100), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("syntax", sa.String(length=60), nullable=False),
        sa.Column("signed", sa.Boolean(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("deposited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invoice_errors", postgresql.JSONB(), server_default="[]", nullable=False),
        sa.Column("technical_errors", postgresql.JSONB(), server_default="[]", nullable=False),
        sa.Column("invoice_number", sa.String(length=200), nullable=True),
        sa.Column("supplier_id", sa.String(length=100), nullable=True),
        sa.Column("recipient_id", sa.String(length=100), nullable=True),
        sa.Column("invoice_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    op.create_index(
        "ix_flows_waiting",
        "flows",
        ["number"],
        postgresql_where=sa.text("status IN ('IN_RECU', 'IN_EN_ATTENTE_TRAITEMENT_CPP')"),
    )
    op.create_index("ix_flows_supplier_invoice", "flows", ["supplier_id", "invoice_number"])


def downgrade() -> None:
    op.drop_index("ix_flows_supplier_invoice", table_name="flows")
    op.drop_index("ix_flows_waiting", table_name="flows")
    op.drop_table("flows")
