"""route_closed_at: when a dispatcher closed a route (routes.closed_at), so that a
route closed on purpose stays closed while one that completed by its stops'
outcomes can take more work while its van's shift lasts

Revision ID: 0018_route_closed_at
Revises: 0017_reply_windows
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0018_route_closed_at"
down_revision: str | None = "0017_reply_windows"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    # Routes closed before: by a user, with a note, or with stops the close
    # marked not attempted (its stop events' source says so).
    op.execute(
        "UPDATE routes SET closed_at = completed_at "
        "WHERE status = 'completed' AND completed_at IS NOT NULL AND ("
        "closed_by_id IS NOT NULL OR close_note <> '' OR EXISTS ("
        "SELECT 1 FROM stop_events WHERE stop_events.route_id = routes.id "
        "AND stop_events.source LIKE 'close:%'))"
    )


def downgrade() -> None:
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.drop_column("closed_at")
