"""Entrust's self-service user values (/api/web/v1/self/values): the signed-in
user's own attributes as name/value pairs.

The names are a fixed vocabulary (policy.VALUE_NAMES) over the users table;
there are no free-form values. An application lists the names users may
change in settings selfService.editableValues (default none); GET shows
every name that has a value.

A POST is all or nothing, in one write transaction. A new email or phone is
not written: a code (SELF_VALUE_CODE challenge, HMAC of the code, single
use, the application's otpTtlSeconds) goes to the new address through the
outbox, and POST /api/web/v1/self/values/verify with the code writes it,
with its verification time. Wrong codes count toward the user's
SELF_VALUE_CODE lockout. Deleting (PUT) needs no code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from authcore.delivery.channels import KIND_OTP
from authcore.delivery.outbox import Message
from authcore.errors import InvalidArgument, PermissionDenied
from authcore.flows import audit
from authcore.flows.codes import count_wrong_code, matching_code, spend_code
from authcore.flows.loginid_profile import _set_primary_value, codes_locked
from authcore.flows.policy import VALUE_NAMES, SelfServicePolicy, app_policy
from authcore.flows.self_service import SelfServiceFlow
from authcore.identifiers import email_key
from authcore.limits.lockout import LockoutState, is_locked
from authcore.store.models import Application, User
from authcore.v1 import self_service_pb2 as selfsvc
from authcore.verify.otp import generate_code, hash_code

SELF_VALUE_CODE = "SELF_VALUE_CODE"
CODE_DIGITS = 6
MAX_LIVE_CODES = 3
# Name -> (users column, the column's width).
_COLUMNS: dict[str, tuple[str, int]] = {
    "email": ("email", 320), "phone": ("phone", 64), "firstName": ("first_name", 255),
    "lastName": ("last_name", 255), "displayName": ("display_name", 255),
    "nickName": ("nick_name", 255), "title": ("title", 255),
    "preferredLanguage": ("preferred_language", 64), "locale": ("locale", 64),
    "timezone": ("timezone", 64),
}
assert tuple(_COLUMNS) == VALUE_NAMES
_VERIFIED = ("email", "phone")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _bad(field: str, problem: str, reason: str = "invalid_value") -> InvalidArgument:
    return InvalidArgument(f"{field} {problem}.", reason=reason,
                           field_violations=[(field, problem)])


def values_of(user: User) -> list[selfsvc.UserClientValue]:
    out = []
    for name, (column, _) in _COLUMNS.items():
        value = getattr(user, column)
        if value:
            out.append(selfsvc.UserClientValue(name=name, value=value))
    return out


def _known(name: str, field: str) -> str:
    if name not in _COLUMNS:
        raise _bad(field, f"is not a user value name (one of {', '.join(VALUE_NAMES)})",
                   "unknown_value_name")
    return name


def _editable(policy: SelfServicePolicy, name: str) -> None:
    if name not in policy.editable_values:
        raise PermissionDenied(f"The application does not let users change {name}.",
                               reason="value_not_editable")


def _normalised(name: str, value: str, field: str) -> str:
    value = value.strip()
    if not value:
        raise _bad(field, "is required (delete a value with PUT)", "missing_field")
    if name == "phone":
        value = re.sub(r"[\s().-]", "", value)
        if not _E164.fullmatch(value):
            raise _bad(field, "must be in E.164 form, e.g. +14161234567")
    elif name == "email" and not _EMAIL.fullmatch(value):
        raise _bad(field, "must be an email address")
    if len(value) > _COLUMNS[name][1]:
        raise _bad(field, f"must be at most {_COLUMNS[name][1]} characters")
    return value


async def _write(db: AsyncSession, user: User, changes: dict[str, str | None], *,
                 verified_at: float | None, now: float) -> None:
    """One UPDATE of the user (and SCIM's lists for email and phone)."""
    values: dict[str, Any] = {}
    for name, value in changes.items():
        values[_COLUMNS[name][0]] = value
        if name == "email":
            values.update(email_key=email_key(value), email_verified_at=verified_at)
        elif name == "phone":
            values.update(phone_verified_at=verified_at, phone_consent=None)
    if not values:
        return
    await db.execute(update(User).where(User.pk == user.pk).values(
        **values, updated_at=now, version=User.version + 1))
    for name, attribute in (("email", "emails"), ("phone", "phoneNumbers")):
        if name in changes:
            await _set_primary_value(db, user.pk, attribute, changes[name])
    for column, value in values.items():
        setattr(user, column, value)


class SelfValuesFlow:
    def __init__(self, self_service: SelfServiceFlow) -> None:
        self.self_service = self_service
        self.core = self_service.core

    async def get(self, authorization: str) -> list[selfsvc.UserClientValue]:
        async with self.core.read() as db:
            _, user, _ = await self.self_service.me(db, authorization)
            return values_of(user)

    async def delete(self, authorization: str, names: Sequence[str]
                     ) -> list[selfsvc.UserClientValue]:
        now = self.core.clock()
        async with self.core.write() as db:
            _, user, app = await self.self_service.me(db, authorization)
            policy = SelfServicePolicy.from_settings(app.settings)
            chosen = [_known(n.strip(), f"[{i}]") for i, n in enumerate(names)]
            for name in chosen:
                _editable(policy, name)
            if not names:
                chosen = list(policy.editable_values)
            await _write(db, user, dict.fromkeys(chosen), verified_at=None, now=now)
            audit.record(db, event="self_values_delete", outcome="success", now=now,
                         application_id=app.id, user_id=user.user_id)
            return values_of(user)

    async def set(self, authorization: str, values: Sequence[selfsvc.UserClientValue]
                  ) -> tuple[list[selfsvc.UserClientValue], list[str]]:
        if not values:
            raise _bad("values", "must name at least one value", "missing_field")
        changes: dict[str, str] = {}
        for i, item in enumerate(values):
            name = _known(item.name.strip(), f"[{i}].name")
            if name in changes:
                raise _bad(f"[{i}].name", "is given twice", "duplicate_value_name")
            changes[name] = _normalised(name, item.value, f"[{i}].value")
        now = self.core.clock()
        async with self.core.read() as db:
            _, user, app = await self.self_service.me(db, authorization)
        policy = SelfServicePolicy.from_settings(app.settings)
        for name in changes:
            _editable(policy, name)
        pending = {n: v for n, v in changes.items()
                   if n in _VERIFIED and v != getattr(user, _COLUMNS[n][0])}
        direct = {n: v for n, v in changes.items() if n not in _VERIFIED}
        if pending:
            await self.core.rate_limit(user_key=user.user_id)
        for name, address in pending.items():
            await self.core.throttle_delivery("EMAIL" if name == "email" else "SMS",
                                              username=user.user_id, address=address)
        async with self.core.write() as db:
            _, user, app = await self.self_service.me(db, authorization)
            await _write(db, user, dict(direct), verified_at=None, now=now)
            for name, address in pending.items():
                await self._send_code(db, app, user, name, address, now=now)
            audit.record(db, event="self_values_set", outcome="success", now=now,
                         application_id=app.id, user_id=user.user_id)
            return values_of(user), list(pending)

    async def _send_code(self, db: AsyncSession, app: Application, user: User, name: str,
                   address: str, *, now: float) -> None:
        ttl = app_policy(app.settings).otp_ttl_seconds
        code = generate_code(digits=CODE_DIGITS)
        await self.core.challenges.create(
            db, application_id=app.id, user_pk=user.pk, authenticator=SELF_VALUE_CODE,
            stage="code", state={"code_hash": hash_code(code=code, key=self.core.code_key),
                                 "name": name, "value": address},
            ttl_seconds=ttl, now=now)
        minutes = max(1, ttl // 60)
        self.core.outbox.add(db, Message(
            user_pk=user.pk, medium="EMAIL" if name == "email" else "SMS", address=address,
            kind=KIND_OTP,
            text=f"Your code to verify this {'address' if name == 'email' else 'number'} "
                 f"for {app.name} is {code}. It expires in {minutes} minutes.",
            values={"code": code, "minutes": str(minutes)}, application_id=app.id,
            expires_at=now + ttl), now=now)
        audit.record(db, event=f"self_values_{name}_verification_sent", outcome="success",
                     now=now, application_id=app.id, user_id=user.user_id,
                     authenticator=SELF_VALUE_CODE)

    async def verify(self, authorization: str, *, name: str, code: str
                     ) -> list[selfsvc.UserClientValue]:
        name = name.strip()
        if name not in _VERIFIED:
            raise _bad("name", "must be email or phone")
        code = code.strip()
        if not code:
            raise _bad("code", "is required", "missing_field")
        now = self.core.clock()
        async with self.core.read() as db:
            _, user, app = await self.self_service.me(db, authorization)
            rows = await self.core.challenges.find_open(
                db, application_id=app.id, user_pk=user.pk, authenticator=SELF_VALUE_CODE,
                now=now, limit=MAX_LIVE_CODES)
            states = await self.core.lockouts.states(db, user_pk=user.pk)
        _editable(SelfServicePolicy.from_settings(app.settings), name)
        await self.core.rate_limit(user_key=user.user_id)
        if is_locked(state=states.get(SELF_VALUE_CODE, LockoutState.clear()), now=now):
            raise codes_locked()
        matched = matching_code(rows, code=code, key=self.core.code_key,
                                accept=lambda state: state.get("name") == name)
        async with self.core.write() as db:
            if matched is not None:
                spent = await spend_code(self.core, db, matched, user_pk=user.pk,
                                         authenticator=SELF_VALUE_CODE, states=states,
                                         now=now)
                if spent is None:
                    raise codes_locked()
                if spent:
                    _, user, _ = await self.self_service.me(db, authorization)
                    await _write(db, user, {name: str(matched.state["value"])},
                                 verified_at=now, now=now)
                    audit.record(db, event=f"self_values_{name}_verify", outcome="success",
                                 now=now, application_id=app.id, user_id=user.user_id,
                                 authenticator=SELF_VALUE_CODE)
                    return values_of(user)
            refused = await count_wrong_code(self.core, db, user_pk=user.pk,
                                             authenticator=SELF_VALUE_CODE, now=now)
            audit.record(db, event=f"self_values_{name}_verify", outcome="failure",
                         reason="invalid_code", now=now, application_id=app.id,
                         user_id=user.user_id, authenticator=SELF_VALUE_CODE)
        if refused:
            raise codes_locked()
        raise _bad("code", "is invalid or has expired", "invalid_code")
