"""Consumer API sessions, step-up factors and step-ups; users by email

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 16:45:14

New tables only, plus an index on lower(users.email) for the consumer API's
email login; existing data is untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_users_email_lower", "users", [sa.text("lower(email)")], unique=False)
    op.create_table(
        "consumer_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_pk", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_used_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("absolute_expires_at", sa.Float(), nullable=False),
        sa.Column("step_up_at", sa.Float(), nullable=True),
        sa.Column("step_up_method", sa.String(length=16), nullable=True),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_pk"],
            ["users.pk"],
            name=op.f("fk_consumer_sessions_user_pk_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumer_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_consumer_sessions_token_hash")),
    )
    with op.batch_alter_table("consumer_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consumer_sessions_user_pk"), ["user_pk"], unique=False)

    op.create_table(
        "sca_factors",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_pk", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("public_key", sa.LargeBinary(), nullable=True),
        sa.Column("device_name", sa.String(length=255), nullable=True),
        sa.Column("push_token", sa.String(length=4096), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("verified_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name=op.f("fk_sca_factors_user_pk_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sca_factors")),
        sa.UniqueConstraint("user_pk", "kind", "status", name=op.f("uq_sca_factors_user_pk")),
    )
    with op.batch_alter_table("sca_factors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sca_factors_user_pk"), ["user_pk"], unique=False)

    op.create_table(
        "step_ups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("user_pk", sa.String(length=36), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("challenge", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("answered_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["consumer_sessions.id"],
            name=op.f("fk_step_ups_session_id_consumer_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name=op.f("fk_step_ups_user_pk_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_ups")),
    )
    with op.batch_alter_table("step_ups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_step_ups_session_id"), ["session_id"], unique=False)
        batch_op.create_index(
            "ix_step_ups_user_pk_method_status", ["user_pk", "method", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("step_ups", schema=None) as batch_op:
        batch_op.drop_index("ix_step_ups_user_pk_method_status")
        batch_op.drop_index(batch_op.f("ix_step_ups_session_id"))

    op.drop_table("step_ups")
    with op.batch_alter_table("sca_factors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sca_factors_user_pk"))

    op.drop_table("sca_factors")
    with op.batch_alter_table("consumer_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consumer_sessions_user_pk"))

    op.drop_table("consumer_sessions")
    op.drop_index("ix_users_email_lower", table_name="users")
