"""orders: the geocoder's confidence and matched address per stop, the review flag
of uncertain positions, and the customer-changeable fields as staff last set them

Revision ID: 0005_order_import_review
Revises: 0004_planning_revision
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_order_import_review"
down_revision: str | None = "0004_planning_revision"
branch_labels: str | None = None
depends_on: str | None = None

_STOPS = ("pickup", "delivery")


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        for stop in _STOPS:
            batch_op.add_column(sa.Column(f"{stop}_geocode_confidence", sa.Float(), nullable=True))
            batch_op.add_column(
                sa.Column(
                    f"{stop}_geocoded_address",
                    sa.String(length=500),
                    server_default="",
                    nullable=False,
                )
            )
            batch_op.add_column(
                sa.Column(
                    f"{stop}_needs_review", sa.Boolean(), server_default=sa.false(), nullable=False
                )
            )
        batch_op.add_column(sa.Column("staff_values", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("staff_values")
        for stop in reversed(_STOPS):
            batch_op.drop_column(f"{stop}_needs_review")
            batch_op.drop_column(f"{stop}_geocoded_address")
            batch_op.drop_column(f"{stop}_geocode_confidence")
