"""Entrust IDP: which OpenID provider an application offers to Entrust's IDP

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 21:00:00

`oidc_providers.entrust_redirect_uri` is where the provider sends the browser
back after an Entrust IDP / IDP_AND_SECONDFACTOR challenge (the calling
application's page, registered at the provider). NULL: the provider is not
offered to Entrust IDP (it may still serve LoginID's OIDC login). At most
one provider per application has it; the admin API enforces that.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("oidc_providers") as batch:
        batch.add_column(sa.Column("entrust_redirect_uri", sa.String(length=2048),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oidc_providers") as batch:
        batch.drop_column("entrust_redirect_uri")
