"""job_queue: planning jobs wait in a queue shared by every process; a slot leases
the job it runs (who, until when) and a job whose lease runs out is started again
(attempts)

Revision ID: 0015_job_queue
Revises: 0014_arrival_detection
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015_job_queue"
down_revision: str | None = "0014_arrival_detection"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("planning_jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("queue", sa.String(length=64), server_default="default", nullable=False)
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("leased_by", sa.String(length=200), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_planning_jobs_queue_status", ["queue", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("planning_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_planning_jobs_queue_status")
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("leased_by")
        batch_op.drop_column("attempts")
        batch_op.drop_column("queue")
