"""SCIM 2.0 provisioning (RFC 7643, RFC 7644) of the users and groups that
every other API authenticates.

scim2-models does the SCIM rules: case-insensitive attribute names, schemas,
mutability and `returned` characteristics, attributes/excludedAttributes,
PATCH paths and filter parsing. This package stores resources in SQL
(`store`), turns filters into SQL (`filters`), and runs the operations
(`users`, `groups`, `discovery`).
"""

from __future__ import annotations

from pathlib import Path

# The protoc output for package authcore.scim.v2 lives in
# generated/authcore/scim/v2 and joins this package as authcore.scim.v2, the
# same way authcore.v1 joins authcore.
_GENERATED = Path(__file__).resolve().parents[3] / "generated" / "authcore" / "scim"
if _GENERATED.is_dir():
    __path__.append(str(_GENERATED))
