"""plan_versions (the dispatched plan kept as sent, a version per later change),
routes.completed_at/closed_by_id/close_note (a route closed by a dispatcher),
stop_events.reattempt_on/reattempt_note (the re-attempt decided after a failure)

Revision ID: 0007_plan_versions
Revises: 0006_shift_breaks_reloads
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007_plan_versions"
down_revision: str | None = "0006_shift_breaks_reloads"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "plan_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("change_id", sa.Uuid(), nullable=True),
        sa.Column("cost", sa.Integer(), nullable=False),
        sa.Column("routes", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_plan_versions_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_plan_versions_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_plan_versions_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_versions")),
        sa.UniqueConstraint("plan_id", "number", name=op.f("uq_plan_versions_plan_id_number")),
    )
    with op.batch_alter_table("plan_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_versions_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_plan_versions_plan_id"), ["plan_id"], unique=False)
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("closed_by_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("close_note", sa.Text(), server_default="", nullable=False))
        batch_op.create_foreign_key(
            batch_op.f("fk_routes_closed_by_id_users"),
            "users",
            ["closed_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("stop_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reattempt_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("reattempt_note", sa.Text(), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("stop_events", schema=None) as batch_op:
        batch_op.drop_column("reattempt_note")
        batch_op.drop_column("reattempt_on")
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_routes_closed_by_id_users"), type_="foreignkey")
        batch_op.drop_column("close_note")
        batch_op.drop_column("closed_by_id")
        batch_op.drop_column("completed_at")
    with op.batch_alter_table("plan_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_versions_plan_id"))
        batch_op.drop_index(batch_op.f("ix_plan_versions_org_id"))
    op.drop_table("plan_versions")
