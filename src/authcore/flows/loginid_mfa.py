"""LoginID's MFA flow (/fido2/v2/mfa): begin, then one action at a time
until the application's policy is met.

The flow's `session` is the token of a challenge row (authenticator MFA):
random, stored only as its SHA-256, expiring, and used up by every step
that moves the flow on (a replayed step gets 401). Each step creates the
next row, so a session names exactly one step. The passkey ceremonies
inside are flows.passkeys' own challenges; their tokens sit in the MFA
state sealed with the master key (AES-GCM), never given to the client.

The cores are the ones LoginID's other endpoints use: passkey ceremonies
(flows.passkeys), code hashing and the AUTH_CODE lockout (one counter with
the sign-in codes), delivery throttles and the outbox, grant tokens
(flows.grants) and the session JWT of flows.loginid, issued only after
flows.policy.grant agrees.

What begin shows about a username is what LoginID's flow inherently shows:
on an application with self sign-up an unknown name gets `signUp` with
passkey:reg. Otherwise an unknown name and a known one without passkeys get
the same passkey:auth (a ghost credential listed, flows/ghosts.py) and
external; only verified addresses add otp actions, by masked label.

An application whose policy asks for two factors (`AppPolicy.mfa_factors`)
gets, after the first, another 401 additional_auth_required listing the
user's factors of other kinds (FACTOR_KINDS); a user with none is refused
with 403 rather than let in on one. Only then is the user known to have
authenticated, so nothing about their factors shows before.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, NoReturn

import jwt as pyjwt
from google.protobuf import any_pb2
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from authcore.delivery.channels import KIND_OTP
from authcore.delivery.outbox import Message
from authcore.errors import (
    HTTP_BODY_JSON_KEY,
    AuthcoreError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from authcore.flows import audit, devices, passkeys, signup
from authcore.flows.authentication import Caller
from authcore.flows.challenges import ChallengeRecord, bare_token
from authcore.flows.context import Core
from authcore.flows.directory import find_user, get_application, valid_username
from authcore.flows.ghosts import ghost_credential_id
from authcore.flows.grants import AUTH_WRITE, consume_grant, missing_grant, verify_grant_token
from authcore.flows.loginid import AUTH_CODE, CODE_DIGITS, CODE_TTL_SECONDS, MAX_TX_PAYLOAD_BYTES
from authcore.flows.loginid_common import (
    app_id_from_host,
    assertion_json,
    codes_locked,
    device_json,
    missing_field,
    required_field,
    tx_challenge,
    username_claim,
)
from authcore.flows.policy import app_policy, grant
from authcore.flows.refresh import sign_id_token, sign_refresh_token, start_family
from authcore.limits.lockout import LockoutState, is_locked
from authcore.store.hot import queries as hq
from authcore.store.models import Application, User
from authcore.tokens.jwt import jwk_thumbprint
from authcore.tokens.sessions import issue_session
from authcore.v1 import fido2_mfa_pb2 as mfa
from authcore.verify.otp import OTPVerificationError, generate_code, hash_code, verify_code
from rest_bridge.codec import json_to_message, message_to_json

MFA = "MFA"
TRUST_ID = "TRUST_ID"
# Long enough for a person to pick a factor and wait for a code.
SESSION_SECONDS = 300
# A trust ID vouches for a browser's key for this long after a completed flow.
TRUST_SECONDS = 30 * 86400
TRUST_KINDS = ("auth", "wallet", "merchant")
MAX_TRUST_ITEM_CHARS = 4096
# The SDK signs trust IDs for a minute; a longer one is a replayable token.
MAX_TRUST_ITEM_LIFETIME = 600
MAX_TOKEN_CHARS = 512
MAX_OTP_CHARS = 16
SIGN_UP = "signUp"
SIGN_IN = "signIn"
NEXT_MSG = "Additional authentication is required."
NEXT_CODE = "additional_auth_required"
# The payload signature's JWT `typ`, as flows/refresh.py's for the ID and
# refresh tokens: none can be taken for another or for the access token.
_PAYLOAD_TYP = "payload+jwt"
AMR = {"PASSKEY": "passkey", "OTP": "otp", "EXTERNAL": "external"}
# The factors MFA counts, one kind each whatever the channel: a code by
# email and one by SMS are both something the user receives.
FACTOR_KINDS = tuple(AMR)


# -- small pieces -------------------------------------------------------------

def _b64url(data: bytes) -> str:
    return passkeys.b64url(data)


def _options_value(options: dict[str, Any]) -> str:
    """WebAuthn options as the SDK reads an option value: the second part of
    a JWT (`parseJwt("." + value)`), i.e. base64url JSON."""
    return _b64url(json.dumps(options, separators=(",", ":")).encode())


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_phone(number: str) -> str:
    digits = [c for c in number if c.isdigit()]
    return ("+" if number.startswith("+") else "") + "*" * max(len(digits) - 4, 0) + \
        "".join(digits[-4:])


def _action(name: str, label: str, desc: str | None = None,
            options: list[mfa.MfaOption] | None = None) -> mfa.MfaAction:
    info = mfa.MfaActionInfo(name=name, label=label)
    if desc:
        info.desc = desc
    return mfa.MfaAction(action=info, options=options or [])


def _session_token(authorization: str) -> str:
    token = bare_token(authorization)
    if not token:
        raise Unauthenticated("The MFA session is required in the Authorization header.",
                              reason="missing_session")
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthenticated("The MFA session is invalid or has expired.",
                              reason="invalid_session")
    return token


def _invalid_session() -> Unauthenticated:
    return Unauthenticated("The MFA session is invalid or has expired.",
                           reason="invalid_session")


def _not_offered(name: str) -> InvalidArgument:
    return InvalidArgument(f"{name} is not among the session's next actions.",
                           reason="action_not_offered")


def _payload(value: str, field: str = "payload") -> str:
    if len(value.encode()) > MAX_TX_PAYLOAD_BYTES:
        raise InvalidArgument(f"{field} is too large.", reason="invalid_field",
                              field_violations=[(field, "at most 64 KiB")])
    return value


class AdditionalAuthRequired(Unauthenticated):
    """LoginID's 401 additional_auth_required: the step worked and another
    is needed. The REST body is the MfaNext (the SDK reads `session` and
    `next` from the 401's body); gRPC clients get it as a typed detail."""

    default_reason = NEXT_CODE

    def __init__(self, following: mfa.MfaNext) -> None:
        super().__init__(NEXT_MSG, metadata={
            HTTP_BODY_JSON_KEY: json.dumps(message_to_json(following), separators=(",", ":"))})
        self.following = following

    def _extra_details(self) -> list[any_pb2.Any]:
        packed = any_pb2.Any()
        packed.Pack(self.following)
        return [packed]


@dataclass(frozen=True)
class TrustItem:
    kind: str
    id: str
    thumbprint: str

    def key(self, application_id: str) -> str:
        # The record's lookup key: only a holder of the private key can
        # present a verifying JWS for this id and thumbprint.
        return f"trust\0{self.kind}\0{application_id}\0{self.id}\0{self.thumbprint}"


def trust_item(kind: str, value: str, now: float) -> TrustItem:
    """A trust ID as LoginID's SDK makes them (store/trust-store.ts,
    checkout-id.ts): a JWS `{id, exp}` signed ES256 by a key the browser
    keeps in IndexedDB, its public JWK in the header. 400 unless it
    verifies with that key and is current."""
    field = f"trustItems.{kind}"

    def bad(why: str) -> InvalidArgument:
        return InvalidArgument(f"{field} is not a valid trust ID: {why}.",
                               reason="invalid_trust_id", field_violations=[(field, why)])

    if len(value) > MAX_TRUST_ITEM_CHARS:
        raise bad("too long")
    try:
        header = pyjwt.get_unverified_header(value)
    except pyjwt.PyJWTError:
        raise bad("not a JWS") from None
    jwk = header.get("jwk")
    if header.get("alg") != "ES256" or not isinstance(jwk, dict):
        raise bad("needs alg ES256 and a jwk header")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or "d" in jwk \
            or not all(isinstance(jwk.get(k), str) for k in ("x", "y")):
        raise bad("the jwk must be a P-256 public key")
    try:
        key = pyjwt.PyJWK({k: jwk[k] for k in ("kty", "crv", "x", "y")}, algorithm="ES256")
        claims = pyjwt.decode(value, key.key, algorithms=["ES256"],
                              options={"verify_exp": False, "verify_aud": False})
    except pyjwt.PyJWTError:
        raise bad("the signature does not verify") from None
    trust_id, exp = claims.get("id"), claims.get("exp")
    if not isinstance(trust_id, str) or not 1 <= len(trust_id) <= 128:
        raise bad("id must be a string of 1 to 128 characters")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise bad("exp is required")
    if exp < now - 30:
        raise bad("expired")
    if exp > now + MAX_TRUST_ITEM_LIFETIME:
        raise bad("exp is too far ahead")
    return TrustItem(kind=kind, id=trust_id, thumbprint=jwk_thumbprint(jwk))


def trust_items(items: Any, now: float) -> list[TrustItem]:
    if len(items) > len(TRUST_KINDS) * 2:
        raise InvalidArgument("trustItems has too many entries.", reason="invalid_field",
                              field_violations=[("trustItems", "at most 6 entries")])
    # Kinds the SDK doesn't make are ignored, as the spec's open map allows.
    return [trust_item(kind, str(value), now) for kind, value in sorted(items.items())
            if kind in TRUST_KINDS and value]


# -- the flow -------------------------------------------------------------------

class LoginIdMfaFlow:
    def __init__(self, core: Core) -> None:
        self.core = core

    # -- session rows ---------------------------------------------------------

    def _seal(self, token: str, app_id: str) -> str:
        sealed = self.core.sealer.seal(token.encode(), aad=b"mfa-passkey\0" + app_id.encode())
        return _b64url(sealed)

    def _unseal(self, sealed: str, app_id: str) -> str:
        return self.core.sealer.open(passkeys.unb64url(sealed),
                                     aad=b"mfa-passkey\0" + app_id.encode()).decode()

    async def _load(self, authorization: str, caller: Caller, now: float) -> ChallengeRecord:
        token = _session_token(authorization)
        async with self.core.read() as db:
            try:
                record = await self.core.challenges.load(db, token=token, now=now)
            except Unauthenticated:
                raise _invalid_session() from None
        if record.authenticator != MFA:
            raise _invalid_session()
        host_app = app_id_from_host(caller.host)
        if host_app and host_app != record.application_id.lower():
            raise _invalid_session()
        return record

    async def _open_next(self, *, app: Application, state: dict[str, Any],
                         actions: list[mfa.MfaAction], user_pk: str | None, now: float,
                         claim: str | None = None) -> mfa.MfaNext:
        """Use up `claim` (the step's session) and write the next one, in one
        transaction: a replayed step finds its session used."""
        state = {**state, "actions": [message_to_json(a) for a in actions]}
        async with self.core.write() as db:
            if claim is not None:
                try:
                    await self.core.challenges.claim(db, challenge_id=claim, now=now)
                except Unauthenticated:
                    raise _invalid_session() from None
            token, _ = await self.core.challenges.create(
                db, application_id=app.id, user_pk=user_pk, authenticator=MFA, stage="mfa",
                state=state, ttl_seconds=SESSION_SECONDS, now=now)
        return mfa.MfaNext(flow=state["flow"], msg=NEXT_MSG, msg_code=NEXT_CODE,
                           next=actions, session=token)

    async def _claim(self, record: ChallengeRecord, now: float) -> None:
        async with self.core.write() as db:
            try:
                await self.core.challenges.claim(db, challenge_id=record.id, now=now)
            except Unauthenticated:
                raise _invalid_session() from None

    # -- the actions a user may take --------------------------------------------

    async def _passkey_action(self, app: Application, user: User | None, username: str,
                              kind: str, payload: str, device: dict[str, Any] | None,
                              display_name: str, now: float
                              ) -> tuple[mfa.MfaAction, dict[str, Any]]:
        """passkey:reg/auth/tx: the ceremony's challenge is begun now, its
        options are the action's first option value (the SDK takes
        `options[0]`), its session is sealed into the MFA state."""
        if kind == "reg":
            async with self.core.write() as db:
                begun = await passkeys.begin_registration(
                    self.core, db, app=app, user_pk=str(uuid.uuid4()), username=username,
                    display_name=display_name, existing=False, now=now,
                    extra={"device": device})
            name, label, option = "passkey:reg", "Passkey registration", "creationOptions"
            extra: dict[str, Any] = {}
        else:
            found = await hq.load_application_and_user(self.core.hot, app_id=app.id,
                                                       user_id=username)
            if found is None:
                raise NotFound("The application was not found.", reason="application_not_found")
            app_row, user_row = found
            if user_row is not None and not user_row.active:
                user_row = None
            extra = {"device": device, "username": username}
            challenge = None
            if kind == "tx":
                nonce = secrets.token_urlsafe(16)
                extra.update(tx_hash=hashlib.sha256(payload.encode()).hexdigest(), nonce=nonce,
                             tx_type="mfa", tx_id=str(uuid.uuid4()))
                challenge = tx_challenge(nonce, payload)
            begun = await passkeys.begin_authentication(
                self.core, app=app_row, user=user_row, now=now, purpose=kind, extra=extra,
                challenge=challenge,
                decoy=ghost_credential_id(self.core.code_key, app.id, username))
            name = f"passkey:{kind}"
            label = "Passkey transaction confirmation" if kind == "tx" else "Passkey"
            option = "assertionOptions"
        action = _action(name, label, options=[mfa.MfaOption(
            name=option, value=_options_value(begun.options))])
        return action, {"kind": kind, "session": self._seal(begun.session, app.id)}

    @staticmethod
    def _otp_actions(user: User, allowed: list[str]) -> tuple[list[mfa.MfaAction],
                                                              dict[str, Any]]:
        """otp:email and otp:sms for the user's verified addresses (an SMS
        also needs the messaging consent). Option values are random ids of
        this session, labels are masked: neither is the address."""
        if "OTP" not in allowed:
            return [], {}
        actions, options = [], {}
        if user.email and user.email_verified_at is not None:
            ref, label = str(uuid.uuid4()), mask_email(user.email)
            options[ref] = {"channel": "EMAIL", "label": label}
            actions.append(_action("otp:email", "OTP via Email",
                                   "OTP will be sent to one of the email addresses provided "
                                   "by the user.",
                                   [mfa.MfaOption(name="email:primary", label=label, value=ref)]))
        if user.phone and user.phone_verified_at is not None and user.phone_consent:
            ref, label = str(uuid.uuid4()), mask_phone(user.phone)
            options[ref] = {"channel": "SMS", "label": label}
            actions.append(_action("otp:sms", "OTP via SMS",
                                   "OTP will be sent via SMS to one of the phone numbers "
                                   "provided by the user.",
                                   [mfa.MfaOption(name="phone:primary", label=label, value=ref)]))
        return actions, options

    @staticmethod
    def _external(allowed: list[str]) -> list[mfa.MfaAction]:
        # The application's backend may vouch with an auth:write grant token.
        return [_action("external", "External Auth")] if "EXTERNAL" in allowed else []

    # -- begin ------------------------------------------------------------------

    async def begin(self, req: mfa.MfaBeginRequest, caller: Caller) -> mfa.MfaNext:
        app_id = app_id_from_host(caller.host)
        if not app_id:
            raise InvalidArgument("The application is named by the host "
                                  "(https://<appId>.<domain>).", reason="missing_field",
                                  field_violations=[("host", "must start with the app id")])
        username = valid_username(required_field(req.user.username, "user.username"),
                                  "user.username")
        display_name = req.user.display_name[:255]
        payload = _payload(req.payload)
        if len(req.trace_id) > 255:
            raise InvalidArgument("traceId is too long.", reason="invalid_field",
                                  field_violations=[("traceId", "at most 255 characters")])
        now = self.core.clock()
        trusted = trust_items(req.trust_items, now)
        await self.core.rate_limit(client_ip=caller.client_ip, user_key=username)
        device = device_json(req)
        if device is not None and devices.device_id_of(device) is None:
            # websdk3's MFA client sends a deviceId only once a completed
            # flow has given it one (AppStore.persistDeviceId(mfa.deviceId)),
            # so the server names the device; without this no SDK device
            # would ever be recorded. Not secret: it only groups one client.
            device["deviceId"] = str(uuid.uuid4())
        async with self.core.read() as db:
            app = await get_application(db, app_id)
            passkeys.check_origin(app, req.origin)
            user = await find_user(db, username)
            if user is not None and (user.pending_since is not None or not user.active):
                # An unproved sign-up or a disabled account: as nobody.
                user = None
        allowed = list(app.authenticators)
        policy = app_policy(app.settings)
        if sum(f in allowed for f in FACTOR_KINDS) < policy.mfa_factors:
            # The application's own settings, the same for every username.
            raise PermissionDenied(
                f"The application asks for {policy.mfa_factors} MFA factors but allows fewer "
                "kinds of factor.", reason="authenticator_not_allowed")
        actions: list[mfa.MfaAction] = []
        state: dict[str, Any] = {
            "username": username, "payload": payload, "device": device,
            "trust": [[t.kind, t.id, t.thumbprint] for t in trusted],
            "trace_id": req.trace_id, "done": [], "otp": {},
        }
        if user is None and policy.self_sign_up and "PASSKEY" in allowed:
            state["flow"] = SIGN_UP
            action, state["passkey"] = await self._passkey_action(
                app, None, username, "reg", payload, device, display_name, now)
            actions.append(action)
        else:
            state["flow"] = SIGN_IN
            if "PASSKEY" in allowed:
                action, state["passkey"] = await self._passkey_action(
                    app, user, username, "tx" if payload else "auth", payload, device,
                    display_name, now)
                actions.append(action)
            if user is not None:
                otp_actions, state["otp"] = self._otp_actions(user, allowed)
                actions.extend(otp_actions)
            actions.extend(self._external(allowed))
        if not actions:
            raise PermissionDenied("The application allows none of the MFA factors.",
                                   reason="authenticator_not_allowed")
        async with self.core.write() as db:
            audit.record(db, event="mfa_begin", outcome="success", now=now,
                         application_id=app.id, user_id=username[:255],
                         client_ip=caller.client_ip)
        return await self._open_next(app=app, state=state, actions=actions,
                                     user_pk=user.pk if user else None, now=now)

    # -- passkey steps ------------------------------------------------------------

    async def passkey_auth(self, req: mfa.MfaPasskeyAuthRequest | mfa.MfaPasskeyTxRequest,
                           authorization: str, caller: Caller, *, kind: str) -> mfa.Mfa:
        if not req.HasField("assertion_result"):
            raise missing_field("assertionResult")
        ar = req.assertion_result
        for value, field in ((ar.credential_id, "assertionResult.credentialId"),
                             (ar.client_data_json, "assertionResult.clientDataJSON"),
                             (ar.authenticator_data, "assertionResult.authenticatorData"),
                             (ar.signature, "assertionResult.signature")):
            if not value:
                raise missing_field(field)
        credential = assertion_json(ar.credential_id, ar.client_data_json,
                                    ar.authenticator_data, ar.signature,
                                    ar.user_handle if ar.HasField("user_handle") else None)
        now = self.core.clock()
        record = await self._load(authorization, caller, now)
        ceremony = record.state.get("passkey") or {}
        if ceremony.get("kind") != kind:
            raise _not_offered(f"passkey:{kind}")
        await self._claim(record, now)
        try:
            done = await passkeys.finish_authentication(
                self.core, session=self._unseal(ceremony["session"], record.application_id),
                credential=credential, purpose=kind)
            async with self.core.hot.transaction() as tx:
                await done.record(tx)
        except AuthcoreError as exc:
            await self._failed(exc, record, caller, now, f"mfa_passkey_{kind}")
            raise
        info = mfa.MfaPasskeyInfo(aaguid=done.passkey.aaguid, passkey_id=done.passkey.id,
                                  public_key=_b64url(done.passkey.public_key))
        state = {**record.state, "done": [*record.state.get("done", []), "PASSKEY"],
                 "passkey_info": message_to_json(info), "tx": kind == "tx"}
        return await self._advance(state, record.application_id, done.user.pk, caller, now)

    async def passkey_reg(self, req: mfa.MfaPasskeyRegRequest, authorization: str,
                          caller: Caller) -> mfa.Mfa:
        if not req.HasField("creation_result"):
            raise missing_field("creationResult")
        cr = req.creation_result
        for value, field in ((cr.credential_id, "creationResult.credentialId"),
                             (cr.client_data_json, "creationResult.clientDataJSON"),
                             (cr.attestation_object, "creationResult.attestationObject")):
            if not value:
                raise missing_field(field)
        credential = {
            "id": cr.credential_id, "rawId": cr.credential_id, "type": "public-key",
            "response": {"clientDataJSON": cr.client_data_json,
                         "attestationObject": cr.attestation_object,
                         "transports": list(cr.transports)},
            "clientExtensionResults": {},
        }
        now = self.core.clock()
        record = await self._load(authorization, caller, now)
        ceremony = record.state.get("passkey") or {}
        if ceremony.get("kind") != "reg":
            raise _not_offered("passkey:reg")
        await self._claim(record, now)
        try:
            done = await passkeys.finish_registration(
                self.core, session=self._unseal(ceremony["session"], record.application_id),
                credential=credential, name=None, device=None)
        except AuthcoreError as exc:
            await self._failed(exc, record, caller, now, "mfa_passkey_reg")
            raise
        device = record.state.get("device")
        if done.user.pending_since is None and devices.device_id_of(device) is not None:
            # As LoginID's reg/complete does; a sign-up that must prove its
            # address records it when the proof activates the account.
            async with self.core.write() as db:
                await devices.record_use(db, user_pk=done.user.pk, device=device, now=now)
        info = mfa.MfaPasskeyInfo(aaguid=done.passkey.aaguid, passkey_id=done.passkey.id,
                                  public_key=_b64url(done.passkey.public_key))
        state = {**record.state, "done": [*record.state.get("done", []), "PASSKEY"],
                 "passkey_info": message_to_json(info)}
        return await self._advance(state, record.application_id, done.user.pk, caller, now)

    async def _failed(self, error: AuthcoreError, record: ChallengeRecord, caller: Caller,
                      now: float, event: str) -> None:
        async with self.core.write() as db:
            audit.record(db, event=event, outcome="failure", reason=error.reason[:64], now=now,
                         application_id=record.application_id,
                         user_id=str(record.state.get("username", ""))[:255] or None,
                         authenticator="PASSKEY", client_ip=caller.client_ip)

    # -- codes --------------------------------------------------------------------

    async def otp_request(self, req: mfa.MfaOtpRequestRequest, authorization: str,
                          caller: Caller) -> mfa.MfaOtpRequestResponse:
        method = required_field(req.method, "method").lower()
        if method not in ("email", "sms"):
            raise InvalidArgument("method must be email or sms.", reason="invalid_field",
                                  field_violations=[("method", "must be email or sms")])
        channel = method.upper()
        now = self.core.clock()
        record = await self._load(authorization, caller, now)
        offered = {ref: o for ref, o in (record.state.get("otp") or {}).items()
                   if o.get("channel") == channel}
        if not offered:
            raise _not_offered(f"otp:{method}")
        # The SDK sends the option's label; a client may send its value.
        chosen = next((ref for ref, o in offered.items()
                       if req.option in (ref, o.get("label"))), None) if req.option \
            else next(iter(offered))
        if chosen is None:
            raise InvalidArgument("option is not one of the session's options.",
                                  reason="invalid_field",
                                  field_violations=[("option", "not offered")])
        username = str(record.state["username"])
        await self.core.rate_limit(client_ip=caller.client_ip, user_key=username)
        async with self.core.read() as db:
            app = await get_application(db, record.application_id)
            user = await db.get(User, record.user_pk) if record.user_pk else None
        proof = bool(offered[chosen].get("proof"))
        address = None
        if user is not None and (user.active or (proof and user.pending_since is not None)):
            # Read again: the address must still be the verified one.
            if channel == "EMAIL":
                address = user.email if (proof or user.email_verified_at is not None) else None
            else:
                address = user.phone if (user.phone_verified_at is not None
                                         and user.phone_consent) else None
        if user is None or not address:
            raise _not_offered(f"otp:{method}")
        # Against message bombing, as send_auth_code: the visible limits by
        # username and IP; the address's own only skip the send.
        await self.core.throttle_delivery(channel, username=username, client_ip=caller.client_ip)
        send = True
        try:
            await self.core.throttle_delivery(channel, address=address)
        except ResourceExhausted:
            send = False
        code = generate_code(digits=CODE_DIGITS)
        state = {**record.state, "code": {
            "hash": hash_code(code=code, key=self.core.code_key), "channel": channel,
            "proof": proof, "expires_at": now + CODE_TTL_SECONDS}}
        actions = [_action("otp:verify", "Verify OTP")]
        state["actions"] = [message_to_json(a) for a in actions]
        async with self.core.write() as db:
            try:
                await self.core.challenges.claim(db, challenge_id=record.id, now=now)
            except Unauthenticated:
                raise _invalid_session() from None
            token, _ = await self.core.challenges.create(
                db, application_id=app.id, user_pk=user.pk, authenticator=MFA, stage="mfa",
                state=state, ttl_seconds=SESSION_SECONDS, now=now)
            if send:
                minutes = CODE_TTL_SECONDS // 60
                self.core.outbox.add(db, Message(
                    user_pk=user.pk, medium=channel, address=address, kind=KIND_OTP,
                    text=f"Your sign-in code is {code}. It expires in {minutes} minutes.",
                    values={"code": code, "minutes": str(minutes)}, application_id=app.id,
                    expires_at=now + CODE_TTL_SECONDS), now=now)
            audit.record(db, event="mfa_otp_send", outcome="sent" if send else "throttled",
                         now=now, application_id=app.id, user_id=user.user_id,
                         authenticator=f"{AUTH_CODE}:{channel}", client_ip=caller.client_ip)
        return mfa.MfaOtpRequestResponse(session=token)

    async def otp_verify(self, req: mfa.MfaOtpVerifyRequest, authorization: str,
                         caller: Caller) -> mfa.Mfa:
        otp = required_field(req.otp.strip(), "otp")
        if len(otp) > MAX_OTP_CHARS:
            raise InvalidArgument("otp is too long.", reason="invalid_field",
                                  field_violations=[("otp", "at most 16 characters")])
        now = self.core.clock()
        record = await self._load(authorization, caller, now)
        code = record.state.get("code")
        if not code or record.user_pk is None:
            raise _not_offered("otp:verify")
        await self.core.rate_limit(client_ip=caller.client_ip,
                                   user_key=str(record.state["username"]))
        user_pk = record.user_pk
        async with self.core.read() as db:
            states = await self.core.lockouts.states(db, user_pk=user_pk)
        if is_locked(state=states.get(AUTH_CODE, LockoutState.clear()), now=now):
            raise codes_locked()
        right = float(code.get("expires_at", 0)) > now
        try:
            verify_code(code=otp, code_hash=str(code.get("hash", "")), key=self.core.code_key)
        except OTPVerificationError:
            right = False
        if not right:
            async with self.core.write() as db:
                refused = (await self.core.lockouts.record_failure(
                    db, user_pk=user_pk, authenticator=AUTH_CODE,
                    policy=self.core.settings.lockout, now=now)).refused
                audit.record(db, event="mfa_otp_verify", outcome="failure",
                             reason="invalid_code", now=now,
                             application_id=record.application_id,
                             user_id=str(record.state["username"])[:255],
                             authenticator=AUTH_CODE, client_ip=caller.client_ip)
            if refused:
                raise codes_locked()
            # The session stays: a mistyped code may be tried again, within
            # the lockout's bound.
            raise Unauthenticated("The code is invalid or has expired.", reason="invalid_code")
        async with self.core.write() as db:
            try:
                await self.core.challenges.claim(db, challenge_id=record.id, now=now)
            except Unauthenticated:
                raise _invalid_session() from None
            if AUTH_CODE in states and await self.core.lockouts.record_success(
                    db, user_pk=user_pk, authenticator=AUTH_CODE, now=now):
                raise codes_locked()
            if code.get("proof"):
                # The code proved the sign-up's address: the account is live.
                if not await signup.activate(db, user_pk=user_pk, now=now):
                    raise _invalid_session()
                await db.execute(update(User).where(User.pk == user_pk)
                                 .values(email_verified_at=now))
                # The device the passkey was registered from, as LoginID's
                # auth/otp/verify does when a sign-up's code comes back.
                await devices.record_use(db, user_pk=user_pk, device=record.state.get("device"),
                                         now=now)
            audit.record(db, event="mfa_otp_verify", outcome="success", now=now,
                         application_id=record.application_id,
                         user_id=str(record.state["username"])[:255],
                         authenticator=AUTH_CODE, client_ip=caller.client_ip)
        state = {k: v for k, v in record.state.items() if k != "code"}
        if not code.get("proof"):
            state["done"] = [*state.get("done", []), "OTP"]
        state["proved"] = bool(code.get("proof")) or bool(state.get("proved"))
        return await self._advance(state, record.application_id, user_pk, caller, now)

    # -- the backend's token ------------------------------------------------------

    async def third_party_verify(self, req: mfa.MfaThirdPartyAuthVerifyRequest,
                                 authorization: str, caller: Caller) -> mfa.Mfa:
        token = required_field(req.token.strip(), "token")
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidArgument("token is too long.", reason="invalid_field",
                                  field_violations=[("token", "at most 512 characters")])
        now = self.core.clock()
        record = await self._load(authorization, caller, now)
        offered = {a.get("action", {}).get("name") for a in record.state.get("actions", [])}
        if "external" not in offered:
            raise _not_offered("external")
        username = str(record.state["username"])
        async with self.core.read() as db:
            app = await get_application(db, record.application_id)
            rights = await verify_grant_token(self.core, db, token, application_id=app.id,
                                              now=now)
            user = await find_user(db, username)
        if AUTH_WRITE not in rights.grants:
            raise missing_grant(AUTH_WRITE)
        if not rights.covers(username):
            raise PermissionDenied("The token is for another username.", reason="forbidden")
        if user is None or not user.active:
            raise PermissionDenied("The token's user cannot sign in.", reason="forbidden")
        # Before anything is used up: a refusal changes nothing.
        grant(application_id=app.id, allowed=app.authenticators, factors=("EXTERNAL",))
        async with self.core.write() as db:
            try:
                await self.core.challenges.claim(db, challenge_id=record.id, now=now)
            except Unauthenticated:
                raise _invalid_session() from None
            await consume_grant(self.core, db, rights, now=now)
            audit.record(db, event="mfa_external", outcome="success", now=now,
                         application_id=app.id, user_id=user.user_id,
                         authenticator="EXTERNAL", client_ip=caller.client_ip)
        state = {**record.state, "done": [*record.state.get("done", []), "EXTERNAL"]}
        return await self._advance(state, app.id, user.pk, caller, now)

    # -- the payload ----------------------------------------------------------------

    async def payload_update(self, req: mfa.MfaPayloadUpdateRequest, authorization: str,
                             caller: Caller) -> mfa.MfaNext:
        if not req.payload:
            raise missing_field("payload")
        payload = _payload(req.payload)
        now = self.core.clock()
        record = await self._load(authorization, caller, now)
        state = dict(record.state)
        ceremony = state.get("passkey") or {}
        if ceremony.get("kind") not in ("auth", "tx", "reg") or state.get("code"):
            raise _not_offered("passkey:tx")
        async with self.core.read() as db:
            app = await get_application(db, record.application_id)
            user = await db.get(User, record.user_pk) if record.user_pk else None
        actions = [mfa.MfaAction() for _ in state.get("actions", [])]
        for out, data in zip(actions, state.get("actions", []), strict=True):
            json_to_message(data, mfa.MfaAction, into=out)
        state["payload"] = payload
        if ceremony["kind"] != "reg":
            # A new challenge committing to the new payload; the old one is
            # left to expire (its token was only ever in the old state).
            action, state["passkey"] = await self._passkey_action(
                app, user, str(state["username"]), "tx", payload, state.get("device"), "", now)
            actions = [action if a.action.name.startswith("passkey:") else a for a in actions]
        return await self._open_next(app=app, state=state, actions=actions,
                                     user_pk=record.user_pk, now=now, claim=record.id)

    # -- moving on ------------------------------------------------------------------

    async def _advance(self, state: dict[str, Any], app_id: str, user_pk: str, caller: Caller,
                       now: float) -> mfa.Mfa:
        """Another step (raised as AdditionalAuthRequired), or the tokens."""
        async with self.core.read() as db:
            app = await get_application(db, app_id)
            user = await db.get(User, user_pk)
            held = list(await passkeys.user_passkeys(db, user_pk)) if user else []
        if user is None:
            raise _invalid_session()
        has_passkey = bool(held)
        state = {k: v for k, v in state.items() if k not in ("passkey", "otp", "code")}
        if user.pending_since is not None:
            # A new email username proves its address before it signs in
            # anywhere (flows/signup.py): the next step is that code.
            ref, label = str(uuid.uuid4()), mask_email(user.email or user.user_id)
            state["otp"] = {ref: {"channel": "EMAIL", "label": label, "proof": True}}
            actions = [_action("otp:email", "OTP via Email",
                               "OTP will be sent to the email address being registered.",
                               [mfa.MfaOption(name="email:primary", label=label, value=ref)])]
            raise AdditionalAuthRequired(await self._open_next(
                app=app, state=state, actions=actions, user_pk=user.pk, now=now))
        payload = str(state.get("payload") or "")
        wanted = app_policy(app.settings).mfa_factors
        done = [f for f in dict.fromkeys(state.get("done", [])) if f in FACTOR_KINDS]
        if len(done) < wanted and state.get("proved") and "OTP" not in done \
                and "OTP" in app.authenticators:
            # A sign-up's address proof is a code sent and typed back: where
            # two factors are asked for, it is the code factor (asking for
            # another mail at once would prove nothing more).
            state["done"] = [*state.get("done", []), "OTP"]
            done.append("OTP")
        if len(done) < wanted:
            rp_id = passkeys.relying_party(app).rp_id
            actions, state = await self._other_factors(
                app, user, state, done, any(p.rp_id == rp_id for p in held), now)
            if not actions:
                await self._no_other_factor(app, user, caller, now, wanted)
            raise AdditionalAuthRequired(await self._open_next(
                app=app, state=state, actions=actions, user_pk=user.pk, now=now))
        if payload and not state.get("tx") and has_passkey and "PASSKEY" in app.authenticators:
            # The payload is confirmed by a passkey when the user has one.
            action, state["passkey"] = await self._passkey_action(
                app, user, user.user_id, "tx", payload, state.get("device"), "", now)
            raise AdditionalAuthRequired(await self._open_next(
                app=app, state=state, actions=[action], user_pk=user.pk, now=now))
        return await self._complete(state, app, user, caller, now)

    async def _other_factors(self, app: Application, user: User, state: dict[str, Any],
                             done: list[str], has_rp_passkey: bool, now: float
                             ) -> tuple[list[mfa.MfaAction], dict[str, Any]]:
        """The actions of the factor kinds not yet done that this user can
        do now: their passkey of the application's RP (passkey:tx when a
        payload waits, so one assertion is both), codes to verified
        addresses, the backend's token. Only real factors: the user has
        authenticated once, so there is nothing left to hide."""
        allowed = list(app.authenticators)
        state = dict(state)
        actions: list[mfa.MfaAction] = []
        payload = str(state.get("payload") or "")
        if "PASSKEY" not in done and "PASSKEY" in allowed and has_rp_passkey:
            kind = "tx" if payload and not state.get("tx") else "auth"
            action, state["passkey"] = await self._passkey_action(
                app, user, user.user_id, kind, payload, state.get("device"), "", now)
            actions.append(action)
        if "OTP" not in done:
            otp_actions, state["otp"] = self._otp_actions(user, allowed)
            actions.extend(otp_actions)
        if "EXTERNAL" not in done:
            actions.extend(self._external(allowed))
        return actions, state

    async def _no_other_factor(self, app: Application, user: User, caller: Caller, now: float,
                               wanted: int) -> NoReturn:
        """Refuse rather than sign in on fewer factors than the application
        asks for. The step's session is already used up: the flow ends."""
        async with self.core.write() as db:
            audit.record(db, event="mfa_complete", outcome="failure",
                         reason="second_factor_unavailable", now=now, application_id=app.id,
                         user_id=user.user_id, client_ip=caller.client_ip)
        raise PermissionDenied(
            f"The application asks for {wanted} MFA factors and this user has no other factor "
            "set up (a passkey, or a verified email address or phone number).",
            reason="second_factor_unavailable")

    async def _complete(self, state: dict[str, Any], app: Application, user: User,
                        caller: Caller, now: float) -> mfa.Mfa:
        done = [f for f in state.get("done", []) if f in AMR]
        factor = done[-1] if done else "PASSKEY"
        # Every factor the flow went through must be one the application
        # allows (flows/policy.grant), as on every API.
        decision = grant(application_id=app.id, allowed=app.authenticators,
                         factors=tuple(dict.fromkeys(done)) or (factor,))
        amr = list(dict.fromkeys(AMR[f] for f in done)) or [AMR[factor]]
        policy = app_policy(app.settings)
        ttl = policy.session_seconds
        family = start_family(session_ttl=ttl, refresh_ttl=policy.refresh_seconds, now=now)
        async with self.core.write() as db:
            issued = await issue_session(
                db, self.core.signer, user_pk=user.pk, user_id=user.user_id, grant=decision,
                amr=amr, ttl_seconds=ttl, now=now, extra_claims=username_claim(user.user_id),
                refresh_id=family.refresh_id, row_expires_at=family.expires_at)
            audit.record(db, event="mfa_complete", outcome="success", now=now,
                         application_id=app.id, user_id=user.user_id,
                         authenticator=factor, client_ip=caller.client_ip)
        await self._remember_trust(state, app.id, user, now)
        signer = self.core.signer
        # Neither names a session row by its jti, so neither works as an
        # access token where verify_session checks the jti.
        id_token = sign_id_token(signer, user_id=user.user_id, application_id=app.id,
                                 session_id=issued.session_id, amr=amr, auth_time=int(now),
                                 ttl_seconds=ttl, now=now,
                                 extra_claims=username_claim(user.user_id))
        refresh_token = sign_refresh_token(
            signer, family, user_id=user.user_id, application_id=app.id,
            session_id=issued.session_id, amr=amr, auth_time=int(now),
            expires_at=family.expires_at, now=now, extra_claims=username_claim(user.user_id))
        payload = str(state.get("payload") or "")
        payload_signature, _ = signer.sign({
            "sub": user.user_id, "aud": app.id, "jti": str(uuid.uuid4()), "amr": amr,
            "payload": payload,
            "payload_hash": _b64url(hashlib.sha256(payload.encode()).digest()),
            "tx": bool(state.get("tx")), "sid": issued.session_id,
        }, ttl_seconds=ttl, now=now, token_type=_PAYLOAD_TYP)
        out = mfa.Mfa(access_token=issued.token, flow=str(state.get("flow", SIGN_IN)),
                      id_token=id_token, payload=payload, payload_signature=payload_signature,
                      refresh_token=refresh_token)
        device_id = (state.get("device") or {}).get("deviceId")
        if isinstance(device_id, str) and device_id:
            out.device_id = device_id
        info = state.get("passkey_info")
        if info:
            out.passkey_info.CopyFrom(mfa.MfaPasskeyInfo(
                aaguid=info.get("aaguid", ""), passkey_id=info.get("passkeyId", ""),
                public_key=info.get("publicKey", "")))
        return out

    # -- trust IDs ------------------------------------------------------------------

    async def _remember_trust(self, state: dict[str, Any], app_id: str, user: User,
                              now: float) -> None:
        """A completed flow vouches for the browser keys of its trust IDs."""
        for kind, trust_id, thumbprint in state.get("trust") or []:
            item = TrustItem(kind=kind, id=trust_id, thumbprint=thumbprint)
            try:
                async with self.core.write() as db:
                    try:
                        await self.core.challenges.load(db, token=item.key(app_id), now=now)
                        continue  # already known
                    except Unauthenticated:
                        pass
                    await self.core.challenges.create(
                        db, application_id=app_id, user_pk=user.pk, authenticator=TRUST_ID,
                        stage=kind, state={"username": user.user_id},
                        ttl_seconds=TRUST_SECONDS, now=now, token=item.key(app_id))
            except IntegrityError:
                continue  # recorded concurrently

    async def discover(self, req: mfa.MfaDiscoverRequest, caller: Caller) -> None:
        app_id = app_id_from_host(caller.host)
        if not app_id:
            raise InvalidArgument("The application is named by the host "
                                  "(https://<appId>.<domain>).", reason="missing_field",
                                  field_violations=[("host", "must start with the app id")])
        now = self.core.clock()
        items = trust_items(req.trust_items, now)
        if not items:
            raise missing_field("trustItems")
        await self.core.rate_limit(client_ip=caller.client_ip)
        async with self.core.read() as db:
            app = await get_application(db, app_id)
            for item in items:
                try:
                    found = await self.core.challenges.load(db, token=item.key(app.id), now=now)
                except Unauthenticated:
                    continue
                if found.authenticator == TRUST_ID and found.application_id == app.id:
                    return
        raise NotFound("No trust ID is known.", reason="trust_id_not_found")


__all__ = ["AdditionalAuthRequired", "LoginIdMfaFlow", "mask_email", "mask_phone",
           "trust_item"]
