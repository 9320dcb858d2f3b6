from __future__ import annotations

import base64
import json

import pytest

from authcore.crypto.seal import Sealer, generate_master_key
from authcore.flows.user_certificate import (
    SealedChallenge,
    UserCertificateCodeError,
    _code_aad,
    check_code,
    open_challenge,
    seal_challenge,
)
from authcore.verify.user_certificate import CodeVerifierError, code_challenge_s256

SEALER = Sealer(generate_master_key())
NOW = 1_700_000_000.0
VERIFIER = "v" * 43


def _code(*, nonce: str = "n1", pk: str = "pk1", app: str = "app1", expires: float = NOW + 60,
          verifier: str = VERIFIER, sealer: Sealer = SEALER) -> str:
    body = {"n": nonce, "p": pk, "f": "ab" * 32, "c": code_challenge_s256(verifier),
            "e": expires}
    raw = sealer.seal(json.dumps(body).encode(), aad=_code_aad(app))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _check(code: str, *, nonce: str = "n1", pk: str = "pk1", app: str = "app1",
           verifier: str = VERIFIER) -> str:
    return check_code(SEALER, code=code, verifier=verifier, application_id=app, nonce=nonce,
                      user_pk=pk, now=NOW)


def test_challenge_round_trip_and_tamper() -> None:
    c = SealedChallenge(nonce="n", application_id="a", user_id="u", user_pk="p",
                        expires_at=NOW)
    value = seal_challenge(SEALER, c)
    assert open_challenge(SEALER, value) == c
    assert open_challenge(Sealer(generate_master_key()), value) is None
    flipped = value[:10] + ("A" if value[10] != "A" else "B") + value[11:]
    for bad in (flipped, "", "!!!", "A" * 3000, value[:-4]):
        assert open_challenge(SEALER, bad) is None
    # A code is no challenge (another AAD).
    assert open_challenge(SEALER, _code()) is None


def test_code_checks() -> None:
    assert _check(_code()) == "ab" * 32
    for code, kwargs, reason in (
        (_code(), {"nonce": "n2"}, "invalid_code"),
        (_code(), {"pk": "pk2"}, "invalid_code"),
        (_code(), {"app": "app2"}, "invalid_code"),
        (_code(expires=NOW), {}, "expired_code"),
        (_code(sealer=Sealer(generate_master_key())), {}, "invalid_code"),
        ("garbage", {}, "invalid_code"),
    ):
        with pytest.raises(UserCertificateCodeError) as info:
            _check(code, **kwargs)  # type: ignore[arg-type]
        assert info.value.reason == reason
    with pytest.raises(CodeVerifierError):
        _check(_code(), verifier="w" * 43)
