"""The live refresh token of a session; a phone's consent becomes three-valued

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 17:00:00

`sessions.refresh_id` is the `jti` of the one refresh token of the session
that may still be redeemed (flows/refresh.py); NULL for a session that has
none. Rotation swaps it by compare-and-set.

`users.phone_consent` was false for both "the user said no" (LoginID
profile, messagingConsent false) and "nobody asked" (a number from the
admin API, SCIM or Entrust). It is now NULL for "nobody asked". Rows
written before cannot be told apart; they become NULL, which texts them as
before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("refresh_id", sa.String(length=36), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.alter_column("phone_consent", existing_type=sa.Boolean(), nullable=True,
                           server_default=None)
    op.execute("UPDATE users SET phone_consent = NULL WHERE phone_consent = false")


def downgrade() -> None:
    op.execute("UPDATE users SET phone_consent = false WHERE phone_consent IS NULL")
    with op.batch_alter_table("users") as batch:
        batch.alter_column("phone_consent", existing_type=sa.Boolean(), nullable=False,
                           server_default=sa.false())
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("refresh_id")
