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
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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
    __tablename__ = "users"

    pk: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float)


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
    authenticator: Mapped[str] = mapped_column(String(32))
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
    authenticator: Mapped[str] = mapped_column(String(32), primary_key=True)
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


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_user_pk_id", "user_pk", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_pk: Mapped[str] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(320))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[float] = mapped_column(Float, index=True)
    event: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    application_id: Mapped[str | None] = mapped_column(String(36))
    user_id: Mapped[str | None] = mapped_column(String(255))
    authenticator: Mapped[str | None] = mapped_column(String(32))
    client_ip: Mapped[str | None] = mapped_column(String(64))


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
