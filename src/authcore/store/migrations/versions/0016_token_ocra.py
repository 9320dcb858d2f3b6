"""OCRA challenge-response tokens (Entrust TOKENCR)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 00:00:00

`otp_tokens.ocra_suite` is the token's RFC 6287 OCRASuite, exactly as
enrolled (its bytes are part of every response's HMAC). Set: the token is a
challenge-response token (kind `OCRA`), served only by TOKENCR; its
`counter` is the suite's C, `last_used_step` its T step. NULL: a TOTP/HOTP
token as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("otp_tokens") as batch:
        batch.add_column(sa.Column("ocra_suite", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # The OCRA tokens would become HOTP tokens of the same rows: drop them.
    op.execute("DELETE FROM otp_tokens WHERE ocra_suite IS NOT NULL")
    with op.batch_alter_table("otp_tokens") as batch:
        batch.drop_column("ocra_suite")
