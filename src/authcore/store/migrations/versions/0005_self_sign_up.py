"""Self-registered users awaiting proof of their address

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 03:40:00

`users.pending_since` is set on a user who signed themselves up (LoginID
passkey sign-up) with an email address and has not yet proved it. Existing
users are provisioned ones, so the column starts NULL everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending_since", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("pending_since")
