"""an invoice keeps the file it came as (its main document)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("received_invoices", sa.Column("main_attachment_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column("received_invoices", "main_attachment_id")
