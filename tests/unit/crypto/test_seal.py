from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

import authcore.crypto.seal as seal_module
from authcore.crypto.seal import (
    Sealer,
    SealError,
    derive_key,
    generate_master_key,
    load_or_create_master_key,
)

AAD = b"otp_token:42"


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(generate_master_key())


def test_round_trip(sealer: Sealer) -> None:
    sealed = sealer.seal(b"JBSWY3DPEHPK3PXP", aad=AAD)
    assert sealed[0] == 0x01
    assert len(sealed) == 1 + 12 + len(b"JBSWY3DPEHPK3PXP") + 16
    assert b"JBSWY3DPEHPK3PXP" not in sealed
    assert sealer.open(sealed, aad=AAD) == b"JBSWY3DPEHPK3PXP"


def test_round_trip_empty_plaintext(sealer: Sealer) -> None:
    assert sealer.open(sealer.seal(b"", aad=AAD), aad=AAD) == b""


def test_nonce_is_fresh_per_seal(sealer: Sealer) -> None:
    a = sealer.seal(b"same", aad=AAD)
    b = sealer.seal(b"same", aad=AAD)
    assert a[1:13] != b[1:13]
    assert a != b


@pytest.mark.parametrize("index", [1, 5, 12, 13, -1])
def test_tampered_byte_rejected(sealer: Sealer, index: int) -> None:
    sealed = bytearray(sealer.seal(b"secret", aad=AAD))
    sealed[index] ^= 0x01
    with pytest.raises(SealError):
        sealer.open(bytes(sealed), aad=AAD)


def test_wrong_aad_rejected(sealer: Sealer) -> None:
    sealed = sealer.seal(b"secret", aad=b"otp_token:1")
    with pytest.raises(SealError):
        sealer.open(sealed, aad=b"otp_token:2")


def test_wrong_version_rejected(sealer: Sealer) -> None:
    sealed = sealer.seal(b"secret", aad=AAD)
    with pytest.raises(SealError):
        sealer.open(b"\x02" + sealed[1:], aad=AAD)


def test_truncated_rejected(sealer: Sealer) -> None:
    sealed = sealer.seal(b"secret", aad=AAD)
    for cut in (0, 1, 13, 28):
        with pytest.raises(SealError):
            sealer.open(sealed[:cut], aad=AAD)


def test_wrong_key_rejected(sealer: Sealer) -> None:
    sealed = sealer.seal(b"secret", aad=AAD)
    with pytest.raises(SealError):
        Sealer(generate_master_key()).open(sealed, aad=AAD)


def test_same_key_opens_across_instances() -> None:
    key = generate_master_key()
    assert Sealer(key).open(Sealer(key).seal(b"x", aad=AAD), aad=AAD) == b"x"


@pytest.mark.parametrize("bad", [b"", b"\x00" * 16, b"\x00" * 31, b"\x00" * 33])
def test_master_key_length_enforced(bad: bytes) -> None:
    with pytest.raises(ValueError):
        Sealer(bad)


def test_repr_does_not_leak_key() -> None:
    key = bytes(range(32))
    assert key.hex() not in repr(Sealer(key))


def test_derive_key_deterministic_and_separated() -> None:
    master = generate_master_key()
    otp = derive_key(master, purpose="otp-hmac")
    assert len(otp) == 32
    assert derive_key(master, purpose="otp-hmac") == otp
    assert derive_key(master, purpose="other") != otp
    assert derive_key(generate_master_key(), purpose="otp-hmac") != otp
    assert otp != master


def test_derive_key_known_answer() -> None:
    # Pins the HKDF parameters (SHA-256, no salt, info prefix) so a silent
    # change can't orphan every stored OTP hash. Computed with RFC 5869 by hand.
    import hashlib
    import hmac

    master = bytes(range(32))
    prk = hmac.new(b"\x00" * 32, master, hashlib.sha256).digest()
    okm = hmac.new(prk, b"authcore:otp-hmac" + b"\x01", hashlib.sha256).digest()
    assert derive_key(master, purpose="otp-hmac") == okm


def test_sealing_key_is_not_the_raw_master_key() -> None:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    master = generate_master_key()
    sealed = Sealer(master).seal(b"secret", aad=AAD)
    with pytest.raises(InvalidTag):
        AESGCM(master).decrypt(sealed[1:13], sealed[13:], b"\x01" + AAD)


def test_master_key_file_created_0600_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "master.key"
    key = load_or_create_master_key(path=path, env_value=None)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_master_key(path=path, env_value=None) == key
    assert base64.urlsafe_b64decode(path.read_text().strip() + "=") == key
    # No temp files left behind.
    assert [p.name for p in path.parent.iterdir()] == ["master.key"]


def test_master_key_file_respects_no_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "master.key"
        load_or_create_master_key(path=path, env_value=None)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_env_value_wins_base64url(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    file_key = load_or_create_master_key(path=path, env_value=None)
    env_key = generate_master_key()
    encoded = base64.urlsafe_b64encode(env_key).decode().rstrip("=")
    assert load_or_create_master_key(path=path, env_value=encoded) == env_key
    assert env_key != file_key


def test_env_value_hex_and_padded_base64(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    key = generate_master_key()
    assert load_or_create_master_key(path=path, env_value=key.hex()) == key
    padded = base64.urlsafe_b64encode(key).decode()
    assert load_or_create_master_key(path=path, env_value=padded) == key
    # The env value is used as-is; no file is created alongside it.
    assert not path.exists()


def test_empty_env_value_falls_back_to_file(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    key = load_or_create_master_key(path=path, env_value="")
    assert load_or_create_master_key(path=path, env_value=None) == key


@pytest.mark.parametrize(
    "bad",
    ["not-a-key!", base64.urlsafe_b64encode(b"\x00" * 16).decode(), "ab" * 31],
)
def test_bad_env_value_rejected_without_echo(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError) as info:
        load_or_create_master_key(path=tmp_path / "k", env_value=bad)
    assert bad not in str(info.value)


def test_corrupt_key_file_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_text("garbage")
    with pytest.raises(ValueError):
        load_or_create_master_key(path=path, env_value=None)
    assert path.read_text() == "garbage"


def test_created_parent_dir_is_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    load_or_create_master_key(path=path, env_value=None)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_concurrent_creator_wins_and_is_adopted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another worker writes the key file after our read found nothing but
    # before we publish ours: we must adopt its key, not overwrite it.
    path = tmp_path / "master.key"
    winner = generate_master_key()
    real_generate = seal_module.generate_master_key

    def racing_generate() -> bytes:
        path.write_text(base64.urlsafe_b64encode(winner).decode())
        return real_generate()

    monkeypatch.setattr(seal_module, "generate_master_key", racing_generate)
    assert load_or_create_master_key(path=path, env_value=None) == winner
    assert base64.urlsafe_b64decode(path.read_text()) == winner
    assert [p.name for p in tmp_path.iterdir()] == ["master.key"]
