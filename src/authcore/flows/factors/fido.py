"""FIDO and PASSKEY: WebAuthn assertions in Entrust's challenge/complete flow.

The challenge carries Entrust's FIDOChallenge (standard base64 values); the
WebAuthn challenge bytes stay in the challenge row's state. The complete
carries Entrust's FIDOResponse, which is turned into a standard
AuthenticationResponseJSON and checked by verify/webauthn.py against the
stored passkey, with the application's relying party and AAGUID blocklist.

FIDO needs a known user and lists their credentials in allowCredentials.
PASSKEY is the discoverable variant: its challenge may name no user, and the
user is then found at complete from the credential and its userHandle
(`discoverable_user`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from authcore.errors import InvalidArgument
from authcore.flows.factors.base import Answer, Effect, FactorContext, Started, StartInput
from authcore.flows.passkeys import b64url, relying_party, unb64url, user_handle
from authcore.store.hot import Fetcher, HotTx
from authcore.store.hot import queries as hq
from authcore.store.hot import statements as q
from authcore.store.hot.queries import AppRow, PasskeyRow, UserRow
from authcore.store.models import Application
from authcore.v1 import authentication_pb2 as authn
from authcore.v1 import authenticators_pb2 as common
from authcore.verify.webauthn import (
    RelyingParty,
    WebAuthnVerificationError,
    generate_authentication,
    parse_assertion,
    verify_authentication,
)

_B64 = re.compile(r"[A-Za-z0-9+/_-]*={0,2}")


def b64std(data: bytes) -> str:
    """Standard, padded base64: Entrust's "base-64 encoded" values."""
    return base64.b64encode(data).decode()


def unb64any(text: str) -> bytes:
    """Decode standard base64 or base64url, padded or not; ValueError when
    the text is neither."""
    if not _B64.fullmatch(text) or len(text.rstrip("=")) % 4 == 1:
        raise ValueError("not base64")
    body = text.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None


@dataclass(frozen=True)
class FidoAnswer(Answer):
    """An answer that may carry Entrust's fidoResponse, already turned into a
    WebAuthn AuthenticationResponseJSON (see `assertion_json`)."""

    fido: dict[str, Any] | None = None


def assertion_json(resp: common.FIDOResponse) -> dict[str, Any]:
    """Entrust's FIDOResponse as a standard AuthenticationResponseJSON. The
    values pass through as sent: verify/webauthn accepts base64url and
    standard base64 and refuses anything else."""
    return {
        "id": resp.credential_id,
        "rawId": resp.credential_id,
        "type": "public-key",
        "response": {
            "authenticatorData": resp.authenticator_data,
            "clientDataJSON": resp.client_data_json,
            "signature": resp.signature,
            "userHandle": resp.user_handle if resp.HasField("user_handle") else None,
        },
        "clientExtensionResults": {},
    }


def check_relying_party(app: Application | AppRow, *, rp_id: str, origin: str) -> None:
    """Refuse an rpId (or the deprecated origin) that is not the
    application's: one application is one relying party."""
    rp = relying_party(app)
    if rp_id and rp_id != rp.rp_id:
        raise InvalidArgument(f"rpId must be {rp.rp_id!r} for this application.",
                              reason="rp_id_mismatch",
                              field_violations=[("rpId", "is not the application's RP ID")])
    # Entrust deprecated origin for rpId; check it only when it is an origin.
    if "://" in origin and origin not in rp.origins:
        raise InvalidArgument(f"Origin {origin} is not allowed for this application.",
                              reason="origin_mismatch",
                              field_violations=[("origin", "is not allowed")])


async def rp_passkeys(ctx: FactorContext) -> list[PasskeyRow]:
    """The user's passkeys that can sign for the application's relying party."""
    rp_id = relying_party(ctx.app).rp_id
    pk = ctx.user.pk
    passkeys = await ctx.once("passkeys", lambda: hq.user_passkeys(ctx.core.hot, pk))
    return [p for p in passkeys if p.rp_id == rp_id]


