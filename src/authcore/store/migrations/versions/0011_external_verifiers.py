"""External verifiers (EXTERNAL); authenticator columns widened to 64

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 21:00:00

`external_verifiers` holds one verifier per application (url, sealed HMAC
secret, timeout) for Entrust's EXTERNAL passthrough authenticator.

`audit_events.authenticator` was VARCHAR(32), and a PASSWORD_AND_SECONDFACTOR
challenge's audit row names both factors
(`PASSWORD_AND_SECONDFACTOR:TEMP_ACCESS_CODE`, 42 characters): PostgreSQL
refused the insert and the challenge answered 400. `challenges.authenticator`
and `lockouts.authenticator` are widened as well, so a combined name can
never land in a column too short for it. SQLite never enforced the length;
it rebuilds the three tables all the same (batch mode), so that the schema
matches the models (tests/integration/test_migrations.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WIDENED = (("audit_events", True), ("challenges", False), ("lockouts", False))


def _resize(old: int, new: int) -> None:
    for table, nullable in _WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("authenticator", existing_type=sa.String(length=old),
                               type_=sa.String(length=new), existing_nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "external_verifiers",
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("timeout_ms", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"],
                                name=op.f("fk_external_verifiers_application_id_applications"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("application_id", name=op.f("pk_external_verifiers")),
    )
    _resize(32, 64)


def downgrade() -> None:
    _resize(64, 32)
    op.drop_table("external_verifiers")
