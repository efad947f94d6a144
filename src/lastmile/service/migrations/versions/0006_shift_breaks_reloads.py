"""shifts.breaks (break windows and durations), vehicles.reloads and max_reloads
(multi-trip days: the vehicle may return to its depots to load again)

Revision ID: 0006_shift_breaks_reloads
Revises: 0005_order_import_review
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_shift_breaks_reloads"
down_revision: str | None = "0005_order_import_review"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("shifts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("breaks", sa.JSON(), server_default="[]", nullable=False))
    with op.batch_alter_table("vehicles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reloads", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("max_reloads", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("vehicles", schema=None) as batch_op:
        batch_op.drop_column("max_reloads")
        batch_op.drop_column("reloads")
    with op.batch_alter_table("shifts", schema=None) as batch_op:
        batch_op.drop_column("breaks")
