"""Entrust self-service for the signed-in user: FIDO token (passkey)
registration and management under /api/web/v1/self/fidotokens.

The caller is the user and application of a session JWT (tokens.sessions).

Entrust's registration has no session token of its own: GET returns a
challenge, POST answers it with nothing but the authenticator's output. The
pending registration is therefore found from the caller's session and the
WebAuthn challenge the authenticator signed (in clientDataJSON): its
challenge token is HMAC(code key, session id, challenge), so only this
server can derive it, only for this session, and the database still holds
only token hashes. passkeys.finish_registration then verifies the
attestation against the challenge stored in that row; a clientDataJSON that
names another challenge simply finds no registration.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn.helpers import parse_attestation_object, parse_cbor

from authcore.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from authcore.flows import audit
from authcore.flows.aaguids import lookup
from authcore.flows.challenges import bare_token
from authcore.flows.context import Core
from authcore.flows.directory import get_application
from authcore.flows.factors.fido import b64std, unb64any
from authcore.flows.passkeys import (
    b64url,
    begin_registration,
    finish_registration,
    relying_party,
    unb64url,
    user_passkeys,
)
from authcore.store.models import Application, PasskeyCredential, Session, User
from authcore.tokens.sessions import verify_session
from authcore.v1 import self_service_pb2 as selfsvc

# The stage of an Entrust self-service registration's challenge row, so that
# a LoginID registration session can't be completed here or the other way.
STAGE = "entrust_self"
_MAX_NAME = 255

_ALGORITHMS = {-7: "ES256", -257: "RS256", -8: "EdDSA"}
_REQUIREMENT = {"required": selfsvc.FIDO_REQUIREMENT_REQUIRED,
                "preferred": selfsvc.FIDO_REQUIREMENT_PREFERRED,
                "discouraged": selfsvc.FIDO_REQUIREMENT_DISCOURAGED}
_ATTESTATION = {"none": selfsvc.FIDO_ATTESTATION_PREFERENCE_NONE,
                "indirect": selfsvc.FIDO_ATTESTATION_PREFERENCE_INDIRECT,
                "direct": selfsvc.FIDO_ATTESTATION_PREFERENCE_DIRECT,
                "enterprise": selfsvc.FIDO_ATTESTATION_PREFERENCE_DIRECT}


def _ts(epoch: float) -> Timestamp:
    return Timestamp(seconds=int(epoch), nanos=int((epoch % 1) * 1e9))


def display_name(user: User) -> str:
    full = " ".join(n for n in (user.first_name, user.last_name) if n)
    return full or user.user_id


def _algorithm(public_key: bytes) -> str | None:
    try:
        key = parse_cbor(public_key)
    except Exception:
        return None
    alg = key.get(3) if isinstance(key, dict) else None
    return _ALGORITHMS.get(alg) if isinstance(alg, int) else None


def fido_token_message(passkey: PasskeyCredential, user: User) -> selfsvc.FIDOToken:
    """A stored passkey as Entrust's FIDOToken."""
    msg = selfsvc.FIDOToken(
        id=passkey.id, name=passkey.name, aaguid=passkey.aaguid,
        allowed_actions=[selfsvc.FIDO_TOKEN_ACTION_DELETE, selfsvc.FIDO_TOKEN_ACTION_RENAME],
        attestation_format=passkey.fmt, attested_data=passkey.fmt != "none",
        backup_eligible=passkey.backup_eligible, backup_status=passkey.backup_state,
        create_date=_ts(passkey.created_at), relying_party_id=passkey.rp_id,
        state=selfsvc.FIDO_TOKEN_STATE_ACTIVE, user_id=user.user_id, user_uuid=user.pk,
    )
    algorithm = _algorithm(passkey.public_key)
    if algorithm:
        msg.algorithm = algorithm
    known = lookup(passkey.aaguid)
    if known is not None:
        msg.authenticator_model = known.name
        if known.icon_light:
            msg.icon = known.icon_light
    if passkey.last_used_at is not None:
        msg.last_used_date.CopyFrom(_ts(passkey.last_used_at))
    return msg


