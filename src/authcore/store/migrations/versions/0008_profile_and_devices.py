"""Verified addresses and the user's devices (LoginID profile and devices)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 14:00:00

`users.email_verified_at` / `phone_verified_at` record when the current
address was proved by a code (LoginID `profile/*/verify`); a change of the
address clears them. `phone_consent` is LoginID's `messagingConsent`: no
SMS goes to a number without it. Existing addresses were provisioned by an
administrator or SCIM client, so they start unverified.

`devices` are the clients a user signed in from, by the SDK's own
`deviceInfo.deviceId` (unique per user, not secret): listed, renamed and
deleted by the user (LoginID devices).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_verified_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("phone_verified_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("phone_consent", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.create_table(
        "devices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_pk", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("info", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_used_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["user_pk"], ["users.pk"], name=op.f("fk_devices_user_pk_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("user_pk", "device_id", name=op.f("uq_devices_user_pk")),
    )


def downgrade() -> None:
    op.drop_table("devices")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("phone_consent")
        batch_op.drop_column("phone_verified_at")
        batch_op.drop_column("email_verified_at")
