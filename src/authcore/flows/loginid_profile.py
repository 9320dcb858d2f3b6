"""LoginID's profile and devices API: the signed-in user's email address and
phone number, proved by a code, the deletion of their account, and the
devices they signed in from.

Who may: a session JWT of the user, or a grant token (flows/grants.py)
holding profile:write (changes) or profile:read (the device list), over the
username in the path. Another user's id answers 403, whether it exists or
not.

A change with requestVerification leaves the address as it was and sends a
code (PROFILE_CODE challenge: HMAC of the code, the new address, single
use, five minutes) to the new address through the outbox. The verify call
takes the code and username, needs no token (the code is the proof), and
then writes the address with its verification time. Failures count toward
the user's PROFILE_CODE lockout. SMS goes only with messagingConsent.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authcore.delivery.channels import KIND_OTP
from authcore.delivery.outbox import Message
from authcore.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from authcore.flows import audit, devices
from authcore.flows import grants as g
from authcore.flows.authentication import Caller
from authcore.flows.codes import count_wrong_code, matching_code, spend_code
from authcore.flows.directory import find_user, get_application
from authcore.flows.loginid import (
    CODE_DIGITS,
    CODE_TTL_SECONDS,
    MAX_LIVE_CODES,
    LoginIdFlow,
    rfc3339,
)
from authcore.flows.loginid_common import MAX_FIELD_CHARS, request_app_id, required_field
from authcore.identifiers import email_key, username_key
from authcore.limits.lockout import LockoutState, is_locked
from authcore.store.models import Device, User, UserValue
from authcore.v1 import fido2_profile_pb2 as pb
from authcore.verify.otp import generate_code, hash_code

PROFILE_CODE = "PROFILE_CODE"
EMAIL, SMS = "email", "sms"
MAX_EMAIL_CHARS = 320
# E.164: what an SMS gateway takes without guessing a country.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# Deliberately loose (RFC 5321 local parts are wild): one @, a dot in the
# domain, no spaces. Delivery is the real test, which is what the code is.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _valid_email(value: str) -> str:
    value = value.strip()
    if not value:
        raise _invalid("email", "is required", "missing_field")
    if len(value) > MAX_EMAIL_CHARS or not _EMAIL.fullmatch(value):
        raise _invalid("email", "must be an email address")
    return value


def _valid_phone(value: str) -> str:
    value = re.sub(r"[\s().-]", "", value)
    if not value:
        raise _invalid("phoneNumber", "is required", "missing_field")
    if not _E164.fullmatch(value):
        raise _invalid("phoneNumber", "must be in E.164 form, e.g. +14161234567")
    return value


def _invalid(field: str, why: str, reason: str = "invalid_field") -> InvalidArgument:
    return InvalidArgument(f"{field} {why}.", reason=reason, field_violations=[(field, why)])


def _forbidden() -> PermissionDenied:
    return PermissionDenied("The token does not allow changing this user.", reason="forbidden")


def codes_locked() -> PermissionDenied:
    return PermissionDenied("Too many failed attempts; verification codes are locked.",
                            reason="authenticator_locked")


def _bad_code() -> Unauthenticated:
    return Unauthenticated("The code is invalid or has expired.", reason="invalid_code")


def _device_message(row: Device) -> pb.Device:
    out = pb.Device(device_id=row.device_id, name=row.name, created_at=rfc3339(row.created_at))
    if row.last_used_at is not None:
        out.last_used_at = rfc3339(row.last_used_at)
    return out


async def _set_primary_value(db: AsyncSession, user_pk: str, attribute: str,
                             value: str | None) -> None:
    """Keep SCIM's multi-valued list in step with the delivery address:
    the primary (else first) value becomes the new one, or goes."""
    rows = list((await db.execute(
        select(UserValue).where(UserValue.user_pk == user_pk, UserValue.attribute == attribute)
        .order_by(UserValue.primary.desc(), UserValue.position))).scalars())
    if rows and value is None:
        await db.delete(rows[0])
    elif rows:
        rows[0].value = value
    elif value is not None:
        db.add(UserValue(user_pk=user_pk, attribute=attribute, position=0, value=value,
                         primary=True))


class LoginIdProfileFlow:
    def __init__(self, loginid: LoginIdFlow) -> None:
        self.loginid = loginid
        self.core = loginid.core

    async def _own_user(self, db: AsyncSession, user_id: str, authorization: str, need: str,
                        caller: Caller, now: float) -> tuple[g.Rights, User]:
        rights, user = await self.loginid.authorized_user(db, authorization, need, caller, now)
        if not user_id:
            raise _invalid("id", "is required", "missing_field")
        if username_key(user_id) != user.user_key and user_id != user.pk:
            raise _forbidden()
        return rights, user

    # -- account -----------------------------------------------------------

    async def delete_profile(self, req: pb.DeleteProfileRequest, caller: Caller) -> None:
        now = self.core.clock()
        async with self.core.read() as db:
            rights, user = await self._own_user(db, req.id, req.authorization,
                                                g.PROFILE_WRITE, caller, now)
        async with self.core.write() as db:
            # Passkeys, sessions, devices and values go with the row (cascade).
            await db.execute(delete(User).where(User.pk == user.pk))
            await self.core.lockouts.clear_all(db, user_pk=user.pk)
            audit.record(db, event="profile_delete", outcome="success", now=now,
                         application_id=rights.application_id, user_id=user.user_id,
                         client_ip=caller.client_ip)

    # -- addresses ---------------------------------------------------------

    async def update_email(self, req: pb.UpdateEmailRequest, caller: Caller) -> None:
        email = _valid_email(req.email)
        verify = req.request_verification if req.HasField("request_verification") else True
        await self._update(req.id, req.authorization, caller, channel=EMAIL, address=email,
                           consent=True, verify=verify)

    async def update_phone(self, req: pb.UpdatePhoneRequest, caller: Caller) -> None:
        phone = _valid_phone(req.phone_number)
        verify = req.request_verification if req.HasField("request_verification") else True
        if verify and not req.messaging_consent:
            raise _invalid("messagingConsent", "must be true to send a verification code by SMS")
        await self._update(req.id, req.authorization, caller, channel=SMS, address=phone,
                           consent=req.messaging_consent, verify=verify)

    async def delete_phone(self, req: pb.DeletePhoneRequest, caller: Caller) -> None:
        now = self.core.clock()
        async with self.core.read() as db:
            rights, user = await self._own_user(db, req.id, req.authorization,
                                                g.PROFILE_WRITE, caller, now)
        async with self.core.write() as db:
            await self._write_address(db, user.pk, channel=SMS, address=None, consent=False,
                                      verified_at=None, now=now)
            audit.record(db, event="profile_phone_delete", outcome="success", now=now,
                         application_id=rights.application_id, user_id=user.user_id,
                         client_ip=caller.client_ip)

    async def _update(self, user_id: str, authorization: str, caller: Caller, *, channel: str,
                      address: str, consent: bool, verify: bool) -> None:
        now = self.core.clock()
        async with self.core.read() as db:
            rights, user = await self._own_user(db, user_id, authorization, g.PROFILE_WRITE,
                                                caller, now)
            app = await get_application(db, rights.application_id)
        medium = "EMAIL" if channel == EMAIL else "SMS"
        if not verify:
            async with self.core.write() as db:
                await self._write_address(db, user.pk, channel=channel, address=address,
                                          consent=consent, verified_at=None, now=now)
                audit.record(db, event=f"profile_{channel}_update", outcome="success", now=now,
                             application_id=app.id, user_id=user.user_id,
                             client_ip=caller.client_ip)
            return
        await self.core.rate_limit(client_ip=caller.client_ip, user_key=user.user_id)
        await self.core.throttle_delivery(medium, username=user.user_id, address=address,
                                          client_ip=caller.client_ip)
        code = generate_code(digits=CODE_DIGITS)
        minutes = CODE_TTL_SECONDS // 60
        async with self.core.write() as db:
            await self.core.challenges.create(
                db, application_id=app.id, user_pk=user.pk, authenticator=PROFILE_CODE,
                stage="code", state={"code_hash": hash_code(code=code, key=self.core.code_key),
                                     "channel": channel, "address": address,
                                     "consent": consent},
                ttl_seconds=CODE_TTL_SECONDS, now=now)
            self.core.outbox.add(db, Message(
                user_pk=user.pk, medium=medium, address=address, kind=KIND_OTP,
                text=f"Your code to verify this {'address' if channel == EMAIL else 'number'} "
                     f"for {app.name} is {code}. It expires in {minutes} minutes.",
                values={"code": code, "minutes": str(minutes)}, application_id=app.id,
                expires_at=now + CODE_TTL_SECONDS), now=now)
            audit.record(db, event=f"profile_{channel}_verification_sent", outcome="success",
                         now=now, application_id=app.id, user_id=user.user_id,
                         authenticator=PROFILE_CODE, client_ip=caller.client_ip)

    async def _write_address(self, db: AsyncSession, user_pk: str, *, channel: str,
                             address: str | None, consent: bool, verified_at: float | None,
                             now: float) -> None:
        values: dict[str, Any]
        if channel == EMAIL:
            values = {"email": address, "email_key": email_key(address),
                      "email_verified_at": verified_at}
        else:
            values = {"phone": address, "phone_verified_at": verified_at,
                      "phone_consent": consent if address is not None else None}
        await db.execute(update(User).where(User.pk == user_pk).values(
            **values, updated_at=now, version=User.version + 1))
        await _set_primary_value(db, user_pk, "emails" if channel == EMAIL else "phoneNumbers",
                                 address)

    async def verify(self, *, channel: str, auth_code: str, username: str, app_id: str,
                     caller: Caller) -> None:
        """Unknown usernames and wrong codes answer alike (401)."""
        app_id = request_app_id(app_id, caller, "appId")
        username = required_field(username.strip(), "username")
        code = required_field(auth_code.strip(), "authCode")
        await self.core.rate_limit(client_ip=caller.client_ip, user_key=username)
        now = self.core.clock()
        async with self.core.read() as db:
            app = await get_application(db, app_id)
            user = await find_user(db, username)
            if user is None or not user.active:
                user = None
            rows = [] if user is None else await self.core.challenges.find_open(
                db, application_id=app.id, user_pk=user.pk, authenticator=PROFILE_CODE,
                now=now, limit=MAX_LIVE_CODES)
            states = {} if user is None else await self.core.lockouts.states(db,
                                                                             user_pk=user.pk)
        if user is None:
            raise _bad_code()
        if is_locked(state=states.get(PROFILE_CODE, LockoutState.clear()), now=now):
            raise codes_locked()
        matched = matching_code(rows, code=code, key=self.core.code_key,
                                accept=lambda state: state.get("channel") == channel)
        async with self.core.write() as db:
            if matched is not None:
                spent = await spend_code(self.core, db, matched, user_pk=user.pk,
                                         authenticator=PROFILE_CODE, states=states, now=now)
                if spent is None:
                    raise codes_locked()
                if spent:
                    await self._write_address(db, user.pk, channel=channel,
                                              address=str(matched.state["address"]),
                                              consent=bool(matched.state.get("consent")),
                                              verified_at=now, now=now)
                    audit.record(db, event=f"profile_{channel}_verify", outcome="success",
                                 now=now, application_id=app.id, user_id=user.user_id,
                                 authenticator=PROFILE_CODE, client_ip=caller.client_ip)
                    return
            refused = await count_wrong_code(self.core, db, user_pk=user.pk,
                                             authenticator=PROFILE_CODE, now=now)
            audit.record(db, event=f"profile_{channel}_verify", outcome="failure",
                         reason="invalid_code", now=now, application_id=app.id,
                         user_id=user.user_id, authenticator=PROFILE_CODE,
                         client_ip=caller.client_ip)
        if refused:
            raise codes_locked()
        raise _bad_code()

    # -- devices -----------------------------------------------------------

    async def list_devices(self, authorization: str, caller: Caller) -> list[pb.Device]:
        now = self.core.clock()
        async with self.core.read() as db:
            _, user = await self.loginid.authorized_user(db, authorization, g.PROFILE_READ,
                                                         caller, now)
            return [_device_message(d) for d in await devices.user_devices(db, user.pk)]

    async def rename_device(self, req: pb.RenameDeviceRequest, caller: Caller) -> None:
        name = req.name.strip()
        if not name:
            raise _invalid("name", "is required", "missing_field")
        if len(name) > MAX_FIELD_CHARS:
            raise _invalid("name", f"must be at most {MAX_FIELD_CHARS} characters")
        now = self.core.clock()
        async with self.core.read() as db:
            _, user = await self.loginid.authorized_user(db, req.authorization, g.PROFILE_WRITE,
                                                         caller, now)
        async with self.core.write() as db:
            row = await devices.find_device(db, user.pk, req.device_id)
            if row is None:
                raise _device_not_found()
            row.name = name

    async def delete_device(self, req: pb.DeleteDeviceRequest, caller: Caller) -> None:
        now = self.core.clock()
        async with self.core.read() as db:
            rights, user = await self.loginid.authorized_user(db, req.authorization,
                                                              g.PROFILE_WRITE, caller, now)
        async with self.core.write() as db:
            result = await db.execute(delete(Device).where(
                Device.user_pk == user.pk, Device.device_id == req.device_id))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise _device_not_found()
            audit.record(db, event="device_delete", outcome="success", now=now,
                         application_id=rights.application_id, user_id=user.user_id,
                         client_ip=caller.client_ip)


def _device_not_found() -> NotFound:
    return NotFound("The device was not found.", reason="device_not_found")
