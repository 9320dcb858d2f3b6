"""Machine authenticators (MACHINE)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 21:00:00

`machines` holds one row per registered machine of a user. The machine
nonce and the current sequence nonce are kept only as HMACs under the
server's code key (`nonce_hash`, `sequence_hash`), the fingerprint too;
the sequence rotates on every use by compare-and-set on `sequence_hash`.
A revoked machine keeps its row (`revoked_at`, `revoked_reason`) so a
later use of its nonce is told apart from an unknown one.

(`audit_events.authenticator` must hold `PASSWORD_AND_SECONDFACTOR:MACHINE`,
33 characters: 0011 widened it to 64.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "machines",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_pk", sa.String(length=36), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("sequence_hash", sa.String(length=64), nullable=False),
        sa.Column("fingerprint_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("last_used_at", sa.Float(), nullable=True),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.Column("revoked_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["user_pk"], ["users.pk"],
                                name=op.f("fk_machines_user_pk_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machines")),
        sa.UniqueConstraint("nonce_hash", name=op.f("uq_machines_nonce_hash")),
    )
    with op.batch_alter_table("machines") as batch:
        batch.create_index(batch.f("ix_machines_user_pk"), ["user_pk"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("machines") as batch:
        batch.drop_index(batch.f("ix_machines_user_pk"))
    op.drop_table("machines")
