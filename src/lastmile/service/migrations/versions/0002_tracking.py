"""tracking: tracker devices, position pings, stop events, route progress

Revision ID: 0002_tracking
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002_tracking"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "tracker_devices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("identifier", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("vehicle_id", sa.Uuid(), nullable=True),
        sa.Column("driver_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["driver_id"],
            ["drivers.id"],
            name=op.f("fk_tracker_devices_driver_id_drivers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_tracker_devices_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicles.id"],
            name=op.f("fk_tracker_devices_vehicle_id_vehicles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracker_devices")),
        sa.UniqueConstraint(
            "org_id", "identifier", name=op.f("uq_tracker_devices_org_id_identifier")
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_tracker_devices_token_hash")),
    )
    with op.batch_alter_table("tracker_devices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tracker_devices_driver_id"), ["driver_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_tracker_devices_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_tracker_devices_vehicle_id"), ["vehicle_id"], unique=False
        )

    op.create_table(
        "position_pings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("route_id", sa.Uuid(), nullable=True),
        sa.Column("vehicle_id", sa.Uuid(), nullable=True),
        sa.Column("driver_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("speed_kph", sa.Float(), nullable=True),
        sa.Column("heading_deg", sa.Float(), nullable=True),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("altitude_m", sa.Float(), nullable=True),
        sa.Column("battery_pct", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_position_pings")),
        sa.UniqueConstraint(
            "org_id", "source", "event_id", name=op.f("uq_position_pings_org_id_source_event_id")
        ),
    )
    with op.batch_alter_table("position_pings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_position_pings_route_id_recorded_at", ["route_id", "recorded_at"], unique=False
        )

    op.create_table(
        "route_progress",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("route_id", sa.Uuid(), nullable=False),
        sa.Column("last_fix_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_lon", sa.Float(), nullable=True),
        sa.Column("last_lat", sa.Float(), nullable=True),
        sa.Column("last_speed_kph", sa.Float(), nullable=True),
        sa.Column("last_heading_deg", sa.Float(), nullable=True),
        sa.Column("eta_computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late_sequences", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_route_progress_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["route_id"],
            ["routes.id"],
            name=op.f("fk_route_progress_route_id_routes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_progress")),
        sa.UniqueConstraint("route_id", name=op.f("uq_route_progress_route_id")),
    )
    with op.batch_alter_table("route_progress", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_route_progress_org_id"), ["org_id"], unique=False)

    op.create_table(
        "stop_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("route_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("stop", sa.String(length=16), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("order_status", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_stop_events_order_id_orders"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_stop_events_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["route_id"],
            ["routes.id"],
            name=op.f("fk_stop_events_route_id_routes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stop_events")),
        sa.UniqueConstraint(
            "org_id", "source", "event_id", name=op.f("uq_stop_events_org_id_source_event_id")
        ),
    )
    with op.batch_alter_table("stop_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stop_events_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stop_events_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stop_events_route_id"), ["route_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stop_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stop_events_route_id"))
        batch_op.drop_index(batch_op.f("ix_stop_events_org_id"))
        batch_op.drop_index(batch_op.f("ix_stop_events_order_id"))

    op.drop_table("stop_events")
    with op.batch_alter_table("route_progress", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_route_progress_org_id"))

    op.drop_table("route_progress")
    with op.batch_alter_table("position_pings", schema=None) as batch_op:
        batch_op.drop_index("ix_position_pings_route_id_recorded_at")

    op.drop_table("position_pings")
    with op.batch_alter_table("tracker_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tracker_devices_vehicle_id"))
        batch_op.drop_index(batch_op.f("ix_tracker_devices_org_id"))
        batch_op.drop_index(batch_op.f("ix_tracker_devices_driver_id"))

    op.drop_table("tracker_devices")
