"""arrival_detection: what arrival detection remembers per route between batches of fixes

Revision ID: 0014_arrival_detection
Revises: 0013_message_templates
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014_arrival_detection"
down_revision: str | None = "0013_message_templates"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("route_progress") as batch:
        batch.add_column(sa.Column("arrival_state", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("route_progress") as batch:
        batch.drop_column("arrival_state")
