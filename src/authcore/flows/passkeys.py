"""Passkey ceremonies over the store, shared by the LoginID API and Entrust's
FIDO/PASSKEY authenticators.

Challenges live in `core.challenges` like every other challenge: random
session token, single-use, expiring, bound to the application and (when known)
the user. The WebAuthn challenge bytes are kept in the challenge's state; py_webauthn
checks the client's response against them (verify/webauthn.py).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from authcore.errors import (
    AuthcoreError,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
)
from authcore.flows import signup
from authcore.flows.challenges import ChallengeRecord
from authcore.flows.context import Core
from authcore.flows.devices import default_name, device_id_of
from authcore.flows.directory import get_application
from authcore.flows.policy import WebAuthnPolicy
from authcore.identifiers import username_key
from authcore.store.hot import HotTx
from authcore.store.hot import queries as hq
from authcore.store.hot import statements as q
from authcore.store.hot.queries import AppRow, PasskeyRow, UserRow
from authcore.store.models import AaguidBlock, Application, PasskeyCredential, User
from authcore.verify.webauthn import (
    RelyingParty,
    WebAuthnVerificationError,
    generate_authentication,
    generate_registration,
    parse_assertion,
    verify_authentication,
    verify_registration,
)

REGISTRATION = "PASSKEY_REG"
AUTHENTICATION = "PASSKEY_AUTH"


# py_webauthn's codecs: base64url without padding, as WebAuthn JSON uses.
b64url = bytes_to_base64url
unb64url = base64url_to_bytes


def relying_party(app: Application | AppRow) -> RelyingParty:
    p = WebAuthnPolicy.from_settings(app.settings)
    return RelyingParty(
        rp_id=p.rp_id, rp_name=p.rp_name, origins=p.origins,
        user_verification=p.user_verification,  # type: ignore[arg-type]
        resident_key=p.resident_key,  # type: ignore[arg-type]
        attestation="direct" if p.require_attestation else "none",
        require_attestation=p.require_attestation, timeout_ms=p.timeout_ms,
    )


def check_origin(app: Application | AppRow, origin: str) -> None:
    """Refuse a ceremony started from a page the application does not allow
    (the signature check would refuse it later; this fails early and clearly)."""
    if origin and origin not in WebAuthnPolicy.from_settings(app.settings).origins:
        raise PermissionDenied(f"Origin {origin} is not allowed for this application.",
                               reason="origin_not_allowed")


async def blocked_aaguids(db: AsyncSession, application_id: str, *, stage: str) -> set[str]:
    column = AaguidBlock.reg if stage == "reg" else AaguidBlock.auth
    rows = await db.execute(
        select(AaguidBlock.aaguid).where(AaguidBlock.application_id == application_id,
                                         column.is_(True)))
    return {r.lower() for r in rows.scalars()}


async def user_passkeys(db: AsyncSession, user_pk: str) -> Sequence[PasskeyCredential]:
    rows = await db.execute(
        select(PasskeyCredential).where(PasskeyCredential.user_pk == user_pk)
        .order_by(PasskeyCredential.created_at))
    return rows.scalars().all()


def user_handle(user_pk: str) -> bytes:
    # The row key is random and carries no personal data, as WebAuthn asks.
    return user_pk.encode()


@dataclass(frozen=True)
class Begun:
    session: str
    options: dict[str, Any]
    expires_at: float


async def begin_registration(
    core: Core, db: AsyncSession, *, app: Application, user_pk: str, username: str,
    display_name: str, existing: bool, now: float, extra: dict[str, Any] | None = None,
) -> Begun:
    rp = relying_party(app)
    # Only credentials of this relying party matter to the authenticator.
    exclude = [unb64url(p.credential_id) for p in await user_passkeys(db, user_pk)
               if p.rp_id == rp.rp_id] if existing else []
    started = generate_registration(rp=rp, user_id=user_handle(user_pk), user_name=username,
                                    display_name=display_name or username,
                                    exclude_credential_ids=exclude)
    state = {"challenge": b64url(started.challenge), "username": username,
             "display_name": display_name, "user_pk": user_pk, "existing": existing,
             **(extra or {})}
    token, expires = await core.challenges.create(
        db, application_id=app.id, user_pk=user_pk if existing else None,
        authenticator=REGISTRATION, stage="reg", state=state,
        ttl_seconds=rp.timeout_ms / 1000 + 60, now=now)
    return Begun(session=token, options=started.options, expires_at=expires)


@dataclass(frozen=True)
class Registered:
    user: User
    passkey: PasskeyCredential
    state: dict[str, Any]
    application: Application


async def finish_registration(
    core: Core, *, session: str, credential: dict[str, Any], name: str | None,
    device: dict[str, Any] | None, stage: str = "reg",
) -> Registered:
    """Verify the attestation and store the passkey; a new user is created
    here, so an abandoned registration leaves nothing behind.

    Every completed attempt uses the session up, refused or not. ``device``
    defaults to what the caller stored as ``extra={"device": ...}`` at begin.
    """
    now = core.clock()
    async with core.read() as db:
        ch = await core.challenges.load(db, token=session, now=now)
        if ch.authenticator != REGISTRATION or ch.stage != stage:
            raise Unauthenticated("The session is not a registration session.",
                                  reason="invalid_session")
        app = await get_application(db, ch.application_id)
        blocked = await blocked_aaguids(db, app.id, stage="reg")
    try:
        verified = verify_registration(rp=relying_party(app), credential=credential,
                                       expected_challenge=unb64url(ch.state["challenge"]),
                                       blocked_aaguids=blocked)
    except WebAuthnVerificationError as exc:
        raise await _refused(core, ch, now, _rejected(exc)) from None
    if device is None:
        device = ch.state.get("device")
    credential_id = b64url(verified.credential_id)
    passkey: PasskeyCredential | None = None
    refusal: AuthcoreError | None = None
    try:
        async with core.write() as db:
            # Committed even when refused below: the session is used up.
            await core.challenges.claim(db, challenge_id=ch.id, now=now)
            if (await db.execute(select(PasskeyCredential.id).where(
                    PasskeyCredential.credential_id == credential_id))).first():
                refusal = InvalidArgument("This credential is already registered.",
                                          reason="credential_exists")
            else:
                try:
                    user = await _registration_user(db, ch, now)
                except AuthcoreError as exc:
                    refusal = exc
            if refusal is None:
                passkey = PasskeyCredential(
                    id=str(uuid.uuid4()), user_pk=user.pk, rp_id=relying_party(app).rp_id,
                    credential_id=credential_id, public_key=verified.public_key,
                    sign_count=verified.sign_count, aaguid=verified.aaguid, fmt=verified.fmt,
                    transports=list(verified.transports),
                    backup_eligible=verified.backup_eligible,
                    backup_state=verified.backup_state,
                    name=(name or "").strip()[:255] or _default_name(verified.aaguid),
                    created_at=now, created_device=device, last_used_at=None,
                    last_used_device=None, flagged_at=None,
                )
                db.add(passkey)
    except IntegrityError:
        # A concurrent registration took the username or the credential id
        # between our check and the commit.
        raise InvalidArgument("The username or credential was registered meanwhile.",
                              reason="credential_exists") from None
    if refusal is not None or passkey is None:
        raise refusal or InvalidArgument("The registration was refused.")
    return Registered(user=user, passkey=passkey, state=ch.state, application=app)


async def _registration_user(db: AsyncSession, ch: ChallengeRecord, now: float) -> User:
    if ch.state.get("existing"):
        user = await db.get(User, ch.state["user_pk"])
        if user is None:
            raise Unauthenticated("The user no longer exists.", reason="invalid_session")
        return user
    # A sign-up that never proved its address holds the name for nobody.
    await signup.drop_unproved(db, user_id=ch.state["username"])
    taken = (await db.execute(select(User).where(
        User.user_key == username_key(ch.state["username"])))).scalar_one_or_none()
    if taken is not None:
        raise PermissionDenied("That username was registered meanwhile.",
                               reason="username_taken")
    pending = signup.needs_proof(ch.state["username"])
    user = User(pk=ch.state["user_pk"], user_id=ch.state["username"], email=None, phone=None,
                first_name=ch.state.get("display_name") or None, last_name=None,
                active=not pending, pending_since=now if pending else None, created_at=now)
    if pending:
        user.email = user.user_id
    db.add(user)
    await db.flush()
    return user


def _default_name(aaguid: str) -> str:
    from authcore.flows.aaguids import lookup

    known = lookup(aaguid)
    return known.name if known else "Passkey"


async def begin_authentication(
    core: Core, *, app: AppRow, user: UserRow | None, now: float,
    purpose: str = "auth", extra: dict[str, Any] | None = None,
    challenge: bytes | None = None, decoy: bytes | None = None,
) -> Begun:
    """A sign-in challenge (hot path): the user's passkeys read on the raw
    driver, then the challenge created in one write transaction (none at
    all on PostgreSQL when challenges live in Redis). `decoy` is listed
    when the user has no passkey of the relying party, or is nobody, so the
    list doesn't tell (flows/ghosts.py); None lists nothing then."""
    rp = relying_party(app)
    # The read runs for nobody too (an absent pk matches no row), so both
    # paths cost the same.
    allow = [unb64url(p.credential_id)
             for p in await hq.user_passkeys(core.hot, user.pk if user is not None else "")
             if p.rp_id == rp.rp_id]
    if not allow and decoy is not None:
        allow = [decoy]
    started = generate_authentication(rp=rp, allow_credential_ids=allow, challenge=challenge)
    state = {"challenge": b64url(started.challenge), **(extra or {})}
    async with core.hot.transaction() as tx:
        token, expires = await core.challenges.hot_create(
            tx, application_id=app.id, user_pk=user.pk if user else None,
            authenticator=AUTHENTICATION, stage=purpose, state=state,
            ttl_seconds=rp.timeout_ms / 1000 + 60, now=now)
    return Begun(session=token, options=started.options, expires_at=expires)


