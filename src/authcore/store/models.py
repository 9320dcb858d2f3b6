"""SQLAlchemy models. Alembic migrations in store/migrations mirror these.

Times are stored as float epoch seconds: the same type on SQLite and
PostgreSQL, no timezone ambiguity, and cheap to compare in SQL.
Secrets never appear in clear: passwords, KBA answers and one-time codes are
hashes; TOTP/HOTP seeds, grid cards and signing keys are AES-GCM sealed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

from authcore.identifiers import email_key, username_key

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Application(Base):
    __tablename__ = "applications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    # JSON names of the allowed authenticator types, e.g. ["PASSWORD", "OTP"].
    authenticators: Mapped[list[str]] = mapped_column(JSON)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)


class User(Base):
    """A person who authenticates. `user_id` is the login name (SCIM's
    userName), unique without regard to case. `email` and `phone` are the OTP
    delivery addresses: SCIM writes them from the primary (else first) of
    `emails` / `phoneNumbers`, whose full lists live in `user_values`. The
    remaining columns are SCIM attributes (RFC 7643 section 4.1 and the
    enterprise extension of section 4.3), one column each so that filters
    become plain SQL."""

    __tablename__ = "users"
    __table_args__ = (
        # user_key / email_key are what logins match (authcore/identifiers.py):
        # SQLite's lower() knows only ASCII, so the folded keys are stored.
        Index("ux_users_user_key", "user_key", unique=True),
        # The consumer API logs in by email.
        Index("ix_users_email_key", "email_key"),
    )

    pk: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float)
    # Bumped on every change; SCIM's meta.version (ETag) is W/"<version>".
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    updated_at: Mapped[float | None] = mapped_column(Float)
    external_id: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(255))
    nick_name: Mapped[str | None] = mapped_column(String(255))
    profile_url: Mapped[str | None] = mapped_column(String(2048))
    title: Mapped[str | None] = mapped_column(String(255))
    user_type: Mapped[str | None] = mapped_column(String(255))
    preferred_language: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(64))
    timezone: Mapped[str | None] = mapped_column(String(64))
    name_formatted: Mapped[str | None] = mapped_column(String(512))
    name_middle: Mapped[str | None] = mapped_column(String(255))
    name_prefix: Mapped[str | None] = mapped_column(String(64))
    name_suffix: Mapped[str | None] = mapped_column(String(64))
    employee_number: Mapped[str | None] = mapped_column(String(255))
    cost_center: Mapped[str | None] = mapped_column(String(255))
    organization: Mapped[str | None] = mapped_column(String(255))
    division: Mapped[str | None] = mapped_column(String(255))
    department: Mapped[str | None] = mapped_column(String(255))
    # The manager's SCIM id (users.pk); not a foreign key, because SCIM lets
    # a client name a manager it provisions later.
    manager_id: Mapped[str | None] = mapped_column(String(255))
    # Set while a self-registered user has not proved their email address:
    # such a user cannot sign in, SCIM never sees or adopts it, and a SCIM
    # or admin create of the same name replaces it (flows/signup.py).
    pending_since: Mapped[float | None] = mapped_column(Float)
    # When the current address was proved by a code (LoginID profile/*/verify);
    # changing the address clears it (migration 0008; `_address_changed`).
    email_verified_at: Mapped[float | None] = mapped_column(Float)
    phone_verified_at: Mapped[float | None] = mapped_column(Float)
    # LoginID's messagingConsent for this number: True or False as the user
    # answered (profile/{id}/phone), None where nobody asked (the admin API,
    # SCIM, Entrust: the operator's number). False means no SMS from
    # LoginID's API (migration 0010).
    phone_consent: Mapped[bool | None] = mapped_column(Boolean)
    # Derived from user_id / email by the validator below on every ORM write,
    # so no write path can forget them. NULL only for rows written by raw SQL
    # (a few test fixtures): such a user matches no login, which fails closed.
    user_key: Mapped[str | None] = mapped_column(String(1024))
    email_key: Mapped[str | None] = mapped_column(String(1024))

    @validates("user_id", "email", "phone")
    def _derive_keys(self, name: str, value: str | None) -> str | None:
        if name == "user_id":
            self.user_key = None if value is None else username_key(value)
            return value
        if name == "email":
            self.email_key = email_key(value)
        self._address_changed(name, value)
        return value

    def _address_changed(self, name: str, value: str | None) -> None:
        """A stored user's new address is not the one that was proved, nor
        the one the user agreed to be texted at. (New rows are left alone:
        a sign-up sets the address and its proof together.) Flows that
        prove an address write it with its proof in one UPDATE statement,
        which bypasses this."""
        state = sa_inspect(self)
        # loaded_value never loads (no I/O in a validator); an unloaded
        # address counts as changed, which only ever clears a proof.
        if not state.persistent or state.attrs[name].loaded_value == value:
            return
        if name == "email":
            self.email_verified_at = None
        else:
            self.phone_verified_at = None
            self.phone_consent = None


class UserValue(Base):
    """One value of a multi-valued SCIM attribute of a user: emails,
    phoneNumbers, ims, photos, addresses, entitlements, roles or
    x509Certificates. Address parts have their own columns so that filters
    such as `addresses[type eq "work"].locality` stay SQL."""

    __tablename__ = "user_values"
    __table_args__ = (Index("ix_user_values_user_pk_attribute", "user_pk", "attribute"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_pk: Mapped[str] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"))
    attribute: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    # Text: an x509Certificates value is a whole base64 certificate.
    value: Mapped[str | None] = mapped_column(Text)
    display: Mapped[str | None] = mapped_column(String(255))
    type: Mapped[str | None] = mapped_column(String(64))
    # None when the client didn't say: SCIM round-trips an absent primary.
    primary: Mapped[bool | None] = mapped_column(Boolean)
    formatted: Mapped[str | None] = mapped_column(String(1024))
    street_address: Mapped[str | None] = mapped_column(String(512))
    locality: Mapped[str | None] = mapped_column(String(255))
    region: Mapped[str | None] = mapped_column(String(255))
    postal_code: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(64))


class Group(Base):
    """A SCIM group. Its display name is the `groups` claim of its members'
    tokens."""

    __tablename__ = "groups"
    __table_args__ = (Index("ix_groups_display_name_lower", text("lower(display_name)")),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(255))
    external_id: Mapped[str | None] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class GroupMember(Base):
    """A direct member of a group: a user (users.pk) or another group. One row
    per member, so adding or removing members never rewrites the others."""

    __tablename__ = "group_members"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)
    # "User" or "Group".
    member_type: Mapped[str] = mapped_column(String(8))
    # The client's display text for the member, when it sent one; else the
    # member's own display name is shown.
    display: Mapped[str | None] = mapped_column(String(255))


class Password(Base):
    __tablename__ = "passwords"

    user_pk: Mapped[str] = mapped_column(
        ForeignKey("users.pk", ondelete="CASCADE"), primary_key=True
    )
    hash: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class OtpToken(Base):
    __tablename__ = "otp_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_pk: Mapped[str] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    serial_number: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    algorithm: Mapped[str] = mapped_column(String(8))
    digits: Mapped[int] = mapped_column(Integer)
    period: Mapped[int] = mapped_column(Integer)
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    # HOTP: the next counter expected. TOTP: unused.
    counter: Mapped[int] = mapped_column(Integer, default=0)
    # TOTP: the last time step accepted, so a code can't be replayed.
    last_used_step: Mapped[int | None] = mapped_column(Integer)
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[float] = mapped_column(Float)
    # RFC 6287 OCRASuite, as enrolled (migration 0016). Set: a TOKENCR
    # challenge-response token (kind "OCRA"), `counter` its C and
    # `last_used_step` its T step; never offered to TOKEN.
    ocra_suite: Mapped[str | None] = mapped_column(String(64))


class OfflineClient(Base):
    """A client of a token's protected offline OTP batches (migration 0013,
    flows/offline_tokens.py): SHA-256 hashes of its useSecret chain and the
    last moving factor it was sent."""

    __tablename__ = "offline_clients"
    __table_args__ = (UniqueConstraint("token_id", "client_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_id: Mapped[str] = mapped_column(ForeignKey("otp_tokens.id", ondelete="CASCADE"))
    client_name: Mapped[str] = mapped_column(String(255))
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    next_secret_hash: Mapped[str] = mapped_column(String(64))
    issued_through: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class GridCard(Base):
    __tablename__ = "grid_cards"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_pk: Mapped[str] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    serial_number: Mapped[str] = mapped_column(String(64), unique=True)
    rows: Mapped[int] = mapped_column(Integer)
    columns: Mapped[int] = mapped_column(Integer)
    chars_per_cell: Mapped[int] = mapped_column(Integer)
    sealed_cells: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)


class KbaAnswer(Base):
    __tablename__ = "kba_answers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_pk: Mapped[str] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(Text)
    answer_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[float] = mapped_column(Float)


class TempAccessCode(Base):
    __tablename__ = "temp_access_codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_pk: Mapped[str] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float] = mapped_column(Float)
    max_uses: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)


class Machine(Base):
    """A machine (device) registered for MACHINE. Its nonce, current
    sequence nonce and fingerprint are kept only as HMACs (verify/machine.py);
    the sequence rotates by compare-and-set on `sequence_hash`."""

    __tablename__ = "machines"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_pk: Mapped[str] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sequence_hash: Mapped[str] = mapped_column(String(64))
    fingerprint_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    last_used_at: Mapped[float | None] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float)
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


class PushDevice(Base):
    """A TOKENPUSH soft-token device or a SMARTCREDENTIALPUSH smart credential:
    the P-256 public key that signs its push answers (SubjectPublicKeyInfo
    DER) and, for a smart credential, the certificate it came from."""

    __tablename__ = "push_devices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_pk: Mapped[str] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    serial_number: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    label: Mapped[str | None] = mapped_column(String(100))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    certificate: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The certificate's notAfter: a lapsed credential is not offered.
    not_after: Mapped[float | None] = mapped_column(Float)
    # The highest answer counter accepted; an answer must exceed it.
    counter: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[float] = mapped_column(Float)


class PushActivation(Base):
    """A one-time activation code an administrator hands to a user, with
    which a device registers its key itself (HMAC-SHA256 under the code key)."""

    __tablename__ = "push_activations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_pk: Mapped[str] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    label: Mapped[str | None] = mapped_column(String(100))
    expires_at: Mapped[float] = mapped_column(Float)
    used_at: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)


class PushRequest(Base):
    """One push sent for a TOKENPUSH / SMARTCREDENTIALPUSH challenge, and the
    device's answer. Answered once (status leaves PENDING by compare-and-set)."""

    __tablename__ = "push_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_pk: Mapped[str] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    challenge: Mapped[str] = mapped_column(String(64))
    details_hash: Mapped[str] = mapped_column(String(64))
    mutual_challenge: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    device_id: Mapped[str | None] = mapped_column(
        ForeignKey("push_devices.id", ondelete="SET NULL"))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    answered_at: Mapped[float | None] = mapped_column(Float)


