"""SCIM resources <-> rows.

A resource crosses this boundary as a SCIM JSON document (a dict keyed by
SCIM attribute names, as scim2-models dumps and validates it). Singular
attributes are `users` / `groups` columns, named in USER_COLUMNS; the
multi-valued ones are `user_values` rows; group membership is one
`group_members` row per member.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from authcore.scim.schema import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA
from authcore.store.models import Group, GroupMember, User, UserValue

# SCIM path (with the enterprise URN for extension attributes) -> users column.
USER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("externalId", "external_id"),
    ("userName", "user_id"),
    ("name.formatted", "name_formatted"),
    ("name.familyName", "last_name"),
    ("name.givenName", "first_name"),
    ("name.middleName", "name_middle"),
    ("name.honorificPrefix", "name_prefix"),
    ("name.honorificSuffix", "name_suffix"),
    ("displayName", "display_name"),
    ("nickName", "nick_name"),
    ("profileUrl", "profile_url"),
    ("title", "title"),
    ("userType", "user_type"),
    ("preferredLanguage", "preferred_language"),
    ("locale", "locale"),
    ("timezone", "timezone"),
    ("active", "active"),
    (f"{ENTERPRISE_SCHEMA}:employeeNumber", "employee_number"),
    (f"{ENTERPRISE_SCHEMA}:costCenter", "cost_center"),
    (f"{ENTERPRISE_SCHEMA}:organization", "organization"),
    (f"{ENTERPRISE_SCHEMA}:division", "division"),
    (f"{ENTERPRISE_SCHEMA}:department", "department"),
    (f"{ENTERPRISE_SCHEMA}:manager.value", "manager_id"),
)

# Multi-valued attributes kept in user_values, with their sub-attributes
# (SCIM name -> user_values column).
PLAIN_SUBS: dict[str, str] = {
    "value": "value", "display": "display", "type": "type", "primary": "primary",
}
ADDRESS_SUBS: dict[str, str] = {
    "formatted": "formatted", "streetAddress": "street_address", "locality": "locality",
    "region": "region", "postalCode": "postal_code", "country": "country",
    "type": "type", "primary": "primary",
}
MULTI_VALUED: dict[str, dict[str, str]] = {
    "emails": PLAIN_SUBS, "phoneNumbers": PLAIN_SUBS, "ims": PLAIN_SUBS,
    "photos": PLAIN_SUBS, "entitlements": PLAIN_SUBS, "roles": PLAIN_SUBS,
    "x509Certificates": PLAIN_SUBS, "addresses": ADDRESS_SUBS,
}


def timestamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def etag(version: int) -> str:
    return f'W/"{version}"'


def _get(doc: dict[str, Any], path: str) -> Any:
    if path.startswith(ENTERPRISE_SCHEMA + ":"):
        doc = doc.get(ENTERPRISE_SCHEMA) or {}
        path = path[len(ENTERPRISE_SCHEMA) + 1:]
    node: Any = doc
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    if path.startswith(ENTERPRISE_SCHEMA + ":"):
        doc = doc.setdefault(ENTERPRISE_SCHEMA, {})
        path = path[len(ENTERPRISE_SCHEMA) + 1:]
    *parents, leaf = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[leaf] = value


# ------------------------------------------------------------------- users

def user_location(base_url: str, user_pk: str) -> str:
    return f"{base_url}/scim/v2/Users/{user_pk}"


def group_location(base_url: str, group_id: str) -> str:
    return f"{base_url}/scim/v2/Groups/{group_id}"


def user_document(
    user: User | SimpleNamespace,
    values: Sequence[UserValue | SimpleNamespace],
    *,
    base_url: str,
    groups: Sequence[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """The SCIM document of a stored user. `groups` (id, displayName) is
    None when the caller doesn't return that attribute."""
    doc: dict[str, Any] = {"id": user.pk}
    for path, column in USER_COLUMNS:
        value = getattr(user, column)
        if value is not None:
            _put(doc, path, value)
    if user.manager_id:
        # manager.displayName is optional and read-only: not returned.
        manager = _get(doc, f"{ENTERPRISE_SCHEMA}:manager")
        manager["$ref"] = user_location(base_url, user.manager_id)
    by_attribute: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(values, key=lambda r: (r.attribute, r.position)):
        subs = MULTI_VALUED.get(row.attribute)
        if subs is None:
            continue
        item = {name: getattr(row, col) for name, col in subs.items()
                if getattr(row, col) is not None}
        by_attribute.setdefault(row.attribute, []).append(item)
    # Users made by the admin API have delivery addresses but no SCIM rows.
    if "emails" not in by_attribute and user.email:
        by_attribute["emails"] = [{"value": user.email, "primary": True}]
    if "phoneNumbers" not in by_attribute and user.phone:
        by_attribute["phoneNumbers"] = [{"value": user.phone, "primary": True}]
    doc.update(by_attribute)
    if groups:
        doc["groups"] = [
            {"value": gid, "$ref": group_location(base_url, gid), "display": name,
             "type": "direct"}
            for gid, name in groups
        ]
    schemas = [USER_SCHEMA]
    if ENTERPRISE_SCHEMA in doc:
        schemas.append(ENTERPRISE_SCHEMA)
    doc["schemas"] = schemas
    doc["meta"] = {
        "resourceType": "User",
        "created": timestamp(user.created_at),
        "lastModified": timestamp(user.updated_at or user.created_at),
        "location": user_location(base_url, user.pk),
        "version": etag(user.version),
    }
    return doc


