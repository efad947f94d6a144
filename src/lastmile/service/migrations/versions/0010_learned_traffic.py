"""learned_traffic: each organisation's traffic profile learned from its own trips,
with the summary of its fit

Revision ID: 0010_learned_traffic
Revises: 0009_user_email_per_org
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010_learned_traffic"
down_revision: str | None = "0009_user_email_per_org"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "learned_traffic",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("in_use", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("network", sa.String(length=200), nullable=False),
        sa.Column("routes", sa.Integer(), nullable=False),
        sa.Column("pings", sa.Integer(), nullable=False),
        sa.Column("legs_matched", sa.Integer(), nullable=False),
        sa.Column("legs_used", sa.Integer(), nullable=False),
        sa.Column("legs_held_out", sa.Integer(), nullable=False),
        sa.Column("cells_updated", sa.Integer(), nullable=False),
        sa.Column("outliers", sa.Integer(), nullable=False),
        sa.Column("error_before_median_s", sa.Float(), nullable=True),
        sa.Column("error_before_mean_s", sa.Float(), nullable=True),
        sa.Column("error_before_rel", sa.Float(), nullable=True),
        sa.Column("error_after_median_s", sa.Float(), nullable=True),
        sa.Column("error_after_mean_s", sa.Float(), nullable=True),
        sa.Column("error_after_rel", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_learned_traffic_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learned_traffic")),
        sa.UniqueConstraint("org_id", name=op.f("uq_learned_traffic_org_id")),
    )
    with op.batch_alter_table("learned_traffic", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_learned_traffic_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("learned_traffic", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_learned_traffic_org_id"))
    op.drop_table("learned_traffic")
