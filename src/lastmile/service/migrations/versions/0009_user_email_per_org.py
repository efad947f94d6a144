"""users.email: unique within an organisation, not across the service (adding a user
no longer tells an organisation's admin that an address exists in another one)

Revision ID: 0009_user_email_per_org
Revises: 0008_promises
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision: str = "0009_user_email_per_org"
down_revision: str | None = "0008_promises"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_email"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_users_org_id_email"), ["org_id", "email"])


def downgrade() -> None:
    # Fails while two organisations have a user with the same e-mail address.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_org_id_email"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_users_email"), ["email"])