def _started(rp: RelyingParty, passkeys: Sequence[PasskeyRow]) -> Started:
    ids = [unb64url(p.credential_id) for p in passkeys]
    generated = generate_authentication(rp=rp, allow_credential_ids=ids)
    challenge = common.FIDOChallenge(
        challenge=b64std(generated.challenge),
        allow_credentials=[b64std(i) for i in ids],
        timeout=max(1, rp.timeout_ms // 1000),
        timeout_millis=rp.timeout_ms,
    )
    return Started(
        state={"challenge": b64url(generated.challenge)},
        response=authn.AuthenticatedResponse(fido_challenge=challenge),
        # The ceremony's own timeout, plus time to send the answer.
        ttl_seconds=rp.timeout_ms / 1000 + 60,
    )


def start_discoverable(app: AppRow) -> Started:
    """A PASSKEY challenge for no particular user: empty allowCredentials."""
    return _started(relying_party(app), [])


async def _credential(db: Fetcher, credential_id: bytes) -> PasskeyRow | None:
    return await hq.passkey_by_credential_id(db, b64url(credential_id))


def _assertion(answer: Answer) -> dict[str, Any]:
    fido = answer.fido if isinstance(answer, FidoAnswer) else None
    if fido is None:
        raise WebAuthnVerificationError("invalid_credential", "fidoResponse is required")
    return fido


async def discoverable_user(db: Fetcher, answer: Answer) -> UserRow:
    """The user a discoverable assertion names: the owner of the credential,
    confirmed by the userHandle (WebAuthn 7.2 step 6). Nothing is verified
    yet; the factor's finish does that."""
    parsed = parse_assertion(_assertion(answer))
    if parsed.user_handle is None:
        raise WebAuthnVerificationError("credential_mismatch",
                                        "userHandle is required for a passkey sign-in")
    passkey = await _credential(db, parsed.credential_id)
    if passkey is None or parsed.user_handle != user_handle(passkey.user_pk):
        raise WebAuthnVerificationError("credential_mismatch", "unknown credential")
    user = await hq.load_user_by_pk(db, passkey.user_pk)
    if user is None:
        raise WebAuthnVerificationError("credential_mismatch", "unknown credential")
    return user


class _WebAuthnFactor:
    name = ""

    async def available(self, ctx: FactorContext) -> bool:
        # Spare the lookup where the application can't use this authenticator
        # (FIDO also serves as a second factor of PASSWORD_AND_SECONDFACTOR).
        allowed = ctx.app.authenticators
        if self.name not in allowed and not (
                self.name == "FIDO" and "PASSWORD_AND_SECONDFACTOR" in allowed):
            return False
        return bool(await rp_passkeys(ctx))

    async def start(self, ctx: FactorContext, inp: StartInput) -> Started:
        return _started(relying_party(ctx.app), await rp_passkeys(ctx))

    async def finish(
        self, ctx: FactorContext, state: dict[str, Any], answer: Answer
    ) -> Effect | None:
        assertion = _assertion(answer)
        parsed = parse_assertion(assertion)
        passkey = await _credential(ctx.core.hot, parsed.credential_id)
        # Only the challenge's user's own credential can answer.
        if passkey is None or passkey.user_pk != ctx.user.pk:
            raise WebAuthnVerificationError("credential_mismatch",
                                            "not a credential of this user")
        if parsed.user_handle is not None and parsed.user_handle != user_handle(passkey.user_pk):
            raise WebAuthnVerificationError("credential_mismatch", "userHandle does not match")
        blocked = await hq.blocked_aaguids_at_auth(ctx.core.hot, ctx.app.id)
        try:
            verified = verify_authentication(
                rp=relying_party(ctx.app), credential=assertion,
                expected_challenge=unb64url(state["challenge"]),
                credential_public_key=passkey.public_key, current_sign_count=passkey.sign_count,
                credential_id=parsed.credential_id, aaguid=passkey.aaguid,
                blocked_aaguids=blocked)
        except WebAuthnVerificationError as exc:
            if exc.reason == "sign_count_regression":
                # A likely cloned authenticator: flag the credential for the
                # admin, in its own transaction, since the login is refused.
                async with ctx.core.hot.transaction() as tx:
                    await tx.execute(q.FLAG_PASSKEY, {"id": passkey.id, "now": ctx.now})
            raise
        passkey_id, old_count, now = passkey.id, passkey.sign_count, ctx.now

        async def record_use(tx: HotTx) -> None:
            if await tx.execute(q.RECORD_PASSKEY_USE, {
                    "id": passkey_id, "old_sign_count": old_count,
                    "sign_count": verified.new_sign_count,
                    "backup_state": verified.backup_state, "now": now}) != 1:
                raise WebAuthnVerificationError("sign_count_regression",
                                                "concurrent use of the credential")

        return record_use


class FidoFactor(_WebAuthnFactor):
    name = "FIDO"


class PasskeyFactor(_WebAuthnFactor):
    """Like FIDO when the user is known; see `start_discoverable` and
    `discoverable_user` for the usernameless variant."""

    name = "PASSKEY"
