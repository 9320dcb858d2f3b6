"""LoginID's FIDO2 client API (/fido2/v2): passkey registration and sign-in,
transaction confirmation, the signed-in user's passkeys, cross-device codes
and client events.

The WebAuthn ceremonies are flows.passkeys'; this module adds LoginID's
request and response shapes, who may start what (a JWT of the same user to
add a passkey to an existing account), the transaction commitment, and the
one-time sign-in codes (AUTH_CODE challenges: stored as HMACs, single use,
five minutes, lockout after repeated failures).

Usernames are not revealed: sign-in and transaction starts for an unknown
username answer like a discoverable sign-in (empty allowCredentials), and
the code sends always succeed.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from authcore.delivery.channels import KIND_EMAIL_VERIFICATION, KIND_OTP
from authcore.delivery.outbox import Message
from authcore.errors import (
    AuthcoreError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from authcore.flows import audit, devices, passkeys, signup
from authcore.flows import grants as g
from authcore.flows.aaguids import lookup as lookup_aaguid
from authcore.flows.authentication import Caller
from authcore.flows.challenges import bare_token
from authcore.flows.codes import count_wrong_code, matching_code, spend_code
from authcore.flows.context import Core
from authcore.flows.directory import find_user, get_application, valid_username
from authcore.flows.ghosts import ghost_credential_id
from authcore.flows.loginid_common import (
    MAX_FIELD_CHARS,
    app_id_from_host,
    assertion_json,
    codes_locked,
    device_json,
    missing_field,
    request_app_id,
    required_field,
    session_grant,
    tx_challenge,
    username_claim,
)
from authcore.flows.policy import AppPolicy, app_policy, require_allowed
from authcore.identifiers import username_key
from authcore.limits.lockout import LockoutState, is_locked
from authcore.store.hot import queries as hq
from authcore.store.hot.queries import PasskeyRow
from authcore.store.models import Application, PasskeyCredential, User
from authcore.store.models import Session as SessionRow
from authcore.tokens.sessions import issue_session, sign_session, verify_session
from authcore.v1 import fido2_pb2 as fido2
from authcore.verify.otp import generate_code, hash_code
from rest_bridge.codec import CodecError, json_to_message

AUTH_CODE = "AUTH_CODE"
CODE_DIGITS = 6
CODE_TTL_SECONDS = 300
# Codes checked per verification: bounds how far requesting many codes for
# one user can raise the odds of a guess (lockout bounds the guesses).
MAX_LIVE_CODES = 3
TX_TOKEN_TTL_SECONDS = 300
MAX_TX_PAYLOAD_BYTES = 64 * 1024
MIN_NONCE_CHARS = 8
CLIENT_EVENT_REASON_CHARS = 64
PASSKEY_AMR = ("passkey",)
CODE_AMR = ("otp",)
# The same, in the vocabulary of the application's policy (flows/policy.grant).
PASSKEY_FACTORS = ("PASSKEY",)
CODE_FACTORS = ("OTP",)

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def rfc3339(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(int(epoch_seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _optional(value: str, field: str) -> str:
    return required_field(value, field) if value else ""


def _options(data: dict[str, Any], cls: Any) -> Any:
    try:
        return json_to_message(data, cls)
    except CodecError as exc:  # our own options; a mismatch is a bug
        raise RuntimeError(f"WebAuthn options do not fit {cls.__name__}: {exc}") from exc


def _jwt_message(token: str, user_id: str, passkey_id: str | None,
                 device: dict[str, Any] | None) -> fido2.Jwt:
    out = fido2.Jwt(jwt_access=token, user_id=user_id)
    if passkey_id:
        out.passkey_id = passkey_id
    device_id = (device or {}).get("deviceId")
    if isinstance(device_id, str) and device_id:
        out.device_id = device_id
    return out


def passkey_message(p: PasskeyCredential | PasskeyRow) -> fido2.Passkey:
    out = fido2.Passkey(id=p.id, name=p.name, created_at=rfc3339(p.created_at),
                        aaguid=p.aaguid, credential_id=p.credential_id,
                        credential_synced=bool(p.backup_state))
    if p.last_used_at is not None:
        out.last_used_at = rfc3339(p.last_used_at)
    if p.last_used_device:
        try:
            json_to_message(p.last_used_device, fido2.DeviceInfo, into=out.last_used_from_device)
        except CodecError:
            out.ClearField("last_used_from_device")
    known = lookup_aaguid(p.aaguid)
    if known is not None:
        out.provider_name = known.name
    return out


@dataclass(frozen=True)
class Signed:
    """The caller's valid session JWT."""

    claims: dict[str, Any]
    session: SessionRow


