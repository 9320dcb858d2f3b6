"""Typed reads of the hot paths: each runs one statement of statements.py
and turns its rows into small frozen records (no ORM objects, no identity
map). The records carry the attribute names of the ORM models, so code
that only reads (a relying party from an application's settings, say)
takes either."""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from authcore.identifiers import email_key, username_key
from authcore.limits.lockout import LockoutState
from authcore.store.hot import Fetcher, HotTx, Row
from authcore.store.hot import statements as q

# Parsed application settings by their stored text: an application's row
# changes seldom and its JSON is parsed again only when it does.
_JSON_CACHE: dict[str, Any] = {}
_JSON_CACHE_MAX = 512


def cached_json(text: str | bytes | None) -> Any:
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode()
    try:
        return _JSON_CACHE[text]
    except KeyError:
        pass
    value = json.loads(text)
    if len(_JSON_CACHE) >= _JSON_CACHE_MAX:
        _JSON_CACHE.clear()
    _JSON_CACHE[text] = value
    return value


@dataclass(frozen=True, slots=True)
class ExternalVerifierRow:
    url: str
    # Sealed (AES-GCM, AAD external_verifier:<application id>).
    secret: bytes
    timeout_ms: int


@dataclass(frozen=True, slots=True)
class AppRow:
    id: str
    name: str
    # Shared with the JSON cache: never mutate.
    authenticators: list[str]
    settings: dict[str, Any]
    # The external verifier, where the statement that read the row joined
    # it (LOAD_APPLICATION_AND_USER); otherwise `verifier_loaded` is False
    # and hq.external_verifier reads it.
    verifier: ExternalVerifierRow | None = None
    verifier_loaded: bool = False


@dataclass(frozen=True, slots=True)
class UserRow:
    pk: str
    user_id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    active: bool
    display_name: str | None


@dataclass(frozen=True, slots=True)
class ChallengeRecord:
    id: str
    application_id: str
    user_pk: str | None
    authenticator: str
    stage: str
    state: dict[str, Any]
    expires_at: float


@dataclass(frozen=True, slots=True)
class LoadedChallenge:
    record: ChallengeRecord
    consumed: bool
    app: AppRow
    user: UserRow | None


@dataclass(frozen=True, slots=True)
class PasswordRow:
    hash: str
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: str
    serial_number: str
    kind: str
    algorithm: str
    digits: int
    period: int
    sealed_secret: bytes
    counter: int
    last_used_step: int | None
    label: str | None
    # Set: a TOKENCR (OCRA) token, never a TOKEN one.
    ocra_suite: str | None = None


@dataclass(frozen=True, slots=True)
class GridCardRow:
    id: str
    serial_number: str
    rows: int
    columns: int
    chars_per_cell: int
    sealed_cells: bytes
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class KbaRow:
    id: str
    question: str
    answer_hash: str


@dataclass(frozen=True, slots=True)
class MachineRow:
    id: str
    user_pk: str
    label: str
    sequence_hash: str
    fingerprint_hash: str | None
    created_at: float
    expires_at: float
    last_used_at: float | None
    revoked_at: float | None


@dataclass(frozen=True, slots=True)
class TempCodeRow:
    id: str
    code_hash: str
    expires_at: float
    uses: int
    max_uses: int


@dataclass(frozen=True, slots=True)
class PasskeyRow:
    id: str
    user_pk: str
    rp_id: str
    credential_id: str
    public_key: bytes
    sign_count: int
    aaguid: str
    backup_eligible: bool
    backup_state: bool
    name: str
    transports: list[str]
    created_at: float
    last_used_at: float | None
    last_used_device: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class ConsumerSessionRow:
    id: str
    kind: str
    created_at: float
    expires_at: float
    absolute_expires_at: float
    step_up_at: float | None
    step_up_method: str | None
    revoked_at: float | None


def app_row(row: Row) -> AppRow:
    return AppRow(id=row["app_id"], name=row["app_name"],
                  authenticators=cached_json(row["authenticators"]),
                  settings=cached_json(row["settings"]))


def _app_row_with_verifier(row: Row) -> AppRow:
    verifier = None if row["ev_url"] is None else ExternalVerifierRow(
        url=row["ev_url"], secret=bytes(row["ev_secret"]), timeout_ms=row["ev_timeout_ms"])
    return AppRow(id=row["app_id"], name=row["app_name"],
                  authenticators=cached_json(row["authenticators"]),
                  settings=cached_json(row["settings"]),
                  verifier=verifier, verifier_loaded=True)


