"""/scim/v2/Users: create, read, list, replace, patch and delete users.

Writes lock the user's row (SELECT ... FOR UPDATE on PostgreSQL; SQLite has
one writer at a time) so concurrent PATCHes never lose each other's changes,
and bump `version`, the ETag. Passwords are hashed (argon2id, in the
executor) before the write transaction starts.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

from pydantic import ValidationError
from scim2_models import Context, PatchOp, SCIMException
from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from authcore.flows import signup
from authcore.flows.context import Core
from authcore.identifiers import IdentifierError, enforce_username, username_key
from authcore.scim import store
from authcore.scim.common import (
    Query,
    Shape,
    check_if_match,
    check_if_none_match,
    list_response,
    operations_of,
    validate,
)
from authcore.scim.errors import bad_request, not_found, translate, uniqueness
from authcore.scim.filters import USER_TARGETS, compile_filter, sort_column
from authcore.scim.schema import ENTERPRISE_SCHEMA, USER_SCHEMA, ScimUser
from authcore.store.hot import queries as hq
from authcore.store.models import Group, GroupMember, Password, Session, User
from authcore.verify.errors import VerificationError
from authcore.verify.password import check_password_policy, hash_password

_MAX_USER_NAME = 255

# `userName eq "<value>"`, bare or with the core schema's URN: the filter
# Okta and Entra ID send before provisioning a user.
_USER_NAME_EQ = re.compile(
    r'\s*(?:urn:ietf:params:scim:schemas:core:2\.0:User:)?userName\s+eq\s+'
    r'("(?:[^"\\\x00-\x1f]|\\.)*")\s*', re.IGNORECASE)


def user_name_eq(scim_filter: str) -> str | None:
    """The value of a filter that is exactly `userName eq "<value>"`, else
    None (every other filter goes through compile_filter)."""
    match = _USER_NAME_EQ.fullmatch(scim_filter)
    if match is None:
        return None
    try:
        value = json.loads(match.group(1))
    except ValueError:
        return None
    return value if isinstance(value, str) else None


_ACTIVE_PATHS = ("active", f"{USER_SCHEMA.lower()}:active")


def _strict_active(value: Any) -> bool:
    """`active` must be a boolean. Microsoft Entra ID sends "True"/"False"
    strings, which are accepted; pydantic's lax "yes" or 1 are not."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise bad_request("invalidValue", "active must be true or false")


def _with_strict_active(patch: dict[str, Any]) -> dict[str, Any]:
    ops = []
    for op in operations_of(patch):
        if isinstance(op, dict) and str(op.get("op", "")).lower() in ("add", "replace"):
            path = str(op.get("path") or "").lower()
            value = op.get("value")
            if path in _ACTIVE_PATHS:
                op = {**op, "value": _strict_active(value)}
            elif not path and isinstance(value, dict):
                op = {**op, "value": {k: _strict_active(v) if k.lower() in _ACTIVE_PATHS else v
                                      for k, v in value.items()}}
        ops.append(op)
    return {**{k: v for k, v in patch.items() if k.lower() != "operations"}, "Operations": ops}


def _password_in_patch(patch: dict[str, Any]) -> str | None:
    """The password a PatchOp sets, whichever way it is spelled."""
    found: str | None = None
    for op in operations_of(patch):
        if not isinstance(op, dict) or str(op.get("op", "")).lower() not in ("add", "replace"):
            continue
        path = str(op.get("path") or "").lower()
        value = op.get("value")
        if path in ("password", f"{USER_SCHEMA.lower()}:password"):
            found = value if isinstance(value, str) else found
        elif not path and isinstance(value, dict):
            for key, item in value.items():
                if key.lower() in ("password", f"{USER_SCHEMA.lower()}:password") \
                        and isinstance(item, str):
                    found = item
    return found


