"""SCIM attributes of users, multi-valued user values, groups and members

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:00:00

userName (users.user_id) becomes unique without regard to case, as RFC 7643
makes it. On a database that already holds two users whose ids differ only in
case, the unique index fails to build: rename one of them and run
`authcore migrate` again. Nothing else needs data to change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_USER_COLUMNS: tuple[tuple[str, int], ...] = (
    ("external_id", 255), ("display_name", 255), ("nick_name", 255),
    ("profile_url", 2048), ("title", 255), ("user_type", 255),
    ("preferred_language", 64), ("locale", 64), ("timezone", 64),
    ("name_formatted", 512), ("name_middle", 255), ("name_prefix", 64),
    ("name_suffix", 64), ("employee_number", 255), ("cost_center", 255),
    ("organization", 255), ("division", 255), ("department", 255),
    ("manager_id", 255),
)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False,
                                      server_default="1"))
        batch_op.add_column(sa.Column("updated_at", sa.Float(), nullable=True))
        for name, length in _USER_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=True))
    op.execute("UPDATE users SET updated_at = created_at")
    op.create_index("ux_users_user_id_lower", "users", [sa.text("lower(user_id)")],
                    unique=True)

    op.create_table(
        "user_values",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_pk", sa.String(length=36), nullable=False),
        sa.Column("attribute", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("display", sa.String(length=255), nullable=True),
        sa.Column("type", sa.String(length=64), nullable=True),
        sa.Column("primary", sa.Boolean(), nullable=True),
        sa.Column("formatted", sa.String(length=1024), nullable=True),
        sa.Column("street_address", sa.String(length=512), nullable=True),
        sa.Column("locality", sa.String(length=255), nullable=True),
        sa.Column("region", sa.String(length=255), nullable=True),
        sa.Column("postal_code", sa.String(length=64), nullable=True),
        sa.Column("country", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["user_pk"], ["users.pk"],
                                name=op.f("fk_user_values_user_pk_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_values")),
    )
    op.create_index("ix_user_values_user_pk_attribute", "user_values",
                    ["user_pk", "attribute"], unique=False)

    op.create_table(
        "groups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
    )
    op.create_index("ix_groups_display_name_lower", "groups",
                    [sa.text("lower(display_name)")], unique=False)

    op.create_table(
        "group_members",
        sa.Column("group_id", sa.String(length=36), nullable=False),
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("member_type", sa.String(length=8), nullable=False),
        sa.Column("display", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"],
                                name=op.f("fk_group_members_group_id_groups"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_id", "member_id", name=op.f("pk_group_members")),
    )
    op.create_index(op.f("ix_group_members_member_id"), "group_members", ["member_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_group_members_member_id"), table_name="group_members")
    op.drop_table("group_members")
    op.drop_index("ix_groups_display_name_lower", table_name="groups")
    op.drop_table("groups")
    op.drop_index("ix_user_values_user_pk_attribute", table_name="user_values")
    op.drop_table("user_values")
    op.drop_index("ux_users_user_id_lower", table_name="users")
    with op.batch_alter_table("users") as batch_op:
        for name, _ in reversed(_USER_COLUMNS):
            batch_op.drop_column(name)
        batch_op.drop_column("updated_at")
        batch_op.drop_column("version")
