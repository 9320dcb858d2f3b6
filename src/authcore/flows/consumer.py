"""The consumer email+password API (/consumer/v1): login, sliding auth tokens,
expired passwords, identities and access tokens, SMS and push step-up, logout.

Auth tokens are opaque (only their SHA-256 is stored) because their life
slides: each authenticated call moves `expires_at` 5 minutes on, under an
absolute cap. Access tokens are ES256 JWTs with their own expiry.

Lockout counters are the shared `lockouts` rows (PASSWORD, OTP) that the
Entrust and Axidian flows use, with the policy of the consumer application
(5 failures, 30 minutes by default), so a user's failures count the same
whichever API they came through.

Errors follow the API: 400 with invalidFields codes REQUIRED / SIZE / REGEX /
IN, 401, 409 with an errorCode, 423 while locked.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authcore.config import Settings
from authcore.consumer.v1 import consumer_pb2 as pb
from authcore.delivery.channels import KIND_OTP, KIND_PUSH
from authcore.delivery.outbox import Message
from authcore.errors import (
    HTTP_BODY_PREFIX,
    HTTP_HEADER_PREFIX,
    AuthcoreError,
    Conflict,
    InvalidArgument,
    Locked,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from authcore.flows import audit
from authcore.flows.authentication import Caller
from authcore.flows.challenges import bare_token, token_hash
from authcore.flows.context import Core
from authcore.flows.ghosts import burn_password_time, ghost_id
from authcore.flows.policy import require_allowed
from authcore.limits.lockout import LockoutState, is_locked
from authcore.store.hot import HotTx
from authcore.store.hot import queries as hq
from authcore.store.hot import statements as q
from authcore.store.hot.queries import UserRow
from authcore.store.models import (
    ConsumerSession,
    Group,
    GroupMember,
    Password,
    ScaFactor,
    Session,
    StepUp,
    User,
)
from authcore.tokens.jwt import TokenError
from authcore.verify.otp import OTPVerificationError, generate_code, hash_code, verify_code
from authcore.verify.password import (
    PasswordVerificationError,
    check_password_policy,
    hash_password,
    verify_password,
)
from authcore.verify.push import (
    PushVerificationError,
    generate_push_challenge,
    load_device_public_key,
    verify_push_response,
)

AUTH = "auth"
TEMPORARY = "temporary"
# An auth token lives at most this long, however active its holder.
ABSOLUTE_SECONDS = 12 * 3600
TEMPORARY_SECONDS = 300
CODE_SECONDS = 300
PUSH_SECONDS = 300
SANDBOX_CODE = "123456"
ACCESS_TOKEN_AUDIENCE = "consumer"  # noqa: S105 - a JWT audience

OTP_CHANNELS = ("SMS",)
PUSH_CHANNELS = ("BIOMETRIC",)
# Documented push channels this server does not deliver to (Twilio Authy).
UNSUPPORTED_PUSH_CHANNELS = ("AUTHY",)

_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_E164_RE = re.compile(r"\+[1-9][0-9]{6,14}")
_CODE_RE = re.compile(r"[0-9]{6}")
_UUID_RE = re.compile(r"[0-9a-fA-F-]{36}")
_CREDENTIALS_NS = uuid.UUID("6f1c1d1e-4b51-4c0c-9a53-0c6a1d2f7e21")

LOGIN_FAILED = "The authentication credentials are not found or are incorrect."
EXPIRED_MESSAGE = ("The user's password has expired. Use the returned temporary token to "
                   "update their password via the '/passwords/update' endpoint.")
# What a lockout message says is locked.
ACCOUNT = "The account"
OTP_LOCK = "One-time password verification"
BAD_TOKEN = "The auth token is not specified or is incorrect."  # noqa: S105


# ------------------------------------------------------------------ errors

@dataclass(frozen=True)
class _Field:
    name: str
    error: str          # REQUIRED, SIZE, REGEX, IN, NOT_IN, INVALID_TYPE
    description: str
    params: tuple[str, ...] = ()


def _invalid(*fields: _Field) -> InvalidArgument:
    metadata: dict[str, str] = {}
    for f in fields:
        metadata[f"error:{f.name}"] = f.error
        if f.params:
            metadata[f"params:{f.name}"] = ",".join(f.params)
    return InvalidArgument(
        "; ".join(f"{f.name} {f.description}" for f in fields),
        reason="invalid_fields",
        field_violations=[(f.name, f.description) for f in fields],
        metadata=metadata,
    )


def _conflict(message: str, code: str) -> Conflict:
    return Conflict(message, reason=code.lower(), metadata={"errorCode": code})


def _locked(state: LockoutState, now: float, what: str) -> Locked:
    if state.lockout_expires_at is None:
        return Locked(f"{what} is locked due to failed consecutive attempts. "
                      "Contact support to unlock it.")
    wait = max(1, math.ceil(state.lockout_expires_at - now))
    minutes = max(1, math.ceil(wait / 60))
    return Locked(
        f"{what} is temporarily locked due to failed consecutive attempts. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
        metadata={HTTP_HEADER_PREFIX + "Retry-After": str(wait),
                  "retryAfterSeconds": str(wait)},
    )


def _required(value: str, name: str) -> _Field | None:
    return _Field(name, "REQUIRED", "is required") if not value else None


def _code_field(code: str, name: str = "verificationCode") -> list[_Field]:
    if not code:
        return [_Field(name, "REQUIRED", "is required")]
    if not _CODE_RE.fullmatch(code):
        return [_Field(name, "REGEX", "must be 6 digits", ("^[0-9]{6}$",))]
    return []


def _channel(value: str, allowed: tuple[str, ...], unsupported: tuple[str, ...] = ()) -> str:
    if value in unsupported:
        raise _conflict(f"The {value} channel is not supported.", "CHANNEL_NOT_SUPPORTED")
    if value not in allowed:
        raise _invalid(_Field("channel", "IN", f"must be one of {', '.join(allowed)}",
                              allowed + unsupported))
    return value


# ------------------------------------------------------------------ helpers

def credentials_id(user: User | UserRow) -> str:
    """Stable id of the user's ROOT credentials (email + password)."""
    return str(uuid.uuid5(_CREDENTIALS_NS, user.pk))


