"""Matching keys for usernames and emails

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 05:00:00

`users.user_key` and `users.email_key` hold NFKC + case-folded forms of
`user_id` and `email` (authcore/identifiers.py), which every login now
matches on: lower() is ASCII-only on SQLite, so "JÖE" never matched "jöe".
`user_key` replaces the unique index on lower(user_id), `email_key` the
index on lower(email). Existing rows are backfilled here, in Python, with the
same functions the application uses. A database holding two users whose ids
fold to the same key (e.g. "Straße" and "STRASSE", or a fullwidth copy of a
name) fails this migration naming them; rename one and run `authcore
migrate` again. Existing names that the new username rules would refuse are
kept (they still sign in); only creating or renaming is checked.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from authcore.identifiers import email_key, username_key

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_key", sa.String(length=1024), nullable=True))
        batch_op.add_column(sa.Column("email_key", sa.String(length=1024), nullable=True))
    conn = op.get_bind()
    users = sa.table("users", sa.column("pk", sa.String), sa.column("user_id", sa.String),
                     sa.column("email", sa.String), sa.column("user_key", sa.String),
                     sa.column("email_key", sa.String))
    seen: dict[str, str] = {}
    clashes: list[str] = []
    updates: list[dict[str, str | None]] = []
    for pk, user_id, email in conn.execute(sa.select(users.c.pk, users.c.user_id,
                                                     users.c.email)):
        key = username_key(user_id)
        if key in seen:
            clashes.append(f"{seen[key]!r} and {user_id!r}")
        seen[key] = user_id
        updates.append({"b_pk": pk, "b_user_key": key, "b_email_key": email_key(email)})
    if clashes:
        raise RuntimeError(
            "users whose ids differ only in case, width or Unicode normalisation: "
            + "; ".join(clashes[:20]) + ". Rename one of each pair and migrate again.")
    stmt = (sa.update(users).where(users.c.pk == sa.bindparam("b_pk"))
            .values(user_key=sa.bindparam("b_user_key"),
                    email_key=sa.bindparam("b_email_key")))
    for start in range(0, len(updates), _BATCH):
        conn.execute(stmt, updates[start:start + _BATCH])
    op.drop_index("ux_users_user_id_lower", table_name="users")
    op.drop_index("ix_users_email_lower", table_name="users")
    op.create_index("ux_users_user_key", "users", ["user_key"], unique=True)
    op.create_index("ix_users_email_key", "users", ["email_key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_users_email_key", table_name="users")
    op.drop_index("ux_users_user_key", table_name="users")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email_key")
        batch_op.drop_column("user_key")
    # After the batch: on SQLite it rebuilds the table, and Alembic cannot
    # carry expression indexes across a rebuild.
    op.create_index("ix_users_email_lower", "users", [sa.text("lower(email)")], unique=False)
    op.create_index("ux_users_user_id_lower", "users", [sa.text("lower(user_id)")],
                    unique=True)
