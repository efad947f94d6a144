"""sms_gateway: texts and answer e-mails queued for customers (with the gateway's id
and delivery status), customers' answers, and each organisation's inbound secret

Revision ID: 0012_sms_gateway
Revises: 0010_learned_traffic
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012_sms_gateway"
down_revision: str | None = "0010_learned_traffic"
branch_labels: str | None = None
depends_on: str | None = None


def _org(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"],
        ["organisations.id"],
        name=op.f(f"fk_{table}_org_id_organisations"),
        ondelete="CASCADE",
    )


def _order(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["order_id"], ["orders.id"], name=op.f(f"fk_{table}_order_id_orders"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "outbound_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("notification_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("to", sa.String(length=320), nullable=False),
        sa.Column("phone_key", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("gateway", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider_id", sa.String(length=128), nullable=False),
        sa.Column("part_ids", sa.JSON(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        _org("outbound_messages"),
        _order("outbound_messages"),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["customer_notifications.id"],
            name=op.f("fk_outbound_messages_notification_id_customer_notifications"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_messages")),
    )
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbound_messages_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbound_messages_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(
            "ix_outbound_messages_status_next", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index("ix_outbound_messages_provider_id", ["provider_id"], unique=False)
        batch_op.create_index(
            "ix_outbound_messages_org_phone", ["org_id", "phone_key"], unique=False
        )
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reply_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _org("inbound_messages"),
        _order("inbound_messages"),
        sa.ForeignKeyConstraint(
            ["reply_id"],
            ["customer_replies.id"],
            name=op.f("fk_inbound_messages_reply_id_customer_replies"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
    )
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_messages_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_inbound_messages_order_id"), ["order_id"], unique=False
        )
    op.create_table(
        "inbound_secrets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _org("inbound_secrets"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_secrets")),
        sa.UniqueConstraint("org_id", name=op.f("uq_inbound_secrets_org_id")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_inbound_secrets_secret_hash")),
    )
    with op.batch_alter_table("inbound_secrets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_secrets_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    op.drop_table("inbound_secrets")
    op.drop_table("inbound_messages")
    op.drop_table("outbound_messages")
