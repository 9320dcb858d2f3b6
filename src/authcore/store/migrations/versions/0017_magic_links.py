"""Magic links (MAGICLINK)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 00:00:00

`magic_links` is one emailed link per MAGICLINK challenge (the challenge's
state names the row): the HMAC-SHA256 of the link's token (never the
token), the user and application, and its answer. `status` leaves PENDING
once, by compare-and-set (CONFIRMED or CANCELLED by the link's page), and a
CONFIRMED link becomes USED when the login it confirmed completes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "magic_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_pk", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("answered_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["user_pk"], ["users.pk"],
                                name=op.f("fk_magic_links_user_pk_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"],
                                name=op.f("fk_magic_links_application_id_applications"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_magic_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_magic_links_token_hash")),
    )
    with op.batch_alter_table("magic_links") as batch:
        batch.create_index(batch.f("ix_magic_links_user_pk"), ["user_pk"], unique=False)
        batch.create_index(batch.f("ix_magic_links_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_table("magic_links")