def _bad(field: str, problem: str, reason: str = "invalid_argument") -> InvalidArgument:
    return InvalidArgument(f"{field} {problem}.", reason=reason,
                           field_violations=[(field, problem)])


def _registration_credential(req: selfsvc.CompleteFIDORegisterRequest
                             ) -> tuple[dict[str, Any], str]:
    """Entrust's FIDORegisterResponse as a RegistrationResponseJSON, and the
    WebAuthn challenge (base64url) its clientDataJSON names. Entrust's body
    has no credential id, so it is read from the attestation's authData."""
    try:
        client_data = json.loads(unb64any(req.client_data_json))
        challenge = client_data["challenge"] if isinstance(client_data, dict) else None
        if not isinstance(challenge, str):
            raise ValueError("no challenge")
        challenge = b64url(unb64any(challenge))
    except (ValueError, KeyError, RecursionError):
        raise _bad("clientDataJSON", "is not base64-encoded WebAuthn client data",
                   "invalid_credential") from None
    try:
        attested = parse_attestation_object(unb64any(req.attestation_object)).auth_data
        credential_data = attested.attested_credential_data
        if credential_data is None:
            raise ValueError("no attested credential data")
        credential_id = credential_data.credential_id
    except Exception:
        # py_webauthn's CBOR and authData parsers raise assorted types on
        # hostile input; all of it is the client's fault.
        raise _bad("attestationObject", "is not a base64-encoded WebAuthn attestation object",
                   "invalid_credential") from None
    credential = {
        "id": b64url(credential_id),
        "rawId": b64url(credential_id),
        "type": "public-key",
        "response": {
            "clientDataJSON": req.client_data_json,
            "attestationObject": req.attestation_object,
            "transports": list(req.transports),
        },
        "clientExtensionResults": {},
    }
    return credential, challenge


