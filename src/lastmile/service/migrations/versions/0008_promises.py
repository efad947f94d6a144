"""organisations.settings: the organisation's options as JSON (for now
``waiting_costs_like_driving``: plans charge waiting like driving)

Revision ID: 0008_promises
Revises: 0007_plan_versions
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008_promises"
down_revision: str | None = "0007_plan_versions"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settings", sa.JSON(), server_default="{}", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("settings")