class LoginIdFlow:
    def __init__(self, core: Core) -> None:
        self.core = core

    # -- shared ------------------------------------------------------------

    async def _signed(self, db: AsyncSession, authorization: str, now: float) -> Signed:
        """The caller's session JWT (raw or Bearer), or 401."""
        token = bare_token(authorization)
        if not token:
            raise Unauthenticated("A JWT is required in the Authorization header.",
                                  reason="missing_token")
        claims, session = await verify_session(db, self.core.signer, token, now=now)
        return Signed(claims=claims, session=session)

    async def _signed_user(self, db: AsyncSession, authorization: str, now: float
                           ) -> tuple[Signed, User]:
        signed = await self._signed(db, authorization, now)
        user = await db.get(User, signed.session.user_pk)
        if user is None or not user.active:
            raise Unauthenticated("The token's user is not active.", reason="invalid_token")
        return signed, user

    async def rights(self, db: AsyncSession, authorization: str, caller: Caller, now: float
                     ) -> g.Rights:
        """What the Authorization header allows: a session JWT every grant
        over its own user, a grant token (mgmt/grant) only its own. 401
        without a valid one."""
        token = bare_token(authorization)
        if not token:
            raise Unauthenticated("A JWT is required in the Authorization header.",
                                  reason="missing_token")
        if g.looks_like_grant_token(token):
            return await g.verify_grant_token(
                self.core, db, token, application_id=app_id_from_host(caller.host) or None,
                now=now)
        signed = await self._signed(db, authorization, now)
        user = await db.get(User, signed.session.user_pk)
        if user is None or not user.active:
            raise Unauthenticated("The token's user is not active.", reason="invalid_token")
        return g.session_rights(username=user.user_id,
                                application_id=signed.session.application_id,
                                session_id=signed.session.id)

    async def authorized_user(self, db: AsyncSession, authorization: str, need: str,
                              caller: Caller, now: float) -> tuple[g.Rights, User]:
        """The active user the token speaks for, when it holds `need`."""
        rights = await self.rights(db, authorization, caller, now)
        rights.require(need)
        user = await find_user(db, rights.username)
        if user is None or not user.active or user.pending_since is not None:
            raise Unauthenticated("The token's user is not active.", reason="invalid_token")
        return rights, user

    async def _jwt(self, db: AsyncSession, *, user: User, app: Application, amr: tuple[str, ...],
                   factors: tuple[str, ...], now: float, passkey_id: str | None = None,
                   device: dict[str, Any] | None = None) -> fido2.Jwt:
        issued = await issue_session(
            db, self.core.signer, user_pk=user.pk, user_id=user.user_id,
            grant=session_grant(app, factors),
            amr=amr,
            ttl_seconds=AppPolicy.from_json(app.settings).session_seconds, now=now,
            extra_claims=username_claim(user.user_id))
        return _jwt_message(issued.token, user.user_id, passkey_id, device)

    async def _passkey_jwt(self, user: User, app: Application, passkey_id: str,
                           device: dict[str, Any] | None, *, event: str, caller: Caller,
                           now: float) -> fido2.Jwt:
        """A completed passkey ceremony: audit it and issue the user's JWT."""
        async with self.core.write() as db:
            audit.record(db, event=event, outcome="success", now=now, application_id=app.id,
                         user_id=user.user_id, authenticator="PASSKEY",
                         client_ip=caller.client_ip)
            await devices.record_use(db, user_pk=user.pk, device=device, now=now)
            return await self._jwt(db, user=user, app=app, amr=PASSKEY_AMR,
                                   factors=PASSKEY_FACTORS, now=now, passkey_id=passkey_id,
                                   device=device)

    async def _failed(self, error: AuthcoreError, *, event: str, caller: Caller, now: float,
                      application_id: str | None = None, user_id: str | None = None) -> None:
        async with self.core.write() as db:
            audit.record(db, event=event, outcome="failure", reason=error.reason[:64], now=now,
                         application_id=application_id, user_id=user_id,
                         authenticator="PASSKEY", client_ip=caller.client_ip)

    @staticmethod
    def _check_bound_user(state: dict[str, Any], user: User) -> None:
        """A start for a named user that doesn't exist can't be answered with
        somebody else's discoverable passkey."""
        expected = state.get("username")
        if expected is not None and username_key(expected) != username_key(user.user_id):
            raise InvalidArgument("The passkey response was refused: credential_mismatch.",
                                  reason="credential_mismatch")

    # -- registration ------------------------------------------------------

    async def reg_init(self, req: fido2.RegInitRequest, authorization: str, caller: Caller
                       ) -> fido2.RegInitResponse:
        app_id = request_app_id(req.app.id, caller, "app.id")
        username = valid_username(required_field(req.user.username, "user.username"),
                                  "user.username")
        display_name = _optional(req.user.display_name, "user.displayName")
        await self.core.rate_limit(client_ip=caller.client_ip, user_key=username)
        now = self.core.clock()
        async with self.core.read() as db:
            app = await get_application(db, app_id)
            passkeys.check_origin(app, req.origin)
            require_allowed(app.authenticators, PASSKEY_FACTORS[0])
            user = await find_user(db, username)
            if user is not None and user.pending_since is not None:
                user = None  # an unproved sign-up: registering anew replaces it
            vouched = await self._vouched(db, app, username, authorization, caller, now)
            if vouched and user is not None and not user.active:
                raise _registration_denied()
            if user is not None and not vouched:
                await self._check_owner(db, user, app, authorization, now)
            elif user is None and not vouched and not app_policy(app.settings).self_sign_up:
                # The same answer as for somebody else's account, so that a
                # closed application tells nothing about which names exist.
                raise _registration_denied()
        async with self.core.write() as db:
            begun = await passkeys.begin_registration(
                self.core, db, app=app, user_pk=user.pk if user else str(uuid.uuid4()),
                username=username, display_name=display_name, existing=user is not None,
                now=now, extra={"device": device_json(req)})
        return fido2.RegInitResponse(
            action="proceed", session=begun.session,
            registration_request_options=_options(
                begun.options, fido2.PublicKeyCredentialCreationOptions))

    async def _vouched(self, db: AsyncSession, app: Application, username: str,
                       authorization: str, caller: Caller, now: float) -> bool:
        """A grant token with reg:write for this username (the backend
        vouches for it): it may add a passkey to that user, or create them
        where self sign-up is off."""
        token = bare_token(authorization)
        if not token or not g.looks_like_grant_token(token):
            return False
        try:
            rights = await g.verify_grant_token(self.core, db, token, application_id=app.id,
                                                now=now)
        except Unauthenticated:
            raise _registration_denied() from None
        rights.require(g.REG_WRITE)
        if not rights.covers(username):
            raise _registration_denied()
        return True

    async def _check_owner(self, db: AsyncSession, user: User, app: Application,
                           authorization: str, now: float) -> None:
        """Adding a passkey to an existing account needs that account's JWT
        for this application; anything else is 403."""
        denied = _registration_denied()
        if not user.active or not bare_token(authorization):
            raise denied
        try:
            signed = await self._signed(db, authorization, now)
        except Unauthenticated:
            raise denied from None
        if (signed.claims.get("sub") != user.user_id or signed.claims.get("aud") != app.id
                or signed.session.user_pk != user.pk):
            raise denied

    async def reg_complete(self, req: fido2.RegCompleteRequest, caller: Caller) -> fido2.Jwt:
        session = _session_field(req.session)
        if not req.HasField("creation_result"):
            raise missing_field("creationResult")
        cr = req.creation_result
        credential = {
            "id": cr.credential_id, "rawId": cr.credential_id, "type": "public-key",
            "response": {"clientDataJSON": cr.client_data_json,
                         "attestationObject": cr.attestation_object,
                         "transports": list(cr.transports)},
            "clientExtensionResults": {},
        }
        now = self.core.clock()
        name = req.passkey_name if req.HasField("passkey_name") else None
        if name is not None and len(name) > MAX_FIELD_CHARS:
            raise InvalidArgument("passkeyName is too long.", reason="invalid_field",
                                  field_violations=[("passkeyName", "at most 255 characters")])
        try:
            done = await passkeys.finish_registration(self.core, session=session,
                                                      credential=credential, name=name,
                                                      device=None)
        except AuthcoreError as exc:
            await self._failed(exc, event="passkey_register", caller=caller, now=now)
            raise
        if done.user.pending_since is not None:
            await self._prove_address(done, caller, now)
            raise signup.verification_required()
        return await self._passkey_jwt(done.user, done.application, done.passkey.id,
                                       done.state.get("device"), event="passkey_register",
                                       caller=caller, now=now)

    async def _prove_address(self, done: passkeys.Registered, caller: Caller,
                             now: float) -> None:
        """Mail the code that finishes a sign-up. Verified by
        `verify_auth_code`, which then activates the account; until then it
        signs in nowhere (flows/signup.py)."""
        user, app = done.user, done.application
        address = user.email or user.user_id
        await self.core.throttle_delivery("EMAIL", address=address, client_ip=caller.client_ip)
        code = generate_code(digits=CODE_DIGITS)
        async with self.core.write() as db:
            await self._new_code(db, user=user, app=app, channel="signup", code=code, now=now,
                                 factors=PASSKEY_FACTORS,
                                 extra={"passkey_id": done.passkey.id,
                                        "device": done.state.get("device")})
            minutes = CODE_TTL_SECONDS // 60
            self.core.outbox.add(db, Message(
                user_pk=user.pk, medium="EMAIL", address=address,
                kind=KIND_EMAIL_VERIFICATION,
                text=f"Your code to finish signing up to {app.name} is {code}. It "
                     f"expires in {minutes} minutes.",
                values={"code": code, "minutes": str(minutes)}, application_id=app.id,
                expires_at=now + CODE_TTL_SECONDS), now=now)
            audit.record(db, event="signup_verification_sent", outcome="success", now=now,
                         application_id=app.id, user_id=user.user_id,
                         authenticator="PASSKEY", client_ip=caller.client_ip)

    # -- sign-in -----------------------------------------------------------

    async def _begin_auth(self, *, app_id: str, username: str, origin: str, caller: Caller,
                          purpose: str, extra: dict[str, Any],
                          challenge: bytes | None = None) -> passkeys.Begun:
        """A hot path: the application and user in one read, the passkeys in
        another, the challenge in one write transaction."""
        await self.core.rate_limit(client_ip=caller.client_ip, user_key=username)
        now = self.core.clock()
        found = await hq.load_application_and_user(self.core.hot, app_id=app_id[:36],
                                                   user_id=username)
        if found is None:
            raise NotFound("The application was not found.", reason="application_not_found")
        app, user = found
        passkeys.check_origin(app, origin)
        require_allowed(app.authenticators, PASSKEY_FACTORS[0])
        if user is not None and not user.active:
            user = None
        decoy = None
        if username:
            # Bound to the name asked for, even when nobody has it, so the
            # allowCredentials of an unknown name can't be answered with
            # another user's discoverable passkey.
            extra = {**extra, "username": username}
            decoy = ghost_credential_id(self.core.code_key, app.id, username)
        return await passkeys.begin_authentication(
            self.core, app=app, user=user, now=now, purpose=purpose, extra=extra,
            challenge=challenge, decoy=decoy)

    async def auth_init(self, req: fido2.AuthInitRequest, caller: Caller
                        ) -> fido2.AuthInitResponse:
        app_id = request_app_id(req.app.id, caller, "app.id")
        username = _optional(req.user.username, "user.username")
        begun = await self._begin_auth(app_id=app_id, username=username, origin=req.origin,
                                       caller=caller, purpose="auth",
                                       extra={"device": device_json(req)})
        return fido2.AuthInitResponse(
            action="proceed", session=begun.session, cross_auth_methods=[],
            fallback_methods=[],
            assertion_options=_options(begun.options, fido2.PublicKeyCredentialRequestOptions))

    async def auth_complete(self, req: fido2.AuthCompleteRequest, caller: Caller) -> fido2.Jwt:
        session = _session_field(req.session)
        if not req.HasField("assertion_result"):
            raise missing_field("assertionResult")
        ar = req.assertion_result
        credential = assertion_json(ar.credential_id, ar.client_data_json,
                                    ar.authenticator_data, ar.signature,
                                    ar.user_handle if ar.HasField("user_handle") else None)
        now = self.core.clock()
        try:
            done = await passkeys.finish_authentication(self.core, session=session,
                                                        credential=credential, purpose="auth")
        except AuthcoreError as exc:
            await self._failed(exc, event="passkey_auth", caller=caller, now=now)
            raise
        # The hot path's one write: the session used up, the sign count, the
        # session row and the audit row, with the JWT signed before it.
        user, app = done.user, done.application
        signed = await sign_session(
            self.core.hot, self.core.signer, user_pk=user.pk, user_id=user.user_id,
            grant=session_grant(app, PASSKEY_FACTORS),
            amr=PASSKEY_AMR, ttl_seconds=app_policy(app.settings).session_seconds, now=now,
            extra_claims=username_claim(user.user_id))
        try:
            async with self.core.hot.transaction() as tx:
                await done.record(tx)
                await signed.store(tx)
                await audit.hot_record(tx, event="passkey_auth", outcome="success", now=now,
                                       application_id=app.id, user_id=user.user_id,
                                       authenticator="PASSKEY", client_ip=caller.client_ip)
        except AuthcoreError as exc:
            await self._failed(exc, event="passkey_auth", caller=caller, now=now)
            raise
        return _jwt_message(signed.token, user.user_id, done.passkey.id,
                            done.state.get("device"))

    # -- transaction confirmation -----------------------------------------

    async def tx_init(self, req: fido2.TxInitRequest, caller: Caller) -> fido2.TxInitResponse:
        app_id = request_app_id(req.app_id, caller, "appId")
        username = required_field(req.username, "username")
        tx_type = required_field(req.tx_type, "txType")
        if not req.tx_payload:
            raise missing_field("txPayload")
        payload = req.tx_payload.encode()
        if len(payload) > MAX_TX_PAYLOAD_BYTES:
            raise InvalidArgument("txPayload is too large.", reason="invalid_field",
                                  field_violations=[("txPayload", "at most 64 KiB")])
        nonce = required_field(req.nonce, "nonce")
        if len(nonce) < MIN_NONCE_CHARS:
            raise InvalidArgument("nonce is too short.", reason="invalid_field",
                                  field_violations=[("nonce", "at least 8 characters")])
        tx_id = str(uuid.uuid4())
        extra = {"tx_hash": hashlib.sha256(payload).hexdigest(), "tx_type": tx_type,
                 "nonce": nonce, "tx_id": tx_id}
        begun = await self._begin_auth(app_id=app_id, username=username, origin=req.origin,
                                       caller=caller, purpose="tx", extra=extra,
                                       challenge=tx_challenge(nonce, req.tx_payload))
        return fido2.TxInitResponse(
            tx_id=tx_id, session=begun.session,
            assertion_options=_options(begun.options, fido2.PublicKeyCredentialRequestOptions))

    async def tx_complete(self, req: fido2.TxCompleteRequest, caller: Caller
                          ) -> fido2.TxCompleteResponse:
        session = _session_field(req.session)
        for value, field in ((req.key_handle, "keyHandle"), (req.client_data, "clientData"),
                             (req.authenticator_data, "authenticatorData"),
                             (req.signature, "signature")):
            if not value:
                raise missing_field(field)
        credential = assertion_json(req.key_handle, req.client_data, req.authenticator_data,
                                    req.signature, None)
        now = self.core.clock()
        try:
            done = await passkeys.finish_authentication(self.core, session=session,
                                                        credential=credential, purpose="tx")
        except AuthcoreError as exc:
            await self._failed(exc, event="passkey_tx", caller=caller, now=now)
            raise
        user, app, state = done.user, done.application, done.state
        # Not a session: its jti names no session row, so it can't be used as
        # an access token; a relying party checks tx_hash against the payload.
        token, _ = self.core.signer.sign({
            "sub": user.user_id, "aud": app.id, "jti": state["tx_id"],
            "tx_id": state["tx_id"], "tx_type": state["tx_type"], "nonce": state["nonce"],
            "tx_hash": state["tx_hash"], "amr": list(PASSKEY_AMR),
        }, ttl_seconds=TX_TOKEN_TTL_SECONDS, now=now)
        # And a session, as auth/complete issues: web SDK 1.6.0 keeps the
        # response's `jwtAccess` as its session for the next calls (and
        # throws without one); the confirmation proved the passkey as a
        # sign-in does.
        signed = await sign_session(
            self.core.hot, self.core.signer, user_pk=user.pk, user_id=user.user_id,
            grant=session_grant(app, PASSKEY_FACTORS),
            amr=PASSKEY_AMR, ttl_seconds=app_policy(app.settings).session_seconds, now=now,
            extra_claims=username_claim(user.user_id))
        try:
            async with self.core.hot.transaction() as tx:
                await done.record(tx)
                await signed.store(tx)
        except AuthcoreError as exc:
            await self._failed(exc, event="passkey_tx", caller=caller, now=now)
            raise
        async with self.core.write() as db:
            audit.record(db, event="passkey_tx", outcome="success", now=now,
                         application_id=app.id, user_id=user.user_id,
                         authenticator="PASSKEY", client_ip=caller.client_ip)
        return fido2.TxCompleteResponse(credential_id=done.passkey.credential_id, token=token,
                                        auth_cred=passkey_message(done.passkey),
                                        jwt_access=signed.token, tx_id=state["tx_id"],
                                        tx_hash=state["tx_hash"], nonce=state["nonce"])

    # -- the user's passkeys ----------------------------------------------

    async def list_passkeys(self, authorization: str, caller: Caller) -> list[fido2.Passkey]:
        now = self.core.clock()
        async with self.core.read() as db:
            _, user = await self.authorized_user(db, authorization, g.PASSKEY_READ, caller, now)
            return [passkey_message(p) for p in await passkeys.user_passkeys(db, user.pk)]

    async def rename_passkey(self, passkey_id: str, name: str, authorization: str,
                             caller: Caller) -> None:
        name = name.strip()
        if not name:
            raise missing_field("name")
        if len(name) > MAX_FIELD_CHARS:
            raise InvalidArgument("name is too long.", reason="invalid_field",
                                  field_violations=[("name", "1 to 255 characters")])
        now = self.core.clock()
        async with self.core.read() as db:
            _, user = await self.authorized_user(db, authorization, g.PASSKEY_WRITE, caller, now)
        async with self.core.write() as db:
            result = await db.execute(
                update(PasskeyCredential)
                .where(PasskeyCredential.id == passkey_id, PasskeyCredential.user_pk == user.pk)
                .values(name=name))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise _passkey_not_found()

    async def delete_passkey(self, passkey_id: str, authorization: str, caller: Caller) -> None:
        now = self.core.clock()
        async with self.core.read() as db:
            rights, user = await self.authorized_user(db, authorization, g.PASSKEY_WRITE, caller,
                                                      now)
        async with self.core.write() as db:
            result = await db.execute(
                delete(PasskeyCredential)
                .where(PasskeyCredential.id == passkey_id, PasskeyCredential.user_pk == user.pk))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise _passkey_not_found()
            audit.record(db, event="passkey_delete", outcome="success", now=now,
                         application_id=rights.application_id, user_id=user.user_id,
                         authenticator="PASSKEY")

    async def get_aaguid(self, aaguid: str, authorization: str, caller: Caller) -> fido2.Aaguid:
        now = self.core.clock()
        async with self.core.read() as db:
            await self.authorized_user(db, authorization, g.PASSKEY_READ, caller, now)
        if not _UUID.fullmatch(aaguid):
            raise InvalidArgument("aaguid must be a UUID.", reason="invalid_field",
                                  field_violations=[("aaguid", "must be a UUID")])
        known = lookup_aaguid(aaguid)
        if known is None:
            raise NotFound("The authenticator model is not known.", reason="aaguid_not_found")
        return fido2.Aaguid(id=known.aaguid, name=known.name, icon_light=known.icon_light,
                            icon_dark=known.icon_dark)

    # -- sign-in codes ------------------------------------------------------

    async def _new_code(self, db: AsyncSession, *, user: User, app: Application, channel: str,
                        code: str, now: float, factors: tuple[str, ...] = CODE_FACTORS,
                        extra: dict[str, Any] | None = None) -> float:
        _, expires_at = await self.core.challenges.create(
            db, application_id=app.id, user_pk=user.pk, authenticator=AUTH_CODE, stage="code",
            state={"code_hash": hash_code(code=code, key=self.core.code_key),
                   "channel": channel, "factors": list(factors), **(extra or {})},
            ttl_seconds=CODE_TTL_SECONDS, now=now)
        return expires_at

    async def request_auth_code(self, authorization: str, caller: Caller) -> fido2.AuthCode:
        now = self.core.clock()
        async with self.core.read() as db:
            token = bare_token(authorization)
            if token and g.looks_like_grant_token(token):
                await self.rights(db, authorization, caller, now)  # 401 when not valid
                # A code signs in with the factors of the session that made
                # it, and a grant token proved none.
                raise PermissionDenied("A sign-in code needs the user's session JWT, not a "
                                       "grant token.", reason="session_required")
            signed, user = await self._signed_user(db, authorization, now)
            app = await get_application(db, signed.session.application_id)
        await self.core.rate_limit(client_ip=caller.client_ip, user_key=user.user_id)
        code = generate_code(digits=CODE_DIGITS)
        async with self.core.write() as db:
            expires_at = await self._new_code(db, user=user, app=app, channel="jwt", code=code,
                                              now=now, factors=session_factors(signed.claims))
            audit.record(db, event="auth_code_issue", outcome="success", now=now,
                         application_id=app.id, user_id=user.user_id, authenticator=AUTH_CODE,
                         client_ip=caller.client_ip)
        return fido2.AuthCode(code=code, expires_at=rfc3339(expires_at))

    async def send_auth_code(self, *, channel: str, username: str, app_id: str, origin: str,
                             caller: Caller) -> None:
        """Always succeeds for a known application: whether the user exists or
        has an address for the channel is not revealed. Both paths run the
        same lookups, generate and hash a code, and write an audit row."""
        app_id = request_app_id(app_id, caller, "appId")
        username = required_field(username, "user.username")
        await self.core.rate_limit(client_ip=caller.client_ip, user_key=username)
        now = self.core.clock()
        code = generate_code(digits=CODE_DIGITS)
        async with self.core.read() as db:
            app = await get_application(db, app_id)
            passkeys.check_origin(app, origin)
            require_allowed(app.authenticators, CODE_FACTORS[0])
            user = await find_user(db, username)
        # Against message bombing. The visible limits count what was asked
        # for (username, IP), so an unknown username meets them exactly as
        # an account does; the address's own limits (also spent by other
        # accounts or APIs sending to it) only ever skip the send silently.
        await self.core.throttle_delivery(channel, username=username,
                                          client_ip=caller.client_ip)
        address = None
        if user is not None and user.active:
            # A number the user declined messages at (profile's
            # messagingConsent false) is not texted; the operator's numbers
            # (consent None: nobody asked) are, as LoginID documents.
            address = user.email if channel == "EMAIL" else \
                user.phone if user.phone_consent is not False else None
        throttled = False
        if address:
            try:
                await self.core.throttle_delivery(channel, address=address)
            except ResourceExhausted:
                address, throttled = None, True
        async with self.core.write() as db:
            if user is not None and address:
                await self._new_code(db, user=user, app=app, channel=channel.lower(),
                                     code=code, now=now)
                minutes = CODE_TTL_SECONDS // 60
                self.core.outbox.add(db, Message(
                    user_pk=user.pk, medium=channel, address=address, kind=KIND_OTP,
                    text=f"Your sign-in code is {code}. It expires in {minutes} minutes.",
                    values={"code": code, "minutes": str(minutes)}, application_id=app.id,
                    expires_at=now + CODE_TTL_SECONDS), now=now)
            else:
                # The same work either way: the code is made, hashed and
                # stored, bound to nobody (verify_auth_code finds codes by
                # user), so that no write is missing from the timing.
                await self.core.challenges.create(
                    db, application_id=app.id, user_pk=None, authenticator=AUTH_CODE,
                    stage="code", state={"code_hash": hash_code(code=code, key=self.core.code_key),
                                         "channel": channel.lower(),
                                         "factors": list(CODE_FACTORS)},
                    ttl_seconds=CODE_TTL_SECONDS, now=now)
            outcome = "throttled" if throttled else "sent" if address else "skipped"
            audit.record(db, event="auth_code_send", outcome=outcome,
                         now=now, application_id=app.id, user_id=username[:255],
                         authenticator=f"{AUTH_CODE}:{channel}", client_ip=caller.client_ip)

    async def verify_auth_code(self, req: fido2.VerifyAuthCodeRequest, caller: Caller
                               ) -> fido2.Jwt:
        app_id = request_app_id(req.app_id, caller, "appId")
        username = required_field(req.user.username, "user.username")
        code = required_field(req.auth_code.strip(), "authCode")
        await self.core.rate_limit(client_ip=caller.client_ip, user_key=username)
        now = self.core.clock()
        async with self.core.read() as db:
            app = await get_application(db, app_id)
            user = await find_user(db, username)
            # A pending sign-up has one kind of code: the one that proves its
            # address (reg_complete mailed it).
            pending = user is not None and user.pending_since is not None
            user_pk = user.pk if user is not None and (user.active or pending) else None
            rows = await self.core.challenges.find_open(
                db, application_id=app.id, user_pk=user_pk, authenticator=AUTH_CODE, now=now,
                limit=MAX_LIVE_CODES) if user_pk else []
            states = await self.core.lockouts.states(db, user_pk=user_pk) if user_pk else {}
        if user_pk and is_locked(state=states.get(AUTH_CODE, LockoutState.clear()), now=now):
            raise codes_locked()
        matched = matching_code(rows, code=code, key=self.core.code_key,
                                accept=lambda state: pending == (state.get("channel") == "signup"))
        matched_state: dict[str, Any] = {} if matched is None else matched.state
        # A code made by a signed-in user carries that session's factors.
        factors = tuple(matched_state.get("factors") or CODE_FACTORS)
        if matched is not None:
            # Before the code is used up: a refusal changes nothing.
            session_grant(app, factors)
        async with self.core.write() as db:
            if matched is not None and user is not None:
                spent = await spend_code(self.core, db, matched, user_pk=user.pk,
                                         authenticator=AUTH_CODE, states=states, now=now)
                if spent is None:
                    raise codes_locked()
                if spent:
                    return await self._code_signed_in(db, user=user, app=app, pending=pending,
                                                      state=matched_state, factors=factors,
                                                      caller=caller, now=now)
            refused = user_pk is not None and await count_wrong_code(
                self.core, db, user_pk=user_pk, authenticator=AUTH_CODE, now=now)
            audit.record(db, event="auth_code_verify", outcome="failure", reason="invalid_code",
                         now=now, application_id=app.id, user_id=username[:255],
                         authenticator=AUTH_CODE, client_ip=caller.client_ip)
        if refused:
            raise codes_locked()
        raise Unauthenticated("The code is invalid or has expired.", reason="invalid_code")

    async def _code_signed_in(self, db: AsyncSession, *, user: User, app: Application,
                              pending: bool, state: dict[str, Any],
                              factors: tuple[str, ...], caller: Caller, now: float
                              ) -> fido2.Jwt:
        """A spent sign-in code: the session, after the sign-up it proves."""
        audit.record(db, event="auth_code_verify", outcome="success", now=now,
                     application_id=app.id, user_id=user.user_id,
                     authenticator=AUTH_CODE, client_ip=caller.client_ip)
        if pending:
            if not await signup.activate(db, user_pk=user.pk, now=now):
                raise Unauthenticated("The code is invalid or has expired.",
                                      reason="invalid_code")
            await devices.record_use(db, user_pk=user.pk, device=state.get("device"), now=now)
            return await self._jwt(db, user=user, app=app, amr=PASSKEY_AMR, factors=factors,
                                   now=now, passkey_id=state.get("passkey_id"),
                                   device=state.get("device"))
        proved = _PROVES.get(str(state.get("channel")))
        if proved is not None:
            # The code reached that address: it is the user's.
            await db.execute(update(User).where(User.pk == user.pk).values({proved: now}))
        return await self._jwt(db, user=user, app=app, amr=CODE_AMR, factors=factors, now=now)

    # -- client events -----------------------------------------------------

    async def submit_client_event(self, req: fido2.SubmitClientEventRequest, authorization: str,
                                  caller: Caller) -> None:
        """Record what the SDK reports; never touches any flow's state."""
        if not req.event:
            raise missing_field("event")
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        rights: g.Rights | None = None
        if bare_token(authorization):
            async with self.core.read() as db:
                rights = await self.rights(db, authorization, caller, now)
        async with self.core.write() as db:
            audit.record(db, event="client_event",
                         outcome="error" if req.is_error else "info",
                         reason=req.event[:CLIENT_EVENT_REASON_CHARS], now=now,
                         application_id=rights.application_id if rights else None,
                         user_id=rights.username[:255] if rights else None,
                         client_ip=caller.client_ip)


# What a sign-in code sent on a channel proves, when it comes back.
_PROVES = {"email": "email_verified_at", "sms": "phone_verified_at"}

# The session JWT's amr as issued by each API, in the policy's vocabulary.
_AMR_FACTORS = {"passkey": "PASSKEY", "otp": "OTP", "kerberos": "EXTERNAL", "pwd": "PASSWORD"}


def session_factors(claims: dict[str, Any]) -> tuple[str, ...]:
    """What the holder of a session proved, for a code it hands on: a code
    signs in with no more than the session that made it."""
    amr = claims.get("amr")
    if not isinstance(amr, list):
        return ()
    return tuple(_AMR_FACTORS.get(str(a), str(a)) for a in amr)


def _registration_denied() -> PermissionDenied:
    return PermissionDenied("Registering a passkey for this username needs its user's JWT.",
                            reason="forbidden")


def _session_field(session: str) -> str:
    if not session:
        raise missing_field("session")
    return session


def _passkey_not_found() -> NotFound:
    return NotFound("The passkey was not found.", reason="passkey_not_found")


__all__ = ["AUTH_CODE", "LoginIdFlow", "passkey_message", "rfc3339"]
