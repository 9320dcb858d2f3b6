"""verify/external.py: the signed request to an external verifier and its answer."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from authcore.verify.external import (
    ExternalAnswerError,
    ExternalRequestError,
    generate_verifier_answer,
    generate_verifier_request,
    verify_verifier_answer,
    verify_verifier_request,
)

KEY = b"verifier-shared-secret-0123456789"
NOW = 1_800_000_000.0


def request(**kw: object) -> tuple[bytes, str, str]:
    args: dict[str, object] = {
        "key": KEY, "application_id": "app-1", "user_id": "ada", "response": "123456",
        "placeholders": [("pin", "42")], "challenge_placeholders": [("device", "d1")],
        "now": NOW}
    args.update(kw)
    signed = generate_verifier_request(**args)  # type: ignore[arg-type]
    return signed.body, signed.signature, signed.nonce


def test_request_round_trip() -> None:
    body, sig, nonce = request()
    got = verify_verifier_request(key=KEY, body=body, signature=sig, now=NOW + 5)
    assert got.nonce == nonce and len(nonce) == 32
    assert (got.application_id, got.user_id, got.response) == ("app-1", "ada", "123456")
    assert got.placeholders == (("pin", "42"),)
    assert got.challenge_placeholders == (("device", "d1"),)
    assert got.timestamp == int(NOW)
    assert got.authenticator == "EXTERNAL"


def test_request_names_the_authenticator() -> None:
    body, sig, _ = request(authenticator="PASSTHROUGH")
    assert json.loads(body)["authenticator"] == "PASSTHROUGH"
    got = verify_verifier_request(key=KEY, body=body, signature=sig, now=NOW)
    assert got.authenticator == "PASSTHROUGH"


@pytest.mark.parametrize("value", [7, "", None])
def test_request_with_a_mistyped_authenticator_is_refused(value: object) -> None:
    obj = json.loads(request()[0])
    obj["authenticator"] = value
    body = json.dumps(obj).encode()
    sig = "v1=" + hmac.new(KEY, b"authcore-external-v1 request\n" + body,
                           hashlib.sha256).hexdigest()
    with pytest.raises(ExternalRequestError) as exc:
        verify_verifier_request(key=KEY, body=body, signature=sig, now=NOW)
    assert exc.value.reason == "malformed"


def test_request_signature_is_documented_hmac() -> None:
    # The README's format: HMAC-SHA256 over a label and the exact body bytes.
    body, sig, _ = request()
    expected = hmac.new(KEY, b"authcore-external-v1 request\n" + body,
                        hashlib.sha256).hexdigest()
    assert sig == "v1=" + expected
    assert json.loads(body)["version"] == 1


def test_nonces_differ() -> None:
    assert request()[2] != request()[2]


@pytest.mark.parametrize("mutate", [
    lambda b, s: (b.replace(b"123456", b"123457"), s),
    lambda b, s: (b, s[:-1] + ("0" if s[-1] != "0" else "1")),
    lambda b, s: (b, ""),
    lambda b, s: (b, "v1=é"),
])
def test_request_tampering_is_refused(mutate) -> None:  # type: ignore[no-untyped-def]
    body, sig = mutate(*request()[:2])
    with pytest.raises(ExternalRequestError) as e:
        verify_verifier_request(key=KEY, body=body, signature=sig, now=NOW)
    assert e.value.reason == "bad_signature"


def test_request_with_another_key_is_refused() -> None:
    body, sig, _ = request(key=b"another-secret-entirely-000000")
    with pytest.raises(ExternalRequestError, match="HMAC"):
        verify_verifier_request(key=KEY, body=body, signature=sig, now=NOW)


def test_stale_request_is_refused() -> None:
    body, sig, _ = request()
    with pytest.raises(ExternalRequestError) as e:
        verify_verifier_request(key=KEY, body=body, signature=sig, now=NOW + 301)
    assert e.value.reason == "stale"
    verify_verifier_request(key=KEY, body=body, signature=sig, now=NOW + 299)


def test_answer_cannot_pass_as_request() -> None:
    # The labels differ: a signed answer replayed as a request fails.
    ans = generate_verifier_answer(key=KEY, nonce="n", accepted=True)
    with pytest.raises(ExternalRequestError):
        verify_verifier_request(key=KEY, body=ans.body, signature=ans.signature, now=NOW)
    body, sig, nonce = request()
    with pytest.raises(ExternalAnswerError):
        verify_verifier_answer(key=KEY, body=body, signature=sig, nonce=nonce)


def test_answer_round_trip() -> None:
    ans = generate_verifier_answer(key=KEY, nonce="abc", accepted=True,
                                   items=[("level", "high")])
    got = verify_verifier_answer(key=KEY, body=ans.body, signature=ans.signature, nonce="abc")
    assert got.accepted and got.items == (("level", "high"),)
    rej = generate_verifier_answer(key=KEY, nonce="abc", accepted=False)
    assert not verify_verifier_answer(key=KEY, body=rej.body, signature=rej.signature,
                                      nonce="abc").accepted


def test_answer_for_another_request_is_refused() -> None:
    ans = generate_verifier_answer(key=KEY, nonce="old", accepted=True)
    with pytest.raises(ExternalAnswerError) as e:
        verify_verifier_answer(key=KEY, body=ans.body, signature=ans.signature, nonce="new")
    assert e.value.reason == "nonce_mismatch"


def test_forged_answer_is_refused() -> None:
    ans = generate_verifier_answer(key=b"not-the-key-000000000000", nonce="n", accepted=True)
    with pytest.raises(ExternalAnswerError) as e:
        verify_verifier_answer(key=KEY, body=ans.body, signature=ans.signature, nonce="n")
    assert e.value.reason == "bad_signature"


@pytest.mark.parametrize("obj", [
    [], {"nonce": "n", "result": "MAYBE"}, {"nonce": "n"},
    {"nonce": "n", "result": "ACCEPT", "items": [{"name": "", "value": "x"}]},
    {"nonce": "n", "result": "ACCEPT", "items": [{"name": "a", "value": 1}]},
    {"nonce": "n", "result": "ACCEPT", "items": "x"},
    {"nonce": "n", "result": "ACCEPT", "items": [{"name": "a", "value": "b"}] * 33},
])
def test_malformed_signed_answer_is_refused(obj: object) -> None:
    body = json.dumps(obj).encode()
    sig = "v1=" + hmac.new(KEY, b"authcore-external-v1 answer\n" + body,
                           hashlib.sha256).hexdigest()
    with pytest.raises(ExternalAnswerError) as e:
        verify_verifier_answer(key=KEY, body=body, signature=sig, nonce="n")
    assert e.value.reason == "malformed"


def test_non_json_signed_answer_is_refused() -> None:
    body = b"\xff not json"
    sig = "v1=" + hmac.new(KEY, b"authcore-external-v1 answer\n" + body,
                           hashlib.sha256).hexdigest()
    with pytest.raises(ExternalAnswerError, match="JSON"):
        verify_verifier_answer(key=KEY, body=body, signature=sig, nonce="n")