def _identity(user: User | UserRow) -> pb.IdentityId:
    return pb.IdentityId(type=pb.IDENTITY_TYPE_CONSUMER, id=user.pk)


def _credentials(user: User | UserRow) -> pb.CredentialsId:
    return pb.CredentialsId(type=pb.CREDENTIALS_TYPE_ROOT, id=credentials_id(user))


def _display_name(user: User | UserRow) -> str:
    if user.display_name:
        return user.display_name
    full = " ".join(p for p in (user.first_name, user.last_name) if p)
    return full or user.user_id


_IDENTITY_NAMES = {pb.IDENTITY_TYPE_CONSUMER: "CONSUMER", pb.IDENTITY_TYPE_CORPORATE: "CORPORATE"}


class ConsumerFlow:
    def __init__(self, core: Core) -> None:
        self.core = core

    # -- common ------------------------------------------------------------

    @property
    def _settings(self) -> Settings:
        return self.core.settings

    def _new_code(self) -> str:
        return SANDBOX_CODE if self._settings.sandbox else generate_code(digits=6)

    async def _send_sms(self, db: AsyncSession, *, user_pk: str, address: str, code: str,
                        now: float, client_ip: str) -> None:
        if self._settings.sandbox:
            return  # the sandbox sends nothing; the code is always SANDBOX_CODE
        # Inside the caller's transaction, like its rate limits: a refusal
        # rolls back the pending factor or step-up it was writing.
        await self.core.throttle_delivery("SMS", address=address, client_ip=client_ip)
        minutes = CODE_SECONDS // 60
        self.core.outbox.add(db, Message(
            user_pk=user_pk, medium="SMS", address=address, kind=KIND_OTP,
            text=f"Your verification code is {code}. It expires in {minutes} minutes.",
            values={"code": code, "minutes": str(minutes)},
            application_id=self._settings.consumer_application_id,
            expires_at=now + CODE_SECONDS), now=now)

    async def _burn_password_time(self, password: str) -> None:
        """Spend an argon2 verification on an unknown account, so response
        time doesn't tell which emails have one."""
        await burn_password_time(self.core, password)

    async def _ghost_failure(self, email: str, password: str, now: float,
                             caller: Caller) -> AuthcoreError:
        """A login for an email that is no account able to log in: the lock
        check, argon2, the counted failure and the audit row of a wrong
        password, and its answer, 423 included (flows/ghosts.py)."""
        gid = ghost_id(self.core.code_key, email)
        state = await self.core.ghosts.state(gid, "PASSWORD", now=now)
        if is_locked(state=state, now=now):
            return _locked(state, now, ACCOUNT)
        await self._burn_password_time(password)
        async with self.core.hot.transaction() as tx:
            counted = await self.core.ghosts.record_failure(
                gid, "PASSWORD", policy=self.core.settings.lockout, now=now)
            await audit.hot_record(
                tx, event="consumer_login", outcome="refused" if counted.refused else "failure",
                reason="account_locked" if counted.refused else "invalid_credentials", now=now,
                application_id=self._settings.consumer_application_id,
                user_id=email[:255], authenticator="PASSWORD", client_ip=caller.client_ip)
        if counted.refused or is_locked(state=counted.state, now=now):
            return _locked(counted.state, now, ACCOUNT)
        return Unauthenticated(LOGIN_FAILED, reason="invalid_credentials")

    async def _open_session(self, db: AsyncSession, user: User, kind: str, now: float) -> str:
        token = secrets.token_urlsafe(32)
        idle = self._settings.consumer_idle_seconds if kind == AUTH else TEMPORARY_SECONDS
        cap = now + (ABSOLUTE_SECONDS if kind == AUTH else TEMPORARY_SECONDS)
        db.add(ConsumerSession(
            id=str(uuid.uuid4()), token_hash=token_hash(token), user_pk=user.pk, kind=kind,
            created_at=now, last_used_at=now, expires_at=min(now + idle, cap),
            absolute_expires_at=cap, step_up_at=None, step_up_method=None, revoked_at=None))
        return token

    async def _hot_open_session(self, tx: HotTx, user: UserRow, kind: str, now: float) -> str:
        token = secrets.token_urlsafe(32)
        idle = self._settings.consumer_idle_seconds if kind == AUTH else TEMPORARY_SECONDS
        cap = now + (ABSOLUTE_SECONDS if kind == AUTH else TEMPORARY_SECONDS)
        await tx.execute(q.INSERT_CONSUMER_SESSION, {
            "id": str(uuid.uuid4()), "token_hash": token_hash(token), "user_pk": user.pk,
            "kind": kind, "now": now, "expires_at": min(now + idle, cap),
            "absolute_expires_at": cap})
        return token

    async def _hot_session(self, authorization: str, now: float
                           ) -> tuple[hq.ConsumerSessionRow, UserRow]:
        """`_session` on the hot path: the caller's live auth session and
        user in one read, then the slide of its idle expiry in its own short
        write (an authenticated call that writes nothing else)."""
        session, user = await self._hot_session_read(authorization, now)
        expires = min(now + self._settings.consumer_idle_seconds, session.absolute_expires_at)
        async with self.core.hot.transaction() as tx:
            await tx.execute(q.SLIDE_CONSUMER_SESSION,
                             {"id": session.id, "now": now, "expires_at": expires})
        return session, user

    async def _hot_session_read(self, authorization: str, now: float
                                ) -> tuple[hq.ConsumerSessionRow, UserRow]:
        token = bare_token(authorization)
        if not token or len(token) > 512:
            raise Unauthenticated(BAD_TOKEN, reason="missing_token" if not token
                                  else "invalid_token")
        found = await hq.consumer_session(self.core.hot, token_hash(token))
        if found is None:
            raise Unauthenticated(BAD_TOKEN, reason="invalid_token")
        session, user = found
        if (session.revoked_at is not None or session.expires_at <= now
                or session.absolute_expires_at <= now):
            raise Unauthenticated(BAD_TOKEN, reason="invalid_token")
        if session.kind != AUTH:
            raise Unauthenticated("This temporary token can only update the password, at "
                                  "/passwords/update.", reason="temporary_token")
        if user is None or not user.active:
            raise Unauthenticated(BAD_TOKEN, reason="user_disabled")
        return session, user

    async def _session(self, db: AsyncSession, authorization: str, now: float, *,
                       allow_temporary: bool = False, touch: bool = True,
                       ) -> tuple[ConsumerSession, User]:
        """The caller's live session and user; slides the idle expiry."""
        token = bare_token(authorization)
        if not token or len(token) > 512:
            raise Unauthenticated(BAD_TOKEN, reason="missing_token" if not token
                                  else "invalid_token")
        row = (await db.execute(select(ConsumerSession).where(
            ConsumerSession.token_hash == token_hash(token)))).scalar_one_or_none()
        if (row is None or row.revoked_at is not None or row.expires_at <= now
                or row.absolute_expires_at <= now):
            raise Unauthenticated(BAD_TOKEN, reason="invalid_token")
        if row.kind != AUTH and not allow_temporary:
            raise Unauthenticated("This temporary token can only update the password, at "
                                  "/passwords/update.", reason="temporary_token")
        user = await db.get(User, row.user_pk)
        if user is None or not user.active:
            raise Unauthenticated(BAD_TOKEN, reason="user_disabled")
        if touch and row.kind == AUTH:
            expires = min(now + self._settings.consumer_idle_seconds, row.absolute_expires_at)
            await db.execute(update(ConsumerSession)
                             .where(ConsumerSession.id == row.id,
                                    ConsumerSession.revoked_at.is_(None))
                             .values(last_used_at=now, expires_at=expires))
        return row, user

    async def _check_unlocked(self, db: AsyncSession, user: User, authenticator: str,
                              now: float, what: str) -> dict[str, LockoutState]:
        states = await self.core.lockouts.states(db, user_pk=user.pk)
        state = states.get(authenticator)
        if state is not None and is_locked(state=state, now=now):
            raise _locked(state, now, what)
        return states

    async def _count_failure(self, user: User | UserRow, authenticator: str, now: float,
                             error: AuthcoreError, what: str, caller: Caller,
                             event: str) -> AuthcoreError:
        """Record a failed attempt; the error to raise (423 when it locked)."""
        async with self.core.hot.transaction() as tx:
            counted = await self.core.lockouts.hot_record_failure(
                tx, user_pk=user.pk, authenticator=authenticator,
                policy=self.core.settings.lockout,
                now=now)
            await audit.hot_record(
                tx, event=event, outcome="refused" if counted.refused else "failure",
                reason="account_locked" if counted.refused else error.reason, now=now,
                application_id=self._settings.consumer_application_id,
                user_id=user.user_id, authenticator=authenticator, client_ip=caller.client_ip)
        # Locked already (by attempts that finished meanwhile) or by this one.
        locked = counted.refused or is_locked(state=counted.state, now=now)
        return _locked(counted.state, now, what) if locked else error

    async def _reset(self, db: AsyncSession, user: User, authenticator: str,
                     states: dict[str, LockoutState], now: float, what: str) -> None:
        """Reset the counter after a success, unless a lock was taken since
        it was read: then the success doesn't count (423)."""
        if authenticator in states:
            lock = await self.core.lockouts.record_success(
                db, user_pk=user.pk, authenticator=authenticator, now=now)
            if lock is not None:
                raise _locked(lock, now, what)

    def _audit(self, db: AsyncSession, event: str, outcome: str, user: User, now: float,
               caller: Caller, **extra: Any) -> None:
        audit.record(db, event=event, outcome=outcome, now=now,
                     application_id=self._settings.consumer_application_id,
                     user_id=user.user_id, client_ip=caller.client_ip, **extra)

    # -- login and passwords -----------------------------------------------

    async def login(self, req: pb.LoginRequest, caller: Caller) -> pb.LoginResponse:
        email, password = req.email.strip(), req.password.value
        problems: list[_Field] = []
        if not email:
            problems.append(_Field("email", "REQUIRED", "is required"))
        elif len(email) > 320:
            problems.append(_Field("email", "SIZE", "must be at most 320 characters",
                                   ("0", "320")))
        elif not _EMAIL_RE.fullmatch(email):
            problems.append(_Field("email", "REGEX", "must be an email address"))
        if not password:
            problems.append(_Field("password.value", "REQUIRED", "is required"))
        elif len(password) > 1024:
            problems.append(_Field("password.value", "SIZE",
                                   "must be at most 1024 characters", ("1", "1024")))
        if problems:
            raise _invalid(*problems)
        await self.core.rate_limit(client_ip=caller.client_ip, user_key=email)
        now = self.core.clock()
        hot = self.core.hot
        # The consumer application's policy decides, as every API's does:
        # its sessions come from a password alone. (Argon2 dominates this
        # call; one more indexed read is noise.)
        app = await hq.load_application(hot, self._settings.consumer_application_id)
        require_allowed(app.authenticators if app is not None else (), "PASSWORD")
        # A hot path: the user and password in one read, the counters, argon2
        # off the loop, then one write transaction.
        found = await hq.consumer_login_user(hot, email)
        user, row = found if found is not None else (None, None)
        states: dict[str, LockoutState] = {}
        if user is None or not user.active or row is None:
            raise await self._ghost_failure(email, password, now, caller)
        states = await self.core.lockouts.hot_states(hot, user_pk=user.pk)
        state = states.get("PASSWORD")
        if state is not None and is_locked(state=state, now=now):
            raise _locked(state, now, ACCOUNT)
        params = self._settings.argon2
        try:
            result = await self.core.blocking(verify_password, password=password,
                                              encoded_hash=row.hash, params=params)
        except PasswordVerificationError:
            raise await self._count_failure(
                user, "PASSWORD", now, Unauthenticated(LOGIN_FAILED, reason="invalid_credentials"),
                ACCOUNT, caller, "consumer_login") from None
        expired = row.expires_at is not None and row.expires_at <= now
        rehashed = None
        if result.needs_rehash and not expired:
            rehashed = await self.core.blocking(hash_password, password=password, params=params)
        async with hot.transaction() as tx:
            if "PASSWORD" in states:
                lock = await self.core.lockouts.hot_record_success(
                    tx, user_pk=user.pk, authenticator="PASSWORD", now=now)
                if lock is not None:
                    raise _locked(lock, now, ACCOUNT)
            if rehashed is not None:
                await tx.execute(q.REHASH_PASSWORD, {"hash": rehashed, "user_pk": user.pk,
                                                     "old_hash": row.hash})
            token = await self._hot_open_session(tx, user, TEMPORARY if expired else AUTH, now)
            await audit.hot_record(
                tx, event="consumer_login", outcome="password_expired" if expired else "success",
                now=now, application_id=self._settings.consumer_application_id,
                user_id=user.user_id, client_ip=caller.client_ip, authenticator="PASSWORD")
        if expired:
            raise Unauthenticated(EXPIRED_MESSAGE, reason="password_expired", metadata={
                HTTP_BODY_PREFIX + "token": token, HTTP_BODY_PREFIX + "tokenType": "TEMPORARY"})
        return pb.LoginResponse(token=token, token_type=pb.TOKEN_TYPE_AUTH,
                                identity=_identity(user), credentials=_credentials(user))

    async def update_password(self, req: pb.UpdatePasswordRequest, authorization: str,
                              caller: Caller) -> pb.UpdatePasswordResponse:
        new, old = req.new_password.value, req.old_password.value
        if not new:
            raise _invalid(_Field("newPassword.value", "REQUIRED", "is required"))
        try:
            check_password_policy(password=new)
        except PasswordVerificationError as exc:
            raise _invalid(_Field("newPassword.value", "SIZE", exc.message, ("8", "256"))) from None
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        async with self.core.read() as db:
            session, user = await self._session(db, authorization, now, allow_temporary=True,
                                                touch=False)
            row = await db.get(Password, user.pk)
            states = await self._check_unlocked(db, user, "PASSWORD", now, ACCOUNT)
        if row is None:
            raise Unauthenticated(BAD_TOKEN, reason="no_password")
        params = self._settings.argon2
        if session.kind == AUTH:
            # A stolen auth token alone must not be able to take the account over.
            if not old:
                raise _invalid(_Field("oldPassword.value", "REQUIRED", "is required"))
            try:
                await self.core.blocking(verify_password, password=old, encoded_hash=row.hash,
                                         params=params)
            except PasswordVerificationError:
                raise await self._count_failure(
                    user, "PASSWORD", now,
                    Unauthenticated(LOGIN_FAILED, reason="invalid_credentials"),
                    ACCOUNT, caller, "consumer_password_update") from None
        try:
            await self.core.blocking(verify_password, password=new, encoded_hash=row.hash,
                                     params=params)
            same = True
        except PasswordVerificationError:
            same = False
        if same:
            raise _invalid(_Field("newPassword.value", "NOT_IN",
                                  "must differ from the current password"))
        encoded = await self.core.blocking(hash_password, password=new, params=params)
        async with self.core.write() as db:
            await self._session(db, authorization, now, allow_temporary=True, touch=False)
            changed = await db.execute(
                update(Password).where(Password.user_pk == user.pk, Password.hash == row.hash)
                .values(hash=encoded, expires_at=None, updated_at=now))
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                raise _conflict("The password was changed meanwhile; log in again.",
                                "STATE_INVALID")
            # A new password ends every session of the user, on every API.
            await db.execute(update(ConsumerSession)
                             .where(ConsumerSession.user_pk == user.pk,
                                    ConsumerSession.revoked_at.is_(None))
                             .values(revoked_at=now))
            await db.execute(update(Session)
                             .where(Session.user_pk == user.pk, Session.revoked_at.is_(None))
                             .values(revoked_at=now))
            await self._reset(db, user, "PASSWORD", states, now, ACCOUNT)
            token = await self._open_session(db, user, AUTH, now)
            self._audit(db, "consumer_password_update", "success", user, now, caller,
                        authenticator="PASSWORD")
        return pb.UpdatePasswordResponse(token=token, token_type=pb.TOKEN_TYPE_AUTH,
                                         identity=_identity(user), credentials=_credentials(user))

    # -- identities and access tokens --------------------------------------

    @staticmethod
    async def _groups(db: AsyncSession, user: User) -> list[tuple[str, str]]:
        rows = await db.execute(select(Group.id, Group.display_name)
                                .join(GroupMember, GroupMember.group_id == Group.id)
                                .where(GroupMember.member_id == user.pk)
                                .order_by(Group.display_name, Group.id))
        return [(gid, name) for gid, name in rows]

    async def list_identities(self, authorization: str, caller: Caller
                              ) -> pb.ListIdentitiesResponse:
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        _, user = await self._hot_session(authorization, now)
        groups = await hq.user_groups(self.core.hot, user.pk)
        out = pb.ListIdentitiesResponse()
        out.identities.add(id=_identity(user), name=_display_name(user))
        for gid, name in groups:
            out.identities.add(id=pb.IdentityId(type=pb.IDENTITY_TYPE_CORPORATE, id=gid),
                               name=name)
        return out

    async def create_access_token(self, req: pb.CreateAccessTokenRequest, authorization: str,
                                  caller: Caller) -> pb.CreateAccessTokenResponse:
        if not req.HasField("identity"):
            raise _invalid(_Field("identity", "REQUIRED", "is required"))
        problems = [f for f in (
            _Field("identity.type", "REQUIRED", "is required")
            if req.identity.type == pb.IDENTITY_TYPE_UNSPECIFIED else None,
            _required(req.identity.id, "identity.id")) if f is not None]
        if problems:
            raise _invalid(*problems)
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        wanted = req.identity
        hot = self.core.hot
        session, user = await self._hot_session_read(authorization, now)
        state = (await self.core.lockouts.hot_states(hot, user_pk=user.pk)).get("PASSWORD")
        if state is not None and is_locked(state=state, now=now):
            raise _locked(state, now, ACCOUNT)
        if wanted.type == pb.IDENTITY_TYPE_CONSUMER:
            allowed = wanted.id == user.pk
        else:
            allowed = any(gid == wanted.id for gid, _ in await hq.user_groups(hot, user.pk))
        if not allowed:
            raise PermissionDenied("The identity is not available to this user.",
                                   reason="identity_not_available")
        if wanted.type != pb.IDENTITY_TYPE_CONSUMER and session.step_up_at is None:
            raise PermissionDenied("Acting for this identity requires a step-up: complete "
                                   "/stepup/otp or /stepup/push first.",
                                   reason="step_up_required")
        identity = {"type": _IDENTITY_NAMES[wanted.type], "id": wanted.id}
        amr = ["pwd"] + ([session.step_up_method] if session.step_up_method else [])
        claims = {
            "sub": user.user_id, "aud": ACCESS_TOKEN_AUDIENCE, "jti": str(uuid.uuid4()),
            "sid": session.id, "identity": identity,
            "credentials": {"type": "ROOT", "id": credentials_id(user)},
            "amr": amr, "auth_time": int(session.created_at),
            "step_up": session.step_up_at is not None,
        }
        token, _ = self.core.signer.sign(
            claims, ttl_seconds=self._settings.consumer_access_token_seconds, now=now)
        expires = min(now + self._settings.consumer_idle_seconds, session.absolute_expires_at)
        async with hot.transaction() as tx:
            await tx.execute(q.SLIDE_CONSUMER_SESSION,
                             {"id": session.id, "now": now, "expires_at": expires})
            await audit.hot_record(tx, event="consumer_access_token", outcome="success",
                                   now=now, application_id=self._settings.consumer_application_id,
                                   user_id=user.user_id, client_ip=caller.client_ip)
        return pb.CreateAccessTokenResponse(
            token=token, identity=pb.IdentityId(type=wanted.type, id=wanted.id),
            credentials=_credentials(user))

    # -- enrollment ----------------------------------------------------------

    @staticmethod
    async def _factor(db: AsyncSession, user: User, kind: str, status: str = "active",
                      *, lock: bool = False) -> ScaFactor | None:
        stmt = select(ScaFactor).where(ScaFactor.user_pk == user.pk, ScaFactor.kind == kind,
                                       ScaFactor.status == status)
        if lock:
            stmt = stmt.with_for_update()
        return (await db.execute(stmt)).scalar_one_or_none()

    async def enroll_otp(self, req: pb.EnrollOtpFactorRequest, authorization: str,
                         caller: Caller) -> None:
        _channel(req.channel, OTP_CHANNELS)
        number = req.mobile_number.strip()
        if number and not _E164_RE.fullmatch(number):
            raise _invalid(_Field("mobileNumber", "REGEX", "must be an E.164 number",
                                  (r"^\+[1-9][0-9]{6,14}$",)))
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        async with self.core.write() as db:
            session, user = await self._session(db, authorization, now)
            await self.core.rate_limit(user_key=f"consumer:{user.pk}")
            number = number or (user.phone or "")
            if not number:
                raise _invalid(_Field("mobileNumber", "REQUIRED",
                                      "is required: the user has no phone number"))
            if await self._factor(db, user, "otp") is not None and session.step_up_at is None:
                raise PermissionDenied("Replacing the enrolled phone requires a step-up.",
                                       reason="step_up_required")
            await db.execute(delete(ScaFactor).where(
                ScaFactor.user_pk == user.pk, ScaFactor.kind == "otp",
                ScaFactor.status == "pending"))
            code = self._new_code()
            db.add(ScaFactor(
                id=str(uuid.uuid4()), user_pk=user.pk, kind="otp", channel=req.channel,
                status="pending", address=number, public_key=None, device_name=None,
                push_token=None, code_hash=hash_code(code=code, key=self.core.code_key),
                code_expires_at=now + CODE_SECONDS, created_at=now, verified_at=None))
            await self._send_sms(db, user_pk=user.pk, address=number, code=code, now=now,
                                 client_ip=caller.client_ip)
            self._audit(db, "consumer_enroll_otp", "started", user, now, caller,
                        authenticator="OTP")

    async def verify_otp_enrollment(self, req: pb.VerifyOtpFactorRequest, authorization: str,
                                    caller: Caller) -> None:
        _channel(req.channel, OTP_CHANNELS)
        problems = _code_field(req.verification_code)
        if problems:
            raise _invalid(*problems)
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        failure: AuthcoreError | None = None
        async with self.core.write() as db:
            _, user = await self._session(db, authorization, now)
            await self._check_unlocked(db, user, "OTP", now, OTP_LOCK)
            pending = await self._factor(db, user, "otp", "pending")
            if pending is None or pending.code_hash is None:
                raise _conflict("No phone enrollment is waiting for verification.",
                                "STATE_INVALID")
            code_hash, expires_at = pending.code_hash, pending.code_expires_at or 0.0
            # Used up by this attempt, right or wrong (the UPDATE also clears
            # the loaded object's attributes, hence the copies above).
            taken = await db.execute(update(ScaFactor).where(
                ScaFactor.id == pending.id, ScaFactor.code_hash == code_hash,
            ).values(code_hash=None))
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise _conflict("The code was already used.", "STATE_INVALID")
            if expires_at <= now:
                failure = _conflict("The verification code has expired; enroll again.",
                                    "VERIFICATION_CODE_EXPIRED")
            elif not _code_matches(req.verification_code, code_hash, self.core.code_key):
                failure = _conflict("The verification code is incorrect; enroll again.",
                                    "VERIFICATION_CODE_INVALID")
            else:
                await db.execute(delete(ScaFactor).where(
                    ScaFactor.user_pk == user.pk, ScaFactor.kind == "otp",
                    ScaFactor.status == "active"))
                await db.execute(update(ScaFactor).where(ScaFactor.id == pending.id)
                                 .values(status="active", verified_at=now, code_expires_at=None))
                self._audit(db, "consumer_enroll_otp", "success", user, now, caller,
                            authenticator="OTP")
        if failure is None:
            return
        if failure.reason == "verification_code_invalid":
            raise await self._count_failure(user, "OTP", now, failure, OTP_LOCK,
                                            caller, "consumer_enroll_otp")
        raise failure

    async def enroll_push(self, req: pb.EnrollPushFactorRequest, authorization: str,
                          caller: Caller) -> pb.EnrollPushFactorResponse:
        channel = _channel(req.channel, PUSH_CHANNELS, UNSUPPORTED_PUSH_CHANNELS)
        if not req.public_key:
            raise _invalid(_Field("publicKey", "REQUIRED", "is required"))
        problems = []
        try:
            der = load_device_public_key(public_key=req.public_key[:4096])
        except PushVerificationError:
            problems.append(_Field("publicKey", "REGEX",
                                   "must be a base64 P-256 public key (SPKI DER or "
                                   "uncompressed point)"))
        if len(req.device_name) > 255:
            problems.append(_Field("deviceName", "SIZE", "must be at most 255 characters",
                                   ("0", "255")))
        if len(req.push_token) > 4096:
            problems.append(_Field("pushToken", "SIZE", "must be at most 4096 characters",
                                   ("0", "4096")))
        if problems:
            raise _invalid(*problems)
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        device_id = str(uuid.uuid4())
        async with self.core.write() as db:
            session, user = await self._session(db, authorization, now)
            if await self._factor(db, user, "push") is not None and session.step_up_at is None:
                raise PermissionDenied("Replacing the enrolled device requires a step-up.",
                                       reason="step_up_required")
            await db.execute(delete(ScaFactor).where(ScaFactor.user_pk == user.pk,
                                                     ScaFactor.kind == "push"))
            db.add(ScaFactor(
                id=device_id, user_pk=user.pk, kind="push", channel=channel, status="active",
                address=None, public_key=der, device_name=req.device_name or None,
                push_token=req.push_token or None, code_hash=None, code_expires_at=None,
                created_at=now, verified_at=now))
            self._audit(db, "consumer_enroll_push", "success", user, now, caller,
                        authenticator="PUSH")
        return pb.EnrollPushFactorResponse(id=device_id)

    # -- SMS step-up ---------------------------------------------------------

    async def start_otp_step_up(self, authorization: str, caller: Caller) -> None:
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        async with self.core.write() as db:
            session, user = await self._session(db, authorization, now)
            await self.core.rate_limit(user_key=f"consumer:{user.pk}")
            await self._check_unlocked(db, user, "OTP", now, OTP_LOCK)
            factor = await self._factor(db, user, "otp")
            if factor is None or not factor.address:
                raise _conflict("No phone is enrolled for one-time passwords.",
                                "CHANNEL_NOT_REGISTERED")
            # A new code replaces any earlier one of this session.
            await db.execute(update(StepUp).where(
                StepUp.session_id == session.id, StepUp.method == "otp",
                StepUp.status == "pending").values(status="superseded"))
            code = self._new_code()
            db.add(StepUp(id=str(uuid.uuid4()), session_id=session.id, user_pk=user.pk,
                          method="otp", channel=factor.channel, status="pending",
                          code_hash=hash_code(code=code, key=self.core.code_key),
                          challenge=None, created_at=now, expires_at=now + CODE_SECONDS,
                          answered_at=None))
            await self._send_sms(db, user_pk=user.pk, address=factor.address, code=code,
                                 now=now, client_ip=caller.client_ip)
            self._audit(db, "consumer_stepup", "started", user, now, caller,
                        authenticator="OTP")

    async def verify_otp_step_up(self, req: pb.VerifyOtpStepUpRequest, authorization: str,
                                 caller: Caller) -> None:
        problems = _code_field(req.verification_code)
        if problems:
            raise _invalid(*problems)
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        failure: AuthcoreError | None = None
        async with self.core.write() as db:
            session, user = await self._session(db, authorization, now)
            await self.core.rate_limit(user_key=f"consumer:{user.pk}")
            states = await self._check_unlocked(db, user, "OTP", now, OTP_LOCK)
            step = (await db.execute(
                select(StepUp).where(StepUp.session_id == session.id, StepUp.method == "otp",
                                     StepUp.status == "pending")
                .order_by(StepUp.created_at.desc()).limit(1))).scalar_one_or_none()
            if step is None or step.code_hash is None:
                raise _conflict("No SMS step-up is in flight; start one with /stepup/otp.",
                                "STATE_INVALID")
            expired = step.expires_at <= now
            matches = not expired and _code_matches(req.verification_code, step.code_hash,
                                                    self.core.code_key)
            status = "approved" if matches else ("expired" if expired else "failed")
            # Compare-and-set: of concurrent verifies of one code only one counts.
            taken = await db.execute(update(StepUp)
                                     .where(StepUp.id == step.id, StepUp.status == "pending")
                                     .values(status=status, answered_at=now))
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise _conflict("The step-up was already answered.", "STATE_INVALID")
            if matches:
                await db.execute(update(ConsumerSession).where(ConsumerSession.id == session.id)
                                 .values(step_up_at=now, step_up_method="otp"))
                await self._reset(db, user, "OTP", states, now, OTP_LOCK)
                self._audit(db, "consumer_stepup", "success", user, now, caller,
                            authenticator="OTP")
            elif expired:
                failure = _conflict("The verification code has expired; start a new step-up.",
                                    "VERIFICATION_CODE_EXPIRED")
            else:
                failure = _conflict("The verification code is incorrect; start a new step-up.",
                                    "VERIFICATION_CODE_INVALID")
        if failure is None:
            return
        if failure.reason == "verification_code_invalid":
            raise await self._count_failure(user, "OTP", now, failure, OTP_LOCK,
                                            caller, "consumer_stepup")
        raise failure

    # -- push step-up --------------------------------------------------------

    async def start_push_step_up(self, req: pb.StartPushStepUpRequest, authorization: str,
                                 caller: Caller) -> pb.StartPushStepUpResponse:
        channel = _channel(req.channel, PUSH_CHANNELS, UNSUPPORTED_PUSH_CHANNELS)
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        step_id = str(uuid.uuid4())
        async with self.core.write() as db:
            session, user = await self._session(db, authorization, now)
            await self.core.rate_limit(user_key=f"consumer:{user.pk}")
            # Locking the device row serialises concurrent starts (PostgreSQL;
            # SQLite has one writer), so two can't both see none in flight.
            factor = await self._factor(db, user, "push", lock=True)
            if factor is None or factor.channel != channel:
                raise _conflict(f"No device is enrolled on the {channel} channel.",
                                "CHANNEL_NOT_REGISTERED")
            in_flight = (await db.execute(select(StepUp.id).where(
                StepUp.user_pk == user.pk, StepUp.method == "push",
                StepUp.status == "pending", StepUp.expires_at > now).limit(1))).first()
            if in_flight is not None:
                raise _conflict("A push step-up is already in flight; wait for its answer.",
                                "STATE_INVALID")
            # Push fatigue is message bombing too: the device gets the limits
            # a phone gets.
            await self.core.throttle_delivery("PUSH", address=factor.id,
                                              client_ip=caller.client_ip)
            challenge = generate_push_challenge()
            db.add(StepUp(id=step_id, session_id=session.id, user_pk=user.pk, method="push",
                          channel=channel, status="pending", code_hash=None,
                          challenge=challenge, created_at=now, expires_at=now + PUSH_SECONDS,
                          answered_at=None))
            # The relay hands this to the device's push service.
            self.core.outbox.add(db, Message(
                user_pk=user.pk, medium="PUSH", address=factor.id, kind=KIND_PUSH,
                text=json.dumps({"type": "stepup", "id": step_id, "challenge": challenge,
                                 "expiresAt": int(now + PUSH_SECONDS),
                                 "pushToken": factor.push_token or ""}),
                application_id=self._settings.consumer_application_id,
                expires_at=now + PUSH_SECONDS), now=now)
            self._audit(db, "consumer_stepup", "started", user, now, caller,
                        authenticator="PUSH")
        return pb.StartPushStepUpResponse(id=step_id)

    async def respond_push_step_up(self, req: pb.RespondPushStepUpRequest,
                                   caller: Caller) -> None:
        problems = [f for f in (
            _required(req.id, "id"),
            _Field("outcome", "REQUIRED", "is required", ("APPROVED", "DENIED"))
            if req.outcome == pb.PUSH_OUTCOME_UNSPECIFIED else None,
            _required(req.signature, "signature")) if f is not None]
        if problems:
            raise _invalid(*problems)
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        outcome = "APPROVED" if req.outcome == pb.PUSH_OUTCOME_APPROVED else "DENIED"
        async with self.core.read() as db:
            step = await db.get(StepUp, req.id) if _UUID_RE.fullmatch(req.id) else None
            if step is None or step.method != "push":
                raise NotFound("The push step-up was not found.", reason="step_up_not_found")
            if step.status != "pending" or step.expires_at <= now:
                raise _conflict("The push step-up was already answered or has expired.",
                                "STATE_INVALID")
            owner = await db.get(ConsumerSession, step.session_id)
            if owner is None or owner.revoked_at is not None or owner.expires_at <= now:
                raise _conflict("The session of this push step-up has ended.",
                                "STATE_INVALID")
            factor = (await db.execute(select(ScaFactor).where(
                ScaFactor.user_pk == step.user_pk, ScaFactor.kind == "push",
                ScaFactor.status == "active"))).scalar_one_or_none()
            user = await db.get(User, step.user_pk)
        if factor is None or factor.public_key is None or user is None:
            raise _conflict("The device of this step-up is no longer enrolled.",
                            "CHANNEL_NOT_REGISTERED")
        try:
            verify_push_response(public_key_der=factor.public_key, transaction_id=step.id,
                                 challenge=step.challenge or "", outcome=outcome,
                                 signature=req.signature[:512])
        except PushVerificationError as exc:
            # Nothing changes: a forged answer can neither approve nor deny.
            async with self.core.write() as db:
                self._audit(db, "consumer_stepup_respond", "failure", user, now, caller,
                            authenticator="PUSH", reason=exc.reason)
            raise Unauthenticated("The device signature does not verify.",
                                  reason="invalid_signature") from None
        status = "approved" if outcome == "APPROVED" else "denied"
        async with self.core.write() as db:
            taken = await db.execute(update(StepUp)
                                     .where(StepUp.id == step.id, StepUp.status == "pending",
                                            StepUp.expires_at > now)
                                     .values(status=status, answered_at=now))
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise _conflict("The push step-up was already answered or has expired.",
                                "STATE_INVALID")
            if status == "approved":
                await db.execute(update(ConsumerSession)
                                 .where(ConsumerSession.id == step.session_id,
                                        ConsumerSession.revoked_at.is_(None))
                                 .values(step_up_at=now, step_up_method="push"))
            self._audit(db, "consumer_stepup", status, user, now, caller, authenticator="PUSH")

    async def get_push_step_up(self, req: pb.GetPushStepUpRequest, authorization: str,
                               caller: Caller) -> pb.GetPushStepUpResponse:
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        async with self.core.write() as db:
            session, _ = await self._session(db, authorization, now)
            step = await db.get(StepUp, req.id) if _UUID_RE.fullmatch(req.id) else None
        if step is None or step.method != "push" or step.session_id != session.id:
            raise NotFound("The push step-up was not found.", reason="step_up_not_found")
        status = {
            "approved": pb.PUSH_STEP_UP_STATUS_APPROVED,
            "denied": pb.PUSH_STEP_UP_STATUS_DENIED,
        }.get(step.status, pb.PUSH_STEP_UP_STATUS_PENDING)
        if step.status == "pending" and step.expires_at <= now:
            status = pb.PUSH_STEP_UP_STATUS_EXPIRED
        return pb.GetPushStepUpResponse(id=step.id, status=status, channel=step.channel)

    # -- logout --------------------------------------------------------------

    async def logout(self, authorization: str, caller: Caller) -> pb.LogoutResponse:
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        async with self.core.write() as db:
            session, user = await self._session(db, authorization, now, touch=False)
            await db.execute(update(ConsumerSession).where(ConsumerSession.id == session.id)
                             .values(revoked_at=now))
            self._audit(db, "consumer_logout", "success", user, now, caller)
        return pb.LogoutResponse(url=self._settings.logout_url)


async def live_access_token(core: Core, token: str, *, now: float) -> dict[str, Any] | None:
    """The claims of a consumer access token whose signature, audience and
    expiry hold and whose session (`sid`) is neither logged out nor expired;
    None otherwise. Access tokens are not session rows of their own: they
    live as long as the session they were exchanged from, so logout revokes
    them."""
    try:
        claims = core.signer.verify(token, audience=ACCESS_TOKEN_AUDIENCE, now=now)
    except TokenError:
        return None
    sid = claims.get("sid")
    if not isinstance(sid, str) or not sid:
        return None
    row = await core.hot.one(q.CONSUMER_SESSION_BY_ID, {"id": sid[:36]})
    if (row is None or row["revoked_at"] is not None or row["expires_at"] <= now
            or row["absolute_expires_at"] <= now):
        return None
    return claims


def _code_matches(code: str, code_hash: str, key: bytes) -> bool:
    try:
        verify_code(code=code, code_hash=code_hash, key=key)  # constant time
    except OTPVerificationError:
        return False
    return True
