"""Sealing secrets at rest (TOTP seeds, OTP payloads) with AES-256-GCM.

Sealed format: ``0x01 || nonce (12 bytes) || ciphertext || tag (16 bytes)``.

Every seal/open call takes an ``aad`` that names the row the value belongs to,
e.g. ``b"otp_token:<id>"``. The AAD is authenticated but not stored, so a
sealed value copied into another row (or another column) fails to open there:
someone with write access to the database cannot swap one user's secret into
another user's row.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "KEY_BYTES",
    "SealError",
    "Sealer",
    "derive_key",
    "generate_master_key",
    "load_or_create_master_key",
]

KEY_BYTES = 32
_VERSION = b"\x01"
_NONCE_BYTES = 12
_TAG_BYTES = 16
# The sealing key is derived rather than being the master key itself, so the
# master key is only ever HKDF input and every use of it is domain-separated.
_SEAL_PURPOSE = "seal:v1"


class SealError(Exception):
    """A sealed value could not be opened (tampered, wrong AAD, wrong key or format)."""


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise ValueError(f"master key must be exactly {KEY_BYTES} bytes")


def derive_key(master_key: bytes, *, purpose: str) -> bytes:
    """Derive an independent 32-byte subkey (e.g. the HMAC key for one-time codes).

    Salt is omitted because the master key is already uniformly random; the
    ``purpose`` label alone keeps subkeys independent of each other.
    """
    _check_key(master_key)
    if not purpose:
        raise ValueError("purpose must be non-empty")
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=b"authcore:" + purpose.encode("utf-8"),
    )
    return hkdf.derive(master_key)


class Sealer:
    """AES-256-GCM with a fresh random 96-bit nonce per seal.

    Random nonces are safe up to roughly 2**32 seals per key, far beyond the
    number of secrets an auth server stores at rest.
    """

    __slots__ = ("_aead",)

    def __init__(self, master_key: bytes) -> None:
        _check_key(master_key)
        self._aead = AESGCM(derive_key(master_key, purpose=_SEAL_PURPOSE))

    def __repr__(self) -> str:
        return "Sealer(<redacted>)"

    def seal(self, plaintext: bytes, *, aad: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, _VERSION + aad)

    def open(self, sealed: bytes, *, aad: bytes) -> bytes:
        if len(sealed) < len(_VERSION) + _NONCE_BYTES + _TAG_BYTES:
            raise SealError("sealed value is truncated")
        if sealed[:1] != _VERSION:
            raise SealError("unsupported sealed value version")
        nonce = sealed[1 : 1 + _NONCE_BYTES]
        try:
            # The version byte is authenticated too, so a future format can
            # never be tricked into reinterpreting a v1 blob.
            return self._aead.decrypt(nonce, sealed[1 + _NONCE_BYTES :], _VERSION + aad)
        except InvalidTag:
            raise SealError("sealed value failed authentication") from None


def generate_master_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def _decode_key_text(text: str, *, source: str) -> bytes:
    # Error messages name the source but never echo the value.
    value = text.strip()
    raw: bytes | None = None
    if len(value) == 2 * KEY_BYTES:
        with contextlib.suppress(ValueError):
            raw = bytes.fromhex(value)
    if raw is None:
        try:
            raw = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{source}: master key is not valid base64url or hex") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"{source}: master key must decode to exactly {KEY_BYTES} bytes")
    return raw


def _read_key_file(path: Path) -> bytes:
    # errors="replace" so a corrupt file fails base64 validation instead of
    # raising a UnicodeDecodeError that quotes the offending key byte.
    text = path.read_bytes().decode("ascii", errors="replace")
    return _decode_key_text(text, source=str(path))


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_key_file(path: Path) -> bytes:
    key = generate_master_key()
    text = base64.urlsafe_b64encode(key).rstrip(b"=") + b"\n"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkstemp creates the file 0600 regardless of umask, so the key is never
    # readable by others, not even briefly.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".master-key-", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        # os.link rather than os.replace: it refuses to overwrite, so when two
        # workers start at once on a fresh install, exactly one key wins and the
        # loser adopts it instead of sealing data under a key nobody kept.
        try:
            os.link(tmp, path)
        except FileExistsError:
            return _read_key_file(path)
        # Losing the key file after a crash would make every sealed value
        # unrecoverable, so make the new directory entry durable too.
        _fsync_dir(path.parent)
        return key
    finally:
        tmp.unlink(missing_ok=True)


def load_or_create_master_key(*, path: Path, env_value: str | None) -> bytes:
    """Return the master key from ``env_value``, else ``path``, else a new key file.

    An empty ``env_value`` counts as unset (compose files render unset
    variables as ""). An existing but unreadable/corrupt key file is an error,
    never silently replaced: that would orphan every value sealed under it.
    """
    if env_value is not None and env_value.strip():
        return _decode_key_text(env_value, source="environment")
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        return _create_key_file(path)