def user_row(row: Row) -> UserRow | None:
    if row["pk"] is None:
        return None
    return UserRow(pk=row["pk"], user_id=row["user_id"], email=row["email"], phone=row["phone"],
                   first_name=row["first_name"], last_name=row["last_name"],
                   active=bool(row["active"]), display_name=row["display_name"])


def challenge_record(row: Row) -> ChallengeRecord:
    state = row["state"]
    return ChallengeRecord(
        id=row["id"], application_id=row["application_id"], user_pk=row["user_pk"],
        authenticator=row["authenticator"], stage=row["stage"],
        state=json.loads(state) if isinstance(state, str | bytes) else dict(state),
        expires_at=float(row["expires_at"]))


async def load_challenge(db: Fetcher, *, token_hash: str) -> LoadedChallenge | None:
    row = await db.one(q.LOAD_CHALLENGE, {"token_hash": token_hash})
    if row is None:
        return None
    return LoadedChallenge(record=challenge_record(row), consumed=row["consumed_at"] is not None,
                           app=app_row(row), user=user_row(row))


async def load_application(db: Fetcher, app_id: str) -> AppRow | None:
    row = await db.one(q.LOAD_APPLICATION, {"app_id": app_id})
    return None if row is None else app_row(row)


async def load_application_and_user(db: Fetcher, *, app_id: str, user_id: str
                                    ) -> tuple[AppRow, UserRow | None] | None:
    row = await db.one(q.LOAD_APPLICATION_AND_USER,
                       {"app_id": app_id, "user_key": username_key(user_id)})
    return None if row is None else (_app_row_with_verifier(row), user_row(row))


async def load_application_and_user_pk(db: Fetcher, *, app_id: str, pk: str | None
                                       ) -> tuple[AppRow, UserRow | None] | None:
    row = await db.one(q.LOAD_APPLICATION_AND_USER_PK, {"app_id": app_id, "pk": pk})
    return None if row is None else (app_row(row), user_row(row))


async def load_user_by_user_id(db: Fetcher, user_id: str) -> UserRow | None:
    row = await db.one(q.LOAD_USER_BY_USER_ID, {"user_key": username_key(user_id)})
    return None if row is None else user_row(row)


async def load_user_by_pk(db: Fetcher, pk: str) -> UserRow | None:
    row = await db.one(q.LOAD_USER_BY_PK, {"pk": pk})
    return None if row is None else user_row(row)


def lockout_state(row: Row | None) -> LockoutState:
    if row is None:
        return LockoutState.clear()
    return LockoutState(failures=row["failures"], locked_at=row["locked_at"],
                        lockout_expires_at=row["lockout_expires_at"])


async def lockout_states(db: Fetcher, user_pk: str) -> dict[str, LockoutState]:
    rows = await db.all(q.LOCKOUT_STATES, {"user_pk": user_pk})
    return {row["authenticator"]: lockout_state(row) for row in rows}


async def group_names(db: Fetcher, user_pk: str) -> list[str]:
    return [row["display_name"] for row in await db.all(q.GROUP_NAMES, {"user_pk": user_pk})]


async def user_password(db: Fetcher, user_pk: str) -> PasswordRow | None:
    row = await db.one(q.USER_PASSWORD, {"user_pk": user_pk})
    return None if row is None else PasswordRow(hash=row["hash"], expires_at=row["expires_at"])


async def user_tokens(db: Fetcher, user_pk: str) -> list[TokenRow]:
    return [TokenRow(id=r["id"], serial_number=r["serial_number"], kind=r["kind"],
                     algorithm=r["algorithm"], digits=r["digits"], period=r["period"],
                     sealed_secret=bytes(r["sealed_secret"]), counter=r["counter"],
                     last_used_step=r["last_used_step"], label=r["label"],
                     ocra_suite=r["ocra_suite"])
            for r in await db.all(q.USER_TOKENS, {"user_pk": user_pk})]


async def active_grid_cards(db: Fetcher, user_pk: str, now: float) -> list[GridCardRow]:
    return [GridCardRow(id=r["id"], serial_number=r["serial_number"], rows=r["rows"],
                        columns=r["columns"], chars_per_cell=r["chars_per_cell"],
                        sealed_cells=bytes(r["sealed_cells"]), expires_at=r["expires_at"])
            for r in await db.all(q.ACTIVE_GRID_CARDS, {"user_pk": user_pk, "now": now})]


async def user_kba_questions(db: Fetcher, user_pk: str) -> list[KbaRow]:
    return [KbaRow(id=r["id"], question=r["question"], answer_hash=r["answer_hash"])
            for r in await db.all(q.USER_KBA_QUESTIONS, {"user_pk": user_pk})]


