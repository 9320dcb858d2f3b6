"""The live refresh token of a session

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 17:00:00

`sessions.refresh_id` is the `jti` of the one refresh token of the session
that may still be redeemed (flows/refresh.py); NULL for a session that has
none. Rotation swaps it by compare-and-set.
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


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("refresh_id")
