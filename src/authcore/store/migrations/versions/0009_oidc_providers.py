"""OpenID providers per application and their subjects' links to users

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 14:00:00

`oidc_providers` are the providers an application's users may sign in with
(LoginID OIDC login); `client_secret` is AES-GCM sealed. `oidc_links` map a
provider's `sub` to a user, found again at the next login.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oidc_providers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("issuer", sa.String(length=2048), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret", sa.LargeBinary(), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"],
                                name=op.f("fk_oidc_providers_application_id_applications"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_providers")),
    )
    op.create_index(op.f("ix_oidc_providers_application_id"), "oidc_providers",
                    ["application_id"], unique=False)
    op.create_table(
        "oidc_links",
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_pk", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_login_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["provider_id"], ["oidc_providers.id"],
                                name=op.f("fk_oidc_links_provider_id_oidc_providers"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_pk"], ["users.pk"],
                                name=op.f("fk_oidc_links_user_pk_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("provider_id", "subject", name=op.f("pk_oidc_links")),
    )
    op.create_index(op.f("ix_oidc_links_user_pk"), "oidc_links", ["user_pk"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_oidc_links_user_pk"), table_name="oidc_links")
    op.drop_table("oidc_links")
    op.drop_index(op.f("ix_oidc_providers_application_id"), table_name="oidc_providers")
    op.drop_table("oidc_providers")
