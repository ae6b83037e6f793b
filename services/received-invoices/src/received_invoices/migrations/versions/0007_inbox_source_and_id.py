"""the inbox knows an event by its source and id

CloudEvents makes `source` + `id` unique: an event of another producer reusing an id is no longer taken
for a duplicate. The rows already there are kept (each has its source).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 19:00:00
"""

from collections.abc import Sequence

from chorus_common.messaging.inbox import key_on_id, key_on_source_and_id

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    key_on_source_and_id()


def downgrade() -> None:
    key_on_id()
