"""passkeys and aaguid blocklist

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:48:06.786111
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("challenges") as batch_op:
        batch_op.alter_column("user_pk", existing_type=sa.String(length=36), nullable=True)
    op.create_table(
        "aaguid_blocklist",
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("aaguid", sa.String(length=36), nullable=False),
        sa.Column("reg", sa.Boolean(), nullable=False),
        sa.Column("auth", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_aaguid_blocklist_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("application_id", "aaguid", name=op.f("pk_aaguid_blocklist")),
    )
    op.create_table(
        "passkeys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_pk", sa.String(length=36), nullable=False),
        sa.Column("rp_id", sa.String(length=255), nullable=False),
        sa.Column("credential_id", sa.String(length=1400), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("aaguid", sa.String(length=36), nullable=False),
        sa.Column("fmt", sa.String(length=32), nullable=False),
        sa.Column("transports", sa.JSON(), nullable=False),
        sa.Column("backup_eligible", sa.Boolean(), nullable=False),
        sa.Column("backup_state", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_device", sa.JSON(), nullable=True),
        sa.Column("last_used_at", sa.Float(), nullable=True),
        sa.Column("last_used_device", sa.JSON(), nullable=True),
        sa.Column("flagged_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name=op.f("fk_passkeys_user_pk_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkeys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_passkeys_credential_id")),
    )
    with op.batch_alter_table("passkeys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_passkeys_user_pk"), ["user_pk"], unique=False)

    # ### end Alembic commands ###


def downgrade() -> None:
    op.execute("DELETE FROM challenges WHERE user_pk IS NULL")
    with op.batch_alter_table("challenges") as batch_op:
        batch_op.alter_column("user_pk", existing_type=sa.String(length=36), nullable=False)
    with op.batch_alter_table("passkeys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_passkeys_user_pk"))

    op.drop_table("passkeys")
    op.drop_table("aaguid_blocklist")
    # ### end Alembic commands ###