@dataclass(frozen=True)
class Authenticated:
    """A verified assertion, not yet recorded: `record` uses the session up
    and compare-and-sets the sign count inside the caller's write
    transaction (and raises when a concurrent assertion won)."""

    user: UserRow
    passkey: PasskeyRow
    state: dict[str, Any]
    application: AppRow
    record: Callable[[HotTx], Awaitable[None]]


async def finish_authentication(
    core: Core, *, session: str, credential: dict[str, Any], purpose: str = "auth",
    device: dict[str, Any] | None = None,
) -> Authenticated:
    """Verify an assertion against the session's challenge and the stored
    credential, on the hot path: reads on the raw driver, no write yet.
    Every completed attempt uses the session up, refused or not (a refusal
    here in its own transaction); a sign-count regression also flags the
    credential. ``device`` defaults to what the caller stored as
    ``extra={"device": ...}`` at begin."""
    now = core.clock()
    hot = core.hot
    ch, _, app = await core.challenges.hot_load(hot, token=session, now=now)
    if ch.authenticator != AUTHENTICATION or ch.stage != purpose:
        raise Unauthenticated("The session is not a sign-in session.",
                              reason="invalid_session")
    try:
        parsed = parse_assertion(credential)
    except WebAuthnVerificationError as exc:
        raise await _refused(core, ch, now, _rejected(exc)) from None
    passkey = await hq.passkey_by_credential_id(hot, b64url(parsed.credential_id))
    problem: str | None = None
    if passkey is None:
        problem = "unknown credential"
    # A challenge issued for one user can't be answered with another
    # user's credential; a discoverable one is resolved by userHandle.
    elif ch.user_pk is not None and passkey.user_pk != ch.user_pk:
        problem = "credential of another user"
    elif (parsed.user_handle is not None
          and parsed.user_handle != user_handle(passkey.user_pk)):
        problem = "userHandle does not match"
    if problem is not None or passkey is None:
        raise await _refused(core, ch, now, _rejected(
            WebAuthnVerificationError("credential_mismatch", problem or "")))
    user = await hq.load_user_by_pk(hot, passkey.user_pk)
    if user is None or not user.active:
        raise await _refused(core, ch, now, PermissionDenied(
            "The user is disabled.", reason="user_disabled"))
    # A start for a named user that doesn't exist can't be answered with
    # somebody else's discoverable passkey.
    expected = ch.state.get("username")
    if expected is not None and username_key(expected) != username_key(user.user_id):
        raise await _refused(core, ch, now, InvalidArgument(
            "The passkey response was refused: credential_mismatch.",
            reason="credential_mismatch"))
    blocked = await hq.blocked_aaguids_at_auth(hot, app.id)
    try:
        verified = verify_authentication(
            rp=relying_party(app), credential=credential,
            expected_challenge=unb64url(ch.state["challenge"]),
            credential_public_key=passkey.public_key, current_sign_count=passkey.sign_count,
            credential_id=parsed.credential_id, aaguid=passkey.aaguid, blocked_aaguids=blocked)
    except WebAuthnVerificationError as exc:
        async with hot.transaction() as tx:
            await core.close_challenge(tx, challenge_id=ch.id, now=now)
            if exc.reason == "sign_count_regression":
                await tx.execute(q.FLAG_PASSKEY, {"id": passkey.id, "now": now})
        raise _rejected(exc) from None
    if device is None:
        device = ch.state.get("device")
    used = dataclasses.replace(passkey, sign_count=verified.new_sign_count,
                               backup_state=verified.backup_state, last_used_at=now,
                               last_used_device=device)
    old_count = passkey.sign_count

    async def record(tx: HotTx) -> None:
        await core.close_challenge(tx, challenge_id=ch.id, now=now)
        # Compare-and-set on the stored count: a concurrent assertion with the
        # same counter (a replayed or cloned authenticator) loses.
        if await tx.execute(q.RECORD_PASSKEY_USE_FROM_DEVICE, {
                "id": used.id, "old_sign_count": old_count, "sign_count": used.sign_count,
                "backup_state": used.backup_state, "now": now,
                "device": None if device is None else json.dumps(device)}) != 1:
            raise _rejected(WebAuthnVerificationError("sign_count_regression",
                                                      "concurrent use of the credential"))
        device_id = device_id_of(device)
        if device_id is not None and device is not None:
            await tx.execute(q.RECORD_DEVICE_USE, {
                "id": str(uuid.uuid4()), "user_pk": user.pk, "device_id": device_id,
                "name": default_name(device), "info": json.dumps(device), "now": now})

    return Authenticated(user=user, passkey=used, state=ch.state, application=app,
                         record=record)


async def _refused(core: Core, ch: ChallengeRecord, now: float,
                   error: AuthcoreError) -> AuthcoreError:
    """Use the session up (a refused response can't be retried on it) and
    return the error to raise. A session already used answers as replayed."""
    async with core.hot.transaction() as tx:
        await core.close_challenge(tx, challenge_id=ch.id, now=now)
    return error


def _rejected(exc: WebAuthnVerificationError) -> InvalidArgument:
    """A refused WebAuthn response is a client error (400) naming the reason."""
    return InvalidArgument(f"The passkey response was refused: {exc.reason}.",
                           reason=exc.reason)