async def user_temp_codes(db: Fetcher, user_pk: str) -> list[TempCodeRow]:
    return [TempCodeRow(id=r["id"], code_hash=r["code_hash"], expires_at=r["expires_at"],
                        uses=r["uses"], max_uses=r["max_uses"])
            for r in await db.all(q.USER_TEMP_CODES, {"user_pk": user_pk})]


@dataclass(frozen=True, slots=True)
class OidcProviderRow:
    id: str
    issuer: str
    client_id: str
    client_secret: bytes | None
    scopes: list[str]
    entrust_redirect_uri: str | None


def _provider_row(r: Row | None) -> OidcProviderRow | None:
    if r is None:
        return None
    secret = r["client_secret"]
    return OidcProviderRow(id=r["id"], issuer=r["issuer"], client_id=r["client_id"],
                           client_secret=bytes(secret) if secret is not None else None,
                           scopes=list(cached_json(r["scopes"]) or []),
                           entrust_redirect_uri=r["entrust_redirect_uri"])


async def entrust_idp_provider(db: Fetcher, app_id: str) -> OidcProviderRow | None:
    return _provider_row(await db.one(q.ENTRUST_IDP_PROVIDER, {"app_id": app_id}))


async def oidc_provider_of_app(db: Fetcher, *, provider_id: str, app_id: str
                               ) -> OidcProviderRow | None:
    return _provider_row(await db.one(q.OIDC_PROVIDER_OF_APP,
                                      {"provider_id": provider_id, "app_id": app_id}))


async def oidc_link_user(db: Fetcher, *, provider_id: str, subject: str) -> str | None:
    r = await db.one(q.OIDC_LINK_USER, {"provider_id": provider_id, "subject": subject})
    return None if r is None else str(r["user_pk"])


async def user_email_proof(db: Fetcher, pk: str) -> tuple[str | None, float | None]:
    """The user's folded email and when it was proved (None: never)."""
    r = await db.one(q.USER_EMAIL_PROOF, {"pk": pk})
    return (None, None) if r is None else (r["email_key"], r["email_verified_at"])


def _machine_row(r: Row) -> MachineRow:
    return MachineRow(id=r["id"], user_pk=r["user_pk"], label=r["label"],
                      sequence_hash=r["sequence_hash"], fingerprint_hash=r["fingerprint_hash"],
                      created_at=r["created_at"], expires_at=r["expires_at"],
                      last_used_at=r["last_used_at"], revoked_at=r["revoked_at"])


async def user_machines(db: Fetcher, user_pk: str, now: float) -> list[MachineRow]:
    return [_machine_row(r)
            for r in await db.all(q.USER_MACHINES, {"user_pk": user_pk, "now": now})]


async def machine_by_nonce(db: Fetcher, user_pk: str, nonce_hash: str) -> MachineRow | None:
    r = await db.one(q.MACHINE_BY_NONCE, {"user_pk": user_pk, "nonce_hash": nonce_hash})
    return None if r is None else _machine_row(r)


async def external_verifier(db: Fetcher, app: AppRow) -> ExternalVerifierRow | None:
    if app.verifier_loaded:
        return app.verifier
    row = await db.one(q.EXTERNAL_VERIFIER, {"app_id": app.id})
    return None if row is None else ExternalVerifierRow(
        url=row["url"], secret=bytes(row["secret"]), timeout_ms=row["timeout_ms"])


def passkey_row(r: Row) -> PasskeyRow:
    return PasskeyRow(id=r["id"], user_pk=r["user_pk"], rp_id=r["rp_id"],
                      credential_id=r["credential_id"], public_key=bytes(r["public_key"]),
                      sign_count=r["sign_count"], aaguid=r["aaguid"],
                      backup_eligible=bool(r["backup_eligible"]),
                      backup_state=bool(r["backup_state"]), name=r["name"],
                      transports=cached_json(r["transports"]) or [],
                      created_at=r["created_at"], last_used_at=r["last_used_at"],
                      last_used_device=cached_json(r["last_used_device"]))


async def user_passkeys(db: Fetcher, user_pk: str) -> list[PasskeyRow]:
    return [passkey_row(r) for r in await db.all(q.USER_PASSKEYS, {"user_pk": user_pk})]


async def passkey_by_credential_id(db: Fetcher, credential_id: str) -> PasskeyRow | None:
    row = await db.one(q.PASSKEY_BY_CREDENTIAL_ID, {"credential_id": credential_id})
    return None if row is None else passkey_row(row)