class SelfServiceFlow:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def _me(self, db: AsyncSession, authorization: str
                  ) -> tuple[Session, User, Application]:
        token = bare_token(authorization)
        if not token:
            raise Unauthenticated("A session token is required in the Authorization header.",
                                  reason="missing_token")
        _, session = await verify_session(db, self.core.signer, token, now=self.core.clock())
        user = await db.get(User, session.user_pk)
        if user is None:
            raise Unauthenticated("The session's user no longer exists.",
                                  reason="invalid_token")
        if not user.active:
            raise PermissionDenied("The user is disabled.", reason="user_disabled")
        return session, user, await get_application(db, session.application_id)

    async def me(self, db: AsyncSession, authorization: str
                 ) -> tuple[Session, User, Application]:
        """The session, user and application of a session token (for the
        other self-service flows)."""
        return await self._me(db, authorization)

    def _registration_token(self, session_id: str, challenge: str) -> str:
        message = f"entrust-self-fido\x00{session_id}\x00{challenge}".encode()
        return b64url(hmac.new(self.core.code_key, message, hashlib.sha256).digest())

    async def _own(self, db: AsyncSession, user: User, fidoid: str) -> PasskeyCredential:
        passkey = (await db.execute(select(PasskeyCredential).where(
            PasskeyCredential.id == fidoid[:36], PasskeyCredential.user_pk == user.pk,
        ))).scalar_one_or_none()
        if passkey is None:
            raise NotFound("The FIDO token was not found.", reason="fido_token_not_found")
        return passkey

    # -- registration ------------------------------------------------------

    async def start_registration(self, authorization: str) -> selfsvc.FIDORegisterChallenge:
        now = self.core.clock()
        async with self.core.write() as db:
            session, user, app = await self._me(db, authorization)
            existing: Sequence[PasskeyCredential] = await user_passkeys(db, user.pk)
            begun = await begin_registration(
                self.core, db, app=app, user_pk=user.pk, username=user.user_id,
                display_name=display_name(user), existing=True, now=now)
            challenge = str(begun.options["challenge"])
            # Re-key the pending registration to a token derived from this
            # session and challenge (see the module docstring).
            await self.core.challenges.rekey(
                db, token=begun.session,
                new_token=self._registration_token(session.id, challenge), stage=STAGE)
            audit.record(db, event="fido_register", outcome="started", now=now,
                         application_id=app.id, user_id=user.user_id, authenticator="FIDO")
        rp = relying_party(app)
        return selfsvc.FIDORegisterChallenge(
            attestation=_ATTESTATION.get(rp.attestation, selfsvc.FIDO_ATTESTATION_PREFERENCE_NONE),
            challenge=b64std(unb64url(challenge)),
            registered_credentials=[b64std(unb64url(p.credential_id)) for p in existing],
            registered_credentials_names=[p.name for p in existing],
            registration_authenticator_attachment=selfsvc.FIDO_AUTHENTICATOR_ATTACHMENT_EITHER,
            registration_require_resident_key=_REQUIREMENT[rp.resident_key],
            registration_user_verification=_REQUIREMENT[rp.user_verification],
            rp_name=rp.rp_name,
            timeout=max(1, rp.timeout_ms // 1000),
            timeout_millis=rp.timeout_ms,
            user_display_name=display_name(user),
            user_id=b64std(unb64url(str(begun.options["user"]["id"]))),
            user_name=user.user_id,
        )

    async def complete_registration(
        self, req: selfsvc.CompleteFIDORegisterRequest, authorization: str
    ) -> selfsvc.FIDOToken:
        if req.HasField("name") and len(req.name.strip()) > _MAX_NAME:
            raise _bad("name", f"must be at most {_MAX_NAME} characters")
        async with self.core.read() as db:
            session, user, app = await self._me(db, authorization)
        if req.rp_id and req.rp_id != relying_party(app).rp_id:
            raise _bad("rpId", "is not the application's relying party ID", "rp_id_mismatch")
        credential, challenge = _registration_credential(req)
        try:
            registered = await finish_registration(
                self.core, session=self._registration_token(session.id, challenge),
                credential=credential, name=req.name if req.HasField("name") else None,
                device=None, stage=STAGE)
        except Unauthenticated as exc:
            if exc.reason not in ("invalid_token", "expired_token", "invalid_session"):
                raise
            raise FailedPrecondition(
                "No FIDO token registration for this challenge is open in this session; "
                "start one with GET /api/web/v1/self/fidotokens.",
                reason="registration_expired" if exc.reason == "expired_token"
                else "registration_not_started") from None
        async with self.core.write() as db:
            audit.record(db, event="fido_register", outcome="success", now=self.core.clock(),
                         application_id=app.id, user_id=user.user_id, authenticator="FIDO")
        return fido_token_message(registered.passkey, registered.user)

    # -- management --------------------------------------------------------

    async def get_token(self, authorization: str, fidoid: str) -> selfsvc.FIDOToken:
        async with self.core.read() as db:
            _, user, _ = await self._me(db, authorization)
            return fido_token_message(await self._own(db, user, fidoid), user)

    async def update_token(self, req: selfsvc.UpdateSelfFIDOTokenRequest, authorization: str
                           ) -> selfsvc.FIDOToken:
        name = req.name.strip() if req.HasField("name") else None
        if name is not None and not 1 <= len(name) <= _MAX_NAME:
            raise _bad("name", f"must be 1 to {_MAX_NAME} characters")
        if req.HasField("state") and req.state != selfsvc.FIDO_TOKEN_STATE_ACTIVE:
            raise _bad("state", "must be ACTIVE: FIDO tokens can't be disabled, only deleted",
                       "unsupported_state")
        async with self.core.write() as db:
            _, user, app = await self._me(db, authorization)
            passkey = await self._own(db, user, req.fidoid)
            if name is not None:
                passkey.name = name
            audit.record(db, event="fido_rename", outcome="success", now=self.core.clock(),
                         application_id=app.id, user_id=user.user_id, authenticator="FIDO")
        return fido_token_message(passkey, user)

    async def delete_token(self, authorization: str, fidoid: str) -> None:
        async with self.core.write() as db:
            _, user, app = await self._me(db, authorization)
            passkey = await self._own(db, user, fidoid)
            await db.execute(delete(PasskeyCredential).where(PasskeyCredential.id == passkey.id))
            audit.record(db, event="fido_delete", outcome="success", now=self.core.clock(),
                         application_id=app.id, user_id=user.user_id, authenticator="FIDO")