class MagicLink(Base):
    """One emailed link of a MAGICLINK challenge (the challenge's state
    names it): only the HMAC of its token, and the user's answer.
    PENDING → CONFIRMED / CANCELLED by compare-and-set, CONFIRMED → USED by
    the complete that signs in."""

    __tablename__ = "magic_links"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_pk: Mapped[str] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    application_id: Mapped[str] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    answered_at: Mapped[float | None] = mapped_column(Float)


class Challenge(Base):
    """Server-side state of one challenge. The client holds only a random token
    whose SHA-256 is `token_hash`; consuming is a conditional UPDATE so that a
    token works once even under concurrent completes."""

    __tablename__ = "challenges"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    application_id: Mapped[str] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE")
    )
    # None while the user is not known yet: passkey registration of a new
    # user, discoverable (usernameless) sign-in.
    user_pk: Mapped[str | None] = mapped_column(
        ForeignKey("users.pk", ondelete="CASCADE"), index=True
    )
    authenticator: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(32))
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    consumed_at: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)


class Lockout(Base):
    __tablename__ = "lockouts"

    user_pk: Mapped[str] = mapped_column(
        ForeignKey("users.pk", ondelete="CASCADE"), primary_key=True
    )
    authenticator: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[float | None] = mapped_column(Float)
    lockout_expires_at: Mapped[float | None] = mapped_column(Float)