async def blocked_aaguids_at_auth(db: Fetcher, app_id: str) -> set[str]:
    return {r["aaguid"].lower()
            for r in await db.all(q.BLOCKED_AAGUIDS_AT_AUTH, {"app_id": app_id})}


async def session_state(db: Fetcher, session_id: str
                        ) -> tuple[bool, float | None, str | None]:
    """(found, revoked_at, user_pk) of a session."""
    row = await db.one(q.SESSION_REVOKED_AT, {"id": session_id})
    return (False, None, None) if row is None else (True, row["revoked_at"], row["user_pk"])


@dataclass(frozen=True, slots=True)
class RefreshState:
    revoked_at: float | None
    refresh_id: str | None
    application: AppRow
    user: UserRow


async def session_for_refresh(db: Fetcher, session_id: str) -> RefreshState | None:
    row = await db.one(q.SESSION_FOR_REFRESH, {"id": session_id})
    user = None if row is None else user_row(row)
    if row is None or user is None:
        return None
    return RefreshState(revoked_at=row["revoked_at"], refresh_id=row["refresh_id"],
                        application=app_row(row), user=user)


async def rotate_refresh(tx: HotTx, *, session_id: str, old_id: str, new_id: str,
                         expires_at: float) -> bool:
    """Whether `old_id` was still the session's live refresh token (now `new_id`)."""
    return await tx.execute(q.ROTATE_REFRESH, {"id": session_id, "old_id": old_id,
                                                "new_id": new_id,
                                                "expires_at": expires_at}) == 1


async def revoke_session(tx: HotTx, *, session_id: str, now: float) -> None:
    await tx.execute(q.REVOKE_SESSION, {"id": session_id, "now": now})


async def consumer_login_user(db: Fetcher, login: str
                              ) -> tuple[UserRow, PasswordRow | None] | None:
    """The user a consumer login names, with their password: the single user
    whose email folds to the same key, else (no email matches) the user whose
    userId does. Email first: a self-registered userId equal to somebody's
    email in another case must not lock that person out."""
    rows = await db.all(q.CONSUMER_LOGIN_USERS, {"key": email_key(login)})
    by_email = [r for r in rows if r["by_email"]]
    if len(by_email if by_email else rows) != 1:
        return None
    row = (by_email or rows)[0]
    user = user_row(row)
    assert user is not None
    password = (None if row["hash"] is None
                else PasswordRow(hash=row["hash"], expires_at=row["password_expires_at"]))
    return user, password


async def consumer_session(db: Fetcher, token_hash: str
                           ) -> tuple[ConsumerSessionRow, UserRow | None] | None:
    row = await db.one(q.CONSUMER_SESSION, {"token_hash": token_hash})
    if row is None:
        return None
    return ConsumerSessionRow(
        id=row["session_id"], kind=row["kind"], created_at=row["session_created_at"],
        expires_at=row["session_expires_at"], absolute_expires_at=row["absolute_expires_at"],
        step_up_at=row["step_up_at"], step_up_method=row["step_up_method"],
        revoked_at=row["revoked_at"]), user_row(row)


async def user_groups(db: Fetcher, user_pk: str) -> list[tuple[str, str]]:
    return [(r["id"], r["display_name"])
            for r in await db.all(q.USER_GROUPS, {"user_pk": user_pk})]


async def admin_key_scopes(db: Fetcher, key_hash: str) -> list[str] | None:
    """The scopes of the admin key with this SHA-256, or None if there is none."""
    row = await db.one(q.ADMIN_KEY_SCOPES, {"key_hash": key_hash})
    return None if row is None else list(cached_json(row["scopes"]))


async def scim_user_by_pk(db: Fetcher, pk: str) -> SimpleNamespace | None:
    """A user's SCIM columns, as attributes (scim.store.user_document reads them)."""
    row = await db.one(q.SCIM_USER_BY_PK, {"pk": pk})
    return None if row is None else _scim_user(row)


async def scim_user_by_user_name(db: Fetcher, user_name: str) -> SimpleNamespace | None:
    row = await db.one(q.SCIM_USER_BY_USER_NAME, {"user_key": username_key(user_name)})
    return None if row is None else _scim_user(row)


def _scim_user(row: Row) -> SimpleNamespace:
    user = SimpleNamespace(**{key: row[key] for key in row.keys()})
    user.active = bool(user.active)
    return user


async def scim_user_values(db: Fetcher, user_pk: str) -> list[SimpleNamespace]:
    out = []
    for row in await db.all(q.SCIM_USER_VALUES, {"user_pk": user_pk}):
        value = SimpleNamespace(**{key: row[key] for key in row.keys()})
        if value.primary is not None:
            value.primary = bool(value.primary)
        out.append(value)
    return out


