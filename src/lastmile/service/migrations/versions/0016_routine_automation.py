"""routine_automation: the organisations' automation log and the claims of scheduled
runs (one row per organisation, kind and local day)

Revision ID: 0016_routine_automation
Revises: 0015_job_queue
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016_routine_automation"
down_revision: str | None = "0015_job_queue"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "automation_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=True),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_automation_log_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_automation_log_plan_id_plans"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_automation_log_order_id_orders"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_log")),
    )
    with op.batch_alter_table("automation_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_automation_log_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_automation_log_at"), ["at"], unique=False)
    op.create_table(
        "automation_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_automation_runs_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_runs")),
        sa.UniqueConstraint(
            "org_id", "kind", "day", name=op.f("uq_automation_runs_org_id_kind_day")
        ),
    )
    with op.batch_alter_table("automation_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_automation_runs_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("automation_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_automation_runs_org_id"))
    op.drop_table("automation_runs")
    with op.batch_alter_table("automation_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_automation_log_at"))
        batch_op.drop_index(batch_op.f("ix_automation_log_org_id"))
    op.drop_table("automation_log")