class Session(Base):
    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_pk: Mapped[str] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    application_id: Mapped[str] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE")
    )
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float)
    # The jti of the session's one redeemable refresh token (flows/refresh.py).
    refresh_id: Mapped[str | None] = mapped_column(String(36))


class OutboxMessage(Base):
    """A message to deliver (migration 0007): the dispatcher claims `pending`
    rows whose `next_attempt_at` has come; `held` rows have no channel
    configured for their medium and stay readable through the admin API, as
    the development outbox. `sealed_text` is AES-GCM under the master key and
    is dropped once the message is sent, failed or expired."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_user_pk_id", "user_pk", "id"),
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_pk: Mapped[str] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(32), server_default="otp")
    application_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16), server_default="held")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[float | None] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(String(255))
    sent_at: Mapped[float | None] = mapped_column(Float)
    expires_at: Mapped[float | None] = mapped_column(Float)
    sealed_text: Mapped[bytes | None] = mapped_column(LargeBinary)


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[float] = mapped_column(Float, index=True)
    event: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    application_id: Mapped[str | None] = mapped_column(String(36))
    user_id: Mapped[str | None] = mapped_column(String(255))
    # 64: combined names such as PASSWORD_AND_SECONDFACTOR:TEMP_ACCESS_CODE.
    authenticator: Mapped[str | None] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))


class SigningKeyRow(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed_private_pem: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float)
    # Retired keys still verify until every token they signed has expired.
    retired_at: Mapped[float | None] = mapped_column(Float)


class AdminKey(Base):
    __tablename__ = "admin_keys"
    __table_args__ = (UniqueConstraint("key_hash"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)


class PasskeyCredential(Base):
    """A WebAuthn credential. The public key is not secret, so it is stored in
    clear; the sign count and flags drive clone detection."""

    __tablename__ = "passkeys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_pk: Mapped[str] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    rp_id: Mapped[str] = mapped_column(String(255))
    # base64url, as clients send it; unique per RP across all users.
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    # uint32 per WebAuthn: wider than a PostgreSQL integer.
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    aaguid: Mapped[str] = mapped_column(String(36))
    fmt: Mapped[str] = mapped_column(String(32))
    transports: Mapped[list[str]] = mapped_column(JSON)
    backup_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    backup_state: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[float] = mapped_column(Float)
    created_device: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_used_at: Mapped[float | None] = mapped_column(Float)
    last_used_device: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Set when an assertion's sign count went backwards (a likely clone).
    flagged_at: Mapped[float | None] = mapped_column(Float)


class AaguidBlock(Base):
    """An authenticator model an application refuses, at registration and/or
    at authentication."""

    __tablename__ = "aaguid_blocklist"

    application_id: Mapped[str] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True
    )
    aaguid: Mapped[str] = mapped_column(String(36), primary_key=True)
    reg: Mapped[bool] = mapped_column(Boolean, default=True)
    auth: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float)


class ConsumerSession(Base):
    """A consumer API session: an opaque token (stored as its SHA-256) whose
    idle expiry slides with every authenticated call, under an absolute cap.
    kind "auth" is a full session; "temporary" only updates an expired
    password."""

    __tablename__ = "consumer_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_pk: Mapped[str] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float)
    last_used_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    absolute_expires_at: Mapped[float] = mapped_column(Float)
    step_up_at: Mapped[float | None] = mapped_column(Float)
    step_up_method: Mapped[str | None] = mapped_column(String(16))
    revoked_at: Mapped[float | None] = mapped_column(Float)


class ScaFactor(Base):
    """A step-up factor of the consumer API: an SMS phone ("otp") or a push
    device holding a P-256 key ("push"). At most one active and one pending
    per user and kind."""

    __tablename__ = "sca_factors"
    __table_args__ = (UniqueConstraint("user_pk", "kind", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_pk: Mapped[str] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(64))
    # SubjectPublicKeyInfo DER; public, so not sealed.
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    device_name: Mapped[str | None] = mapped_column(String(255))
    push_token: Mapped[str | None] = mapped_column(String(4096))
    # HMAC of the enrollment code while pending.
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)
    verified_at: Mapped[float | None] = mapped_column(Float)


class StepUp(Base):
    """One step-up attempt of a consumer session: an SMS code (its HMAC) or a
    push transaction (its random challenge, signed by the device)."""

    __tablename__ = "step_ups"
    __table_args__ = (Index("ix_step_ups_user_pk_method_status", "user_pk", "method", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("consumer_sessions.id", ondelete="CASCADE"), index=True)
    user_pk: Mapped[str] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str | None] = mapped_column(String(64))
    challenge: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    answered_at: Mapped[float | None] = mapped_column(Float)


class Device(Base):
    """A client the user signed in from, by the SDK's `deviceInfo.deviceId`
    (chosen by the client, so unique per user only and not secret)."""

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("user_pk", "device_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_pk: Mapped[str] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"))
    device_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    info: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)
    last_used_at: Mapped[float | None] = mapped_column(Float)


class OidcProvider(Base):
    """An OpenID provider an application's users may sign in with (LoginID
    OIDC login). `id` is the public providerId, unique across applications so
    that the login URLs need no application id. The client secret is sealed
    with AAD `oidc_provider:<id>`."""

    __tablename__ = "oidc_providers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    application_id: Mapped[str] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(2048))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[float] = mapped_column(Float)
    # Set: offered to Entrust's IDP authenticators, the browser coming back
    # here (migration 0014). At most one per application.
    entrust_redirect_uri: Mapped[str | None] = mapped_column(String(2048))


class OidcLink(Base):
    """A provider's subject (`sub`) linked to a user: OIDC Core 5.7 makes
    (iss, sub) the only stable identifier, and a provider fixes the issuer.
    Per provider rather than per issuer, so deleting a provider drops exactly
    the links it made."""

    __tablename__ = "oidc_links"

    provider_id: Mapped[str] = mapped_column(
        ForeignKey("oidc_providers.id", ondelete="CASCADE"), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_pk: Mapped[str] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    created_at: Mapped[float] = mapped_column(Float)
    last_login_at: Mapped[float | None] = mapped_column(Float)


class ExternalVerifier(Base):
    """An application's external verifier (EXTERNAL, Entrust passthrough;
    migration 0011). `secret` is the HMAC key, sealed with AAD
    `external_verifier:<application_id>`."""

    __tablename__ = "external_verifiers"

    application_id: Mapped[str] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    timeout_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
