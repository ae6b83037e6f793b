"""received invoices' whole lifecycle

Delegations get a version (a modification changes them) and the time they ended; invoices the
delegate as routed, when their rejection was processed, and billing frames in their long form; the
history the mandate number of a MANDATEE, and entries the platform makes for no structure.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("delegations", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.add_column("delegations", sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
    # A revoked delegation was at version 2 (made, then revoked) and ended when it was revoked.
    op.execute("UPDATE delegations SET version = 2, ended_at = revoked_at WHERE status = 'REVOKED'")
    op.add_column("received_invoices", sa.Column("delegate", JSONB(), nullable=True))
    op.add_column(
        "received_invoices", sa.Column("rejection_processed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.alter_column(
        "received_invoices", "billing_frame", type_=sa.String(length=60), existing_type=sa.String(length=4)
    )
    op.add_column("received_invoice_history", sa.Column("dp_mandate_number", sa.String(length=100)))
    # What the platform does by itself (routing, a delegation's end) is done for no structure.
    op.alter_column("received_invoice_history", "actor_structure_id", nullable=True)
    op.create_index(
        "ix_received_invoices_delegation_waiting",
        "received_invoices",
        ["delegation_id"],
        postgresql_where=sa.text("NOT with_recipient"),
    )


def downgrade() -> None:
    op.drop_index("ix_received_invoices_delegation_waiting", table_name="received_invoices")
    op.execute("UPDATE received_invoice_history SET actor_structure_id = '' WHERE actor_structure_id IS NULL")
    op.alter_column("received_invoice_history", "actor_structure_id", nullable=False)
    op.drop_column("received_invoice_history", "dp_mandate_number")
    op.alter_column(
        "received_invoices", "billing_frame", type_=sa.String(length=4), existing_type=sa.String(length=60)
    )
    op.drop_column("received_invoices", "rejection_processed_at")
    op.drop_column("received_invoices", "delegate")
    op.drop_column("delegations", "ended_at")
    op.drop_column("delegations", "version")
