"""Push devices (TOKENPUSH, SMARTCREDENTIALPUSH), their activation codes and pushes

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 21:00:00

`push_devices` holds a device's P-256 public key (SPKI DER) and, for a smart
credential, its certificate; `counter` is the highest answer counter
accepted, so an old signed answer can't be replayed. `push_activations` are
one-time codes (HMAC-SHA256) with which a device registers its key itself.
`push_requests` is one push per challenge and the device's answer.

(A second-factor challenge audits `PASSWORD_AND_SECONDFACTOR:SMARTCREDENTIALPUSH`,
45 characters: 0011 widened `audit_events.authenticator` to 64.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "push_devices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_pk", sa.String(length=36), nullable=False),
        sa.Column("serial_number", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("certificate", sa.LargeBinary(), nullable=True),
        sa.Column("not_after", sa.Float(), nullable=True),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["user_pk"], ["users.pk"],
                                name=op.f("fk_push_devices_user_pk_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_devices")),
        sa.UniqueConstraint("serial_number", name=op.f("uq_push_devices_serial_number")),
    )
    with op.batch_alter_table("push_devices") as batch:
        batch.create_index(batch.f("ix_push_devices_user_pk"), ["user_pk"], unique=False)

    op.create_table(
        "push_activations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_pk", sa.String(length=36), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["user_pk"], ["users.pk"],
                                name=op.f("fk_push_activations_user_pk_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_activations")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_push_activations_code_hash")),
    )
    with op.batch_alter_table("push_activations") as batch:
        batch.create_index(batch.f("ix_push_activations_user_pk"), ["user_pk"], unique=False)

    op.create_table(
        "push_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_pk", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("challenge", sa.String(length=64), nullable=False),
        sa.Column("details_hash", sa.String(length=64), nullable=False),
        sa.Column("mutual_challenge", sa.String(length=8), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("answered_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["user_pk"], ["users.pk"],
                                name=op.f("fk_push_requests_user_pk_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["device_id"], ["push_devices.id"],
                                name=op.f("fk_push_requests_device_id_push_devices"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_requests")),
    )
    with op.batch_alter_table("push_requests") as batch:
        batch.create_index(batch.f("ix_push_requests_user_pk"), ["user_pk"], unique=False)
        batch.create_index(batch.f("ix_push_requests_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_table("push_requests")
    op.drop_table("push_activations")
    op.drop_table("push_devices")
