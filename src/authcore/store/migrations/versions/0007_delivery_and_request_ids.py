"""Outbox delivery state, sealed message text, request ids on audit rows

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 07:00:00

The outbox becomes a queue the dispatcher (authcore/delivery/dispatcher.py)
drains: each message has a kind (which template renders it), the
application it names, a status (`pending`, `sent`, `failed`, `expired`, or
`held` where no channel is configured for its medium), its attempts, when
it may next be tried, its last error, when it was sent, and when the
challenge it carries a code for expires. The text is sealed with AES-GCM
under the master key (`sealed_text`) and dropped once sent; the plaintext
`text` column goes. Rows written before this migration had their text in
clear: it is dropped here rather than sealed (the migration has no master
key), and the rows are marked `held`, as nothing ever delivered them.

`audit_events.request_id` ties each audit row to the request (X-Request-Id
or gRPC metadata `x-request-id`, or one made up) whose log lines carry it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=32), nullable=False,
                                      server_default="otp"))
        batch_op.add_column(sa.Column("application_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=False,
                                      server_default="held"))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("next_attempt_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("sent_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("sealed_text", sa.LargeBinary(), nullable=True))
        batch_op.drop_column("text")
        batch_op.create_index("ix_outbox_status_next_attempt_at",
                              ["status", "next_attempt_at"], unique=False)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("request_id")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_next_attempt_at")
        batch_op.add_column(sa.Column("text", sa.Text(), nullable=False, server_default=""))
        for column in ("sealed_text", "expires_at", "sent_at", "last_error", "next_attempt_at",
                       "attempts", "status", "application_id", "kind"):
            batch_op.drop_column(column)
