"""reply_windows: the windows offered to a customer who answered "2" by text or e-mail
(inbound_messages.offered_windows), so that their next answer can choose one

Revision ID: 0017_reply_windows
Revises: 0016_routine_automation
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0017_reply_windows"
down_revision: str | None = "0016_routine_automation"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offered_windows", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_column("offered_windows")