class ScimUsers:
    def __init__(self, core: Core) -> None:
        self.core = core

    @property
    def base_url(self) -> str:
        return self.core.settings.base_url

    # ------------------------------------------------------------ reading

    async def _documents(self, db: AsyncSession, users: list[User], shape: Shape
                         ) -> list[dict[str, Any]]:
        pks = [u.pk for u in users]
        values = await store.load_user_values(db, pks)
        groups = await store.load_user_groups(db, pks) if shape.returns("groups") else {}
        return [
            shape.dump(ScimUser, store.user_document(
                u, values[u.pk], base_url=self.base_url, groups=groups.get(u.pk)))
            for u in users
        ]

    async def _one(self, db: AsyncSession, user: User, shape: Shape) -> dict[str, Any]:
        return (await self._documents(db, [user], shape))[0]

    async def _hot_documents(self, users: list[SimpleNamespace], shape: Shape
                             ) -> list[dict[str, Any]]:
        """`_documents` on the hot path (raw driver, store/hot)."""
        hot = self.core.hot
        out = []
        for user in users:
            values = await hq.scim_user_values(hot, user.pk)
            groups = await hq.user_groups(hot, user.pk) if shape.returns("groups") else None
            out.append(shape.dump(ScimUser, store.user_document(
                user, values, base_url=self.base_url, groups=groups)))
        return out

    async def get(self, user_id: str, *, shape: Shape, if_none_match: str = "") -> dict[str, Any]:
        # A hot path: three indexed reads on the raw driver, no ORM.
        key = store.stored_id(user_id)
        user = await hq.scim_user_by_pk(self.core.hot, key) if key is not None else None
        if user is None:
            raise not_found("User", user_id)
        check_if_none_match(if_none_match, user.version)
        return (await self._hot_documents([user], shape))[0]

    async def list(self, query: Query) -> dict[str, Any]:
        user_name = None if query.sort_by.strip() else user_name_eq(query.filter)
        if user_name is not None:
            # The identity providers' lookup before every provisioning call:
            # a hot path, one indexed read on the raw driver.
            found = await hq.scim_user_by_user_name(self.core.hot, user_name)
            matches = [found] if found is not None else []
            page = matches[query.offset:query.offset + query.limit]
            resources = await self._hot_documents(page, query.shape)
            return list_response(resources, len(matches), query)
        cond = and_(compile_filter(query.filter, ScimUser, USER_TARGETS),
                    User.pending_since.is_(None))  # see SCIM_USER_BY_PK
        order: list[Any] = []
        if query.sort_by.strip():
            col = sort_column(query.sort_by, USER_TARGETS)
            order.append(col.desc() if query.descending else col.asc())
        order.append(User.pk)
        async with self.core.read() as db:
            total = (await db.execute(select(func.count()).select_from(User).where(cond))
                     ).scalar_one()
            users: list[User] = []
            if query.limit:
                users = list((await db.execute(
                    select(User).where(cond).order_by(*order)
                    .offset(query.offset).limit(query.limit))).scalars())
            resources = await self._documents(db, users, query.shape)
        return list_response(resources, int(total), query)

    # ------------------------------------------------------------ writing

    async def _hash(self, password: str | None) -> str | None:
        if password is None:
            return None
        try:
            check_password_policy(password=password)
        except VerificationError as exc:
            raise bad_request("invalidValue", f"password: {exc.message}") from None
        return await self.core.blocking(hash_password, password=password,
                                        params=self.core.settings.argon2)

    def _prepare(self, doc: dict[str, Any], ctx: Context) -> dict[str, Any]:
        extension = doc.get(ENTERPRISE_SCHEMA)
        manager = extension.get("manager") if isinstance(extension, dict) else None
        # Entra ID names a manager by id alone; scim2-models wants its $ref.
        if isinstance(manager, dict) and manager.get("value") and not manager.get("$ref"):
            manager["$ref"] = store.user_location(self.base_url, str(manager["value"]))
        resource = validate(ScimUser, doc, ctx)
        out: dict[str, Any] = resource.model_dump()
        return out

    @staticmethod
    def _check_user_name(doc: dict[str, Any], current: str | None = None) -> str:
        """The userName to store; `doc` is updated to it. A name left as it
        is skips the rules, so a user made before them can still be changed
        (deactivated, say)."""
        name = doc.get("userName")
        if not isinstance(name, str) or not name.strip():
            raise bad_request("invalidValue", "userName is required")
        if len(name) > _MAX_USER_NAME:
            raise bad_request("invalidValue", f"userName is at most {_MAX_USER_NAME} characters")
        if name == current:
            return name
        try:
            doc["userName"] = enforce_username(name)
        except IdentifierError as exc:
            raise bad_request("invalidValue", f"userName {exc.problem}") from None
        return str(doc["userName"])

    async def _check_unique(self, db: AsyncSession, name: str, pk: str | None) -> None:
        clash = (await db.execute(select(User.pk).where(
            User.user_key == username_key(name)))).scalar_one_or_none()
        if clash is not None and clash != pk:
            raise uniqueness("userName is already taken")

    async def _save(self, db: AsyncSession, user: User, doc: dict[str, Any],
                    password_hash: str | None, now: float) -> None:
        was_active = user.active
        rows = store.apply_user_document(user, doc)
        if isinstance(doc.get("active"), bool):
            user.active = doc["active"]
        user.updated_at = now
        await store.replace_user_values(db, user.pk, rows)
        if password_hash is not None:
            row = await db.get(Password, user.pk)
            if row is None:
                db.add(Password(user_pk=user.pk, hash=password_hash, expires_at=None,
                                updated_at=now))
            else:
                row.hash, row.expires_at, row.updated_at = password_hash, None, now
        if was_active and user.active is False:
            # Deactivation ends the user's sessions too, not just new logins.
            await db.execute(update(Session).where(
                Session.user_pk == user.pk, Session.revoked_at.is_(None)
            ).values(revoked_at=now))

    async def create(self, doc: dict[str, Any], *, shape: Shape) -> dict[str, Any]:
        data = self._prepare(doc, Context.RESOURCE_CREATION_REQUEST)
        name = self._check_user_name(data)
        password_hash = await self._hash(data.pop("password", None))
        now = self.core.clock()
        user = User(pk=store.new_id(), user_id=name, active=True, created_at=now,
                    version=1)
        try:
            async with self.core.write() as db:
                await signup.drop_unproved(db, user_id=name)
                await self._check_unique(db, name, None)
                db.add(user)
                await db.flush()
                await self._save(db, user, data, password_hash, now)
        except IntegrityError:
            raise uniqueness("userName is already taken") from None
        async with self.core.read() as db:
            return await self._one(db, user, shape)

    async def _locked(self, db: AsyncSession, user_id: str, if_match: str) -> User:
        key = store.stored_id(user_id)
        user = None if key is None else (await db.execute(
            select(User).where(User.pk == key, User.pending_since.is_(None))
            .with_for_update())).scalar_one_or_none()
        if user is None:
            raise not_found("User", user_id)
        check_if_match(if_match, user.version)
        return user

    async def replace(self, user_id: str, doc: dict[str, Any], *, shape: Shape,
                      if_match: str = "") -> dict[str, Any]:
        data = self._prepare(doc, Context.RESOURCE_REPLACEMENT_REQUEST)
        password_hash = await self._hash(data.pop("password", None))
        try:
            async with self.core.write() as db:
                user = await self._locked(db, user_id, if_match)
                name = self._check_user_name(data, user.user_id)
                if username_key(name) != user.user_key:
                    await signup.drop_unproved(db, user_id=name)
                    await self._check_unique(db, name, user.pk)
                user.version += 1
                await self._save(db, user, data, password_hash, self.core.clock())
        except IntegrityError:
            raise uniqueness("userName is already taken") from None
        async with self.core.read() as db:
            return await self._one(db, user, shape)

    async def patch(self, user_id: str, patch: dict[str, Any], *, shape: Shape,
                    if_match: str = "") -> dict[str, Any]:
        try:
            op = PatchOp[ScimUser].model_validate(
                _with_strict_active(patch), scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        except (ValidationError, SCIMException) as exc:
            raise translate(exc) from None
        password_hash = await self._hash(_password_in_patch(patch))
        try:
            async with self.core.write() as db:
                user = await self._locked(db, user_id, if_match)
                values = await store.load_user_values(db, [user.pk])
                current = ScimUser.model_validate(store.user_document(
                    user, values[user.pk], base_url=self.base_url))
                try:
                    for operation in op.operations or []:
                        changed = op.model_copy(update={"operations": [operation]}
                                                ).patch(current)
                        # RFC 7644 section 3.12: a path whose filter matches
                        # nothing is noTarget (replace already raises it).
                        if not changed and operation.op == operation.Op.remove \
                                and "[" in str(operation.path or ""):
                            raise bad_request("noTarget", f"{operation.path} matches no value")
                except (ValidationError, SCIMException) as exc:
                    raise translate(exc) from None
                data: dict[str, Any] = current.model_dump()
                data.pop("password", None)
                name = self._check_user_name(data, user.user_id)
                if username_key(name) != user.user_key:
                    await signup.drop_unproved(db, user_id=name)
                    await self._check_unique(db, name, user.pk)
                user.version += 1
                await self._save(db, user, data, password_hash, self.core.clock())
        except IntegrityError:
            raise uniqueness("userName is already taken") from None
        async with self.core.read() as db:
            return await self._one(db, user, shape)

    async def delete(self, user_id: str, *, if_match: str = "") -> None:
        now = self.core.clock()
        async with self.core.write() as db:
            user = await self._locked(db, user_id, if_match)
            group_ids = [gid for (gid,) in await db.execute(
                select(GroupMember.group_id).where(GroupMember.member_id == user.pk))]
            if group_ids:
                await db.execute(update(Group).where(Group.id.in_(group_ids)).values(
                    version=Group.version + 1, updated_at=now))
                await db.execute(delete(GroupMember).where(GroupMember.member_id == user.pk))
            await db.execute(delete(User).where(User.pk == user.pk))
            # The table's rows go with the user (cascade); Redis' don't.
            await self.core.lockouts.clear_all(db, user_pk=user.pk)

