"""Offline OTP clients: the useSecret chain and what each client holds

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 21:10:00

One row per (token, client name) that fetched a protected offline OTP batch
(POST /api/web/v1/self/tokens/offline). `secret_hash` is the SHA-256 of the
useSecret the client last proved it holds, `next_secret_hash` of the one the
last answer issued; either is accepted, so a lost answer doesn't lock the
client out. `issued_through` is the last moving factor (TOTP step or HOTP
counter) the client was sent, for answers that leave out what it holds.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "offline_clients",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_id", sa.String(length=36), nullable=False),
        sa.Column("client_name", sa.String(length=255), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=True),
        sa.Column("next_secret_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_through", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["token_id"], ["otp_tokens.id"],
                                name=op.f("fk_offline_clients_token_id_otp_tokens"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offline_clients")),
        sa.UniqueConstraint("token_id", "client_name",
                            name=op.f("uq_offline_clients_token_id")),
    )


def downgrade() -> None:
    op.drop_table("offline_clients")