def _delivery_address(items: Iterable[dict[str, Any]], prefer_type: str | None) -> str | None:
    """The address OTPs go to: the primary value, else the first of the
    preferred type, else the first."""
    listed = [i for i in items if i.get("value")]
    for item in listed:
        if item.get("primary"):
            return str(item["value"])
    if prefer_type:
        for item in listed:
            if str(item.get("type") or "").lower() == prefer_type:
                return str(item["value"])
    return str(listed[0]["value"]) if listed else None


def apply_user_document(user: User, doc: dict[str, Any]) -> list[UserValue]:
    """Set every writable column of `user` from `doc` (absent means unset)
    and return the user's new user_values rows. `active` and the password
    are the caller's to handle: absent, they keep their value."""
    for path, column in USER_COLUMNS:
        if column == "active":
            continue
        value = _get(doc, path)
        setattr(user, column, value if value not in ("",) else None)
    user.email = _delivery_address(doc.get("emails") or (), None)
    user.phone = _delivery_address(doc.get("phoneNumbers") or (), "mobile")
    rows: list[UserValue] = []
    for attribute, subs in MULTI_VALUED.items():
        for position, item in enumerate(doc.get(attribute) or ()):
            row = UserValue(user_pk=user.pk, attribute=attribute, position=position)
            for name, column in subs.items():
                setattr(row, column, item.get(name))
            rows.append(row)
    return rows


async def load_user_values(db: AsyncSession, user_pks: Sequence[str]) -> dict[str, list[UserValue]]:
    out: dict[str, list[UserValue]] = {pk: [] for pk in user_pks}
    if not user_pks:
        return out
    rows = (await db.execute(select(UserValue).where(UserValue.user_pk.in_(user_pks)))).scalars()
    for row in rows:
        out[row.user_pk].append(row)
    return out


async def load_user_groups(db: AsyncSession, user_pks: Sequence[str]
                           ) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {pk: [] for pk in user_pks}
    if not user_pks:
        return out
    rows = await db.execute(
        select(GroupMember.member_id, Group.id, Group.display_name)
        .join(Group, Group.id == GroupMember.group_id)
        .where(GroupMember.member_id.in_(user_pks))
        .order_by(Group.display_name, Group.id))
    for member_id, gid, name in rows:
        out[member_id].append((gid, name))
    return out


async def replace_user_values(db: AsyncSession, user_pk: str, rows: Sequence[UserValue]) -> None:
    await db.execute(delete(UserValue).where(UserValue.user_pk == user_pk))
    db.add_all(rows)


# ------------------------------------------------------------------ groups

def group_document(group: Group, members: Sequence[tuple[str, str, str | None]] | None, *,
                   base_url: str) -> dict[str, Any]:
    """`members` is (id, type, display) per member, or None when the caller
    doesn't return that attribute."""
    doc: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "id": group.id,
                           "displayName": group.display_name}
    if group.external_id is not None:
        doc["externalId"] = group.external_id
    if members:
        doc["members"] = [
            {"value": mid, "type": mtype, "display": display,
             "$ref": (user_location if mtype == "User" else group_location)(base_url, mid)}
            if display is not None else
            {"value": mid, "type": mtype,
             "$ref": (user_location if mtype == "User" else group_location)(base_url, mid)}
            for mid, mtype, display in members
        ]
    doc["meta"] = {
        "resourceType": "Group",
        "created": timestamp(group.created_at),
        "lastModified": timestamp(group.updated_at),
        "location": group_location(base_url, group.id),
        "version": etag(group.version),
    }
    return doc


async def load_members(db: AsyncSession, group_ids: Sequence[str]
                       ) -> dict[str, list[tuple[str, str, str | None]]]:
    out: dict[str, list[tuple[str, str, str | None]]] = {gid: [] for gid in group_ids}
    if not group_ids:
        return out
    member_group = Group.__table__.alias("member_group")
    rows = await db.execute(
        select(GroupMember.group_id, GroupMember.member_id, GroupMember.member_type,
               func.coalesce(GroupMember.display, User.display_name, User.user_id,
                             member_group.c.display_name))
        .outerjoin(User, User.pk == GroupMember.member_id)
        .outerjoin(member_group, member_group.c.id == GroupMember.member_id)
        .where(GroupMember.group_id.in_(group_ids))
        .order_by(GroupMember.group_id, GroupMember.member_id))
    for gid, mid, mtype, display in rows:
        out[gid].append((mid, mtype, display))
    return out


async def existing_members(db: AsyncSession, ids: Sequence[str]) -> dict[str, str]:
    """Which of `ids` name a user or a group: id -> "User" / "Group"."""
    found: dict[str, str] = {}
    unique = list(dict.fromkeys(ids))
    for chunk in chunks(unique):
        for (pk,) in await db.execute(select(User.pk).where(User.pk.in_(chunk))):
            found[pk] = "User"
        for (gid,) in await db.execute(select(Group.id).where(Group.id.in_(chunk))):
            found.setdefault(gid, "Group")
    return found


def chunks(ids: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    """Slices of `ids` for IN lists the databases take without complaint."""
    return (ids[start:start + size] for start in range(0, len(ids), size))


def stored_id(raw: str) -> str | None:
    """A client's id as it could be stored (ids are UUIDs): None for one that
    can't name a row, which PostgreSQL would refuse outright (a NUL)."""
    return None if len(raw) > 36 or "\0" in raw else raw


def new_id() -> str:
    return str(uuid.uuid4())
