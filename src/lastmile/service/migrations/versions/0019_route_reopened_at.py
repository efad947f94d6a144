"""route_reopened_at: when a completed route last took more work (routes.reopened_at),
so that its ETAs start from the depot its van went back to, not from the stop it
finished last

Revision ID: 0019_route_reopened_at
Revises: 0018_route_closed_at
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0019_route_reopened_at"
down_revision: str | None = "0018_route_closed_at"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reopened_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.drop_column("reopened_at")