# -- writes (inside core.hot.transaction()) ------------------------------------

async def insert_audit_event(tx: HotTx, *, event: str, outcome: str, now: float,
                             reason: str | None = None, application_id: str | None = None,
                             user_id: str | None = None, authenticator: str | None = None,
                             client_ip: str | None = None,
                             request_id: str | None = None) -> None:
    await tx.insert(q.INSERT_AUDIT_EVENT, {
        "now": now, "event": event, "outcome": outcome, "reason": reason,
        "application_id": application_id, "user_id": user_id,
        "authenticator": authenticator, "client_ip": client_ip, "request_id": request_id})


async def insert_session(tx: HotTx, *, session_id: str, user_pk: str, application_id: str,
                         now: float, expires_at: float) -> None:
    await tx.insert(q.INSERT_SESSION, {"id": session_id, "user_pk": user_pk,
                                        "application_id": application_id, "now": now,
                                        "expires_at": expires_at})


async def insert_outbox_message(tx: HotTx, *, user_pk: str, channel: str, address: str,
                                kind: str, application_id: str | None, status: str,
                                expires_at: float | None, sealed_text: bytes,
                                now: float) -> None:
    """A queued message (delivery/outbox.py `Outbox.queue` seals its text)."""
    await tx.insert(q.INSERT_OUTBOX_MESSAGE, {
        "user_pk": user_pk, "channel": channel, "address": address, "kind": kind,
        "application_id": application_id, "status": status, "expires_at": expires_at,
        "sealed_text": sealed_text, "now": now})


# -- push devices --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PushDeviceRow:
    id: str
    user_pk: str
    serial_number: str
    kind: str
    label: str | None
    public_key: bytes
    certificate: bytes | None
    not_after: float | None
    counter: int


@dataclass(frozen=True, slots=True)
class PushRequestRow:
    id: str
    user_pk: str
    kind: str
    challenge: str
    details_hash: str
    mutual_challenge: str | None
    status: str
    device_id: str | None
    expires_at: float


def _push_device(r: Row) -> PushDeviceRow:
    cert = r["certificate"]
    return PushDeviceRow(id=r["id"], user_pk=r["user_pk"], serial_number=r["serial_number"],
                         kind=r["kind"], label=r["label"], public_key=bytes(r["public_key"]),
                         certificate=bytes(cert) if cert is not None else None,
                         not_after=r["not_after"], counter=int(r["counter"]))


async def user_push_devices(db: Fetcher, user_pk: str) -> list[PushDeviceRow]:
    return [_push_device(r) for r in await db.all(q.USER_PUSH_DEVICES, {"user_pk": user_pk})]


async def push_device_by_serial(db: Fetcher, serial_number: str) -> PushDeviceRow | None:
    r = await db.one(q.PUSH_DEVICE_BY_SERIAL, {"serial_number": serial_number})
    return _push_device(r) if r is not None else None


async def push_request(db: Fetcher, push_id: str) -> PushRequestRow | None:
    r = await db.one(q.PUSH_REQUEST_BY_ID, {"id": push_id})
    if r is None:
        return None
    return PushRequestRow(id=r["id"], user_pk=r["user_pk"], kind=r["kind"],
                          challenge=r["challenge"], details_hash=r["details_hash"],
                          mutual_challenge=r["mutual_challenge"], status=r["status"],
                          device_id=r["device_id"], expires_at=r["expires_at"])


# -- magic links ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MagicLinkRow:
    id: str
    token_hash: str
    user_pk: str
    application_id: str
    status: str
    expires_at: float


def _magic_link(r: Row | None) -> MagicLinkRow | None:
    if r is None:
        return None
    return MagicLinkRow(id=r["id"], token_hash=r["token_hash"], user_pk=r["user_pk"],
                        application_id=r["application_id"], status=r["status"],
                        expires_at=r["expires_at"])


async def magic_link(db: Fetcher, link_id: str) -> MagicLinkRow | None:
    return _magic_link(await db.one(q.MAGIC_LINK_BY_ID, {"id": link_id}))


async def magic_link_by_token_hash(db: Fetcher, token_hash: str
                                   ) -> tuple[MagicLinkRow, dict[str, Any]] | None:
    """The link and its application's settings."""
    r = await db.one(q.MAGIC_LINK_BY_TOKEN_HASH, {"token_hash": token_hash})
    link = _magic_link(r)
    return None if link is None or r is None else (link, cached_json(r["app_settings"]))
