"""captcha solutions used already

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "captcha_spent",
        sa.Column("signature", sa.String(128), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_captcha_spent_expires_at", "captcha_spent", ["expires_at"])


def downgrade() -> None:
    op.drop_table("captcha_spent")
