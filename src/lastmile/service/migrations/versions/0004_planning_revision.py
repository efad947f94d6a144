"""organisations.planning_revision: raised by every write to what plans are built from

Revision ID: 0004_planning_revision
Revises: 0003_replan_pod_notify
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004_planning_revision"
down_revision: str | None = "0003_replan_pod_notify"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("planning_revision", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("planning_revision")
