"""attachments of tickets

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 18:30:00
"""

from collections.abc import Sequence

from chorus_common.attachments import create_attachment_tables, drop_attachment_tables

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_attachment_tables()


def downgrade() -> None:
    drop_attachment_tables()
