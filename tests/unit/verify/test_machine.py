"""verify/machine.py: registration values, the sequence check, fingerprints."""

from __future__ import annotations

import base64

import pytest

from authcore.verify.machine import (
    MachineVerificationError,
    StoredMachine,
    canonical_fingerprint,
    generate_machine_registration,
    hash_machine_nonce,
    hash_sequence_nonce,
    verify_machine,
)

KEY = b"k" * 32
FP = '{"platform":"web","attributes":{"osName":"Mac OS"},"version":"2.0.0"}'


def stored(*, fingerprint: str | None = None, expires_at: float = 2000.0,
           revoked_at: float | None = None) -> tuple[StoredMachine, str]:
    reg = generate_machine_registration(key=KEY, machine_id="m1", fingerprint=fingerprint)
    machine = StoredMachine(id="m1", sequence_hash=reg.sequence_hash,
                            fingerprint_hash=reg.fingerprint_hash, expires_at=expires_at,
                            revoked_at=revoked_at)
    return machine, reg.sequence_nonce


def test_registration_values_are_random_and_only_their_hashes_are_kept() -> None:
    a = generate_machine_registration(key=KEY, machine_id="m1", fingerprint=None)
    b = generate_machine_registration(key=KEY, machine_id="m1", fingerprint=None)
    assert a.machine_nonce != b.machine_nonce and a.sequence_nonce != b.sequence_nonce
    assert len(base64.b64decode(a.machine_nonce, validate=True)) == 32
    assert a.nonce_hash == hash_machine_nonce(key=KEY, machine_nonce=a.machine_nonce)
    assert a.machine_nonce not in a.nonce_hash and a.sequence_nonce not in a.sequence_hash
    assert a.fingerprint_hash is None
    # Another key gives other hashes: they are keyed, not plain digests.
    assert hash_machine_nonce(key=b"o" * 32, machine_nonce=a.machine_nonce) != a.nonce_hash


def test_the_sequence_hash_is_bound_to_the_machine() -> None:
    assert (hash_sequence_nonce(key=KEY, machine_id="m1", sequence_nonce="s")
            != hash_sequence_nonce(key=KEY, machine_id="m2", sequence_nonce="s"))
    # Length prefixes: moving a character between parts changes the hash.
    assert (hash_sequence_nonce(key=KEY, machine_id="m1x", sequence_nonce="s")
            != hash_sequence_nonce(key=KEY, machine_id="m1", sequence_nonce="xs"))


def test_the_current_sequence_nonce_verifies_and_yields_the_next() -> None:
    machine, seq = stored()
    out = verify_machine(key=KEY, machine=machine, sequence_nonce=seq, fingerprint=None,
                         fingerprint_required=False, now=1000.0)
    assert out.machine_id == "m1" and out.next_sequence_nonce != seq
    assert out.next_sequence_hash == hash_sequence_nonce(
        key=KEY, machine_id="m1", sequence_nonce=out.next_sequence_nonce)


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"machine": None}, "invalid_machine"),
    ({"sequence_nonce": "old"}, "stale_sequence_nonce"),
    ({"now": 2000.0}, "machine_expired"),
])
def test_refusals(kwargs: dict[str, object], reason: str) -> None:
    machine, seq = stored()
    args: dict[str, object] = {"key": KEY, "machine": machine, "sequence_nonce": seq,
                               "fingerprint": None, "fingerprint_required": False,
                               "now": 1000.0, **kwargs}
    with pytest.raises(MachineVerificationError) as exc:
        verify_machine(**args)  # type: ignore[arg-type]
    assert exc.value.reason == reason


def test_a_revoked_machine_is_refused_even_with_its_values() -> None:
    machine, seq = stored(revoked_at=500.0)
    with pytest.raises(MachineVerificationError) as exc:
        verify_machine(key=KEY, machine=machine, sequence_nonce=seq, fingerprint=None,
                       fingerprint_required=False, now=1000.0)
    assert exc.value.reason == "machine_revoked"


def test_fingerprints_match_in_any_key_order_and_must_be_there() -> None:
    machine, seq = stored(fingerprint=FP)
    same = '{"version":"2.0.0","attributes":{"osName":"Mac OS"},"platform":"web"}'
    verify_machine(key=KEY, machine=machine, sequence_nonce=seq, fingerprint=same,
                   fingerprint_required=False, now=1000.0)
    for given, required in (('{"platform":"ios"}', False), (None, False), (None, True)):
        with pytest.raises(MachineVerificationError) as exc:
            verify_machine(key=KEY, machine=machine, sequence_nonce=seq, fingerprint=given,
                           fingerprint_required=required, now=1000.0)
        assert exc.value.reason == "invalid_fingerprint"


def test_a_required_fingerprint_fails_a_machine_registered_without_one() -> None:
    machine, seq = stored()
    for given in (None, FP):
        with pytest.raises(MachineVerificationError) as exc:
            verify_machine(key=KEY, machine=machine, sequence_nonce=seq, fingerprint=given,
                           fingerprint_required=True, now=1000.0)
        assert exc.value.reason == "invalid_fingerprint"


def test_the_sequence_is_checked_before_the_fingerprint() -> None:
    # A copy with a wrong fingerprint must still be seen as a replay.
    machine, _ = stored(fingerprint=FP)
    with pytest.raises(MachineVerificationError) as exc:
        verify_machine(key=KEY, machine=machine, sequence_nonce="old",
                       fingerprint='{"other":1}', fingerprint_required=True, now=1000.0)
    assert exc.value.reason == "stale_sequence_nonce"


@pytest.mark.parametrize("bad", ["", "not json", "[1]", "{}", '"s"', "1", "{" * 9000])
def test_malformed_fingerprints(bad: str) -> None:
    with pytest.raises(MachineVerificationError) as exc:
        canonical_fingerprint(bad)
    assert exc.value.reason == "malformed_fingerprint"


def test_a_short_key_is_refused() -> None:
    with pytest.raises(MachineVerificationError) as exc:
        hash_machine_nonce(key=b"short", machine_nonce="n")
    assert exc.value.reason == "invalid_parameters"
