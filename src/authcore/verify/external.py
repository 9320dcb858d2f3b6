"""EXTERNAL (Entrust passthrough): the signed exchange with an application's
external verifier.

authcore POSTs a JSON request to the verifier and the verifier answers with
JSON; each side signs its body with HMAC-SHA256 under the application's
shared secret and sends ``X-Authcore-Signature: v1=<hex>``. What is signed is
a label and the exact body bytes: ``b"authcore-external-v1 request\\n" + body``
for a request, ``b"authcore-external-v1 answer\\n" + body`` for an answer, so
a request can never pass as an answer (or the other way round).

Request body (compact JSON, sorted keys)::

    {"version": 1, "nonce": "<32 hex>", "timestamp": <epoch seconds>,
     "applicationId": "...", "userId": "...",
     "authenticator": "EXTERNAL" | "PASSTHROUGH", "response": "..." | null,
     "placeholders": [{"name": "...", "value": "..."}],
     "challengePlaceholders": [{"name": "...", "value": "..."}]}

Answer body::

    {"nonce": "<the request's nonce>", "result": "ACCEPT" | "REJECT",
     "items": [{"name": "...", "value": "..."}]}

The nonce and timestamp let a verifier refuse a replayed request (it keeps
the nonces it saw for ``max_age_seconds``); authcore refuses an answer that
does not echo its request's nonce, so an old answer can't be replayed either.

Failure reasons: ``ExternalRequestError`` (``verify_verifier_request``, run by
a verifier) and ``ExternalAnswerError`` (``verify_verifier_answer``, run by
authcore) carry ``bad_signature``, ``malformed`` or ``stale`` (requests) /
``nonce_mismatch`` (answers).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from authcore.verify.errors import VerificationError

__all__ = [
    "ANSWER_LABEL",
    "REQUEST_LABEL",
    "SIGNATURE_HEADER",
    "ExternalAnswerError",
    "ExternalRequestError",
    "SignedMessage",
    "SignedVerifierRequest",
    "VerifierAnswer",
    "VerifierRequest",
    "generate_verifier_answer",
    "generate_verifier_request",
    "sign",
    "verify_verifier_answer",
    "verify_verifier_request",
]

SIGNATURE_HEADER: Final = "X-Authcore-Signature"
REQUEST_LABEL: Final = b"authcore-external-v1 request\n"
ANSWER_LABEL: Final = b"authcore-external-v1 answer\n"
_VERSION: Final = 1
_SCHEME: Final = "v1="
MAX_ITEMS: Final = 32
MAX_NAME: Final = 255
MAX_VALUE: Final = 4096
_RESULTS: Final = frozenset({"ACCEPT", "REJECT"})

Pairs = tuple[tuple[str, str], ...]


class ExternalRequestError(VerificationError):
    """A verifier request that must be refused (verify_verifier_request)."""


class ExternalAnswerError(VerificationError):
    """A verifier answer that must be refused (verify_verifier_answer)."""


@dataclass(frozen=True)
class SignedMessage:
    body: bytes
    # The X-Authcore-Signature header's value.
    signature: str


@dataclass(frozen=True)
class SignedVerifierRequest(SignedMessage):
    nonce: str


@dataclass(frozen=True)
class VerifierRequest:
    nonce: str
    timestamp: int
    application_id: str
    user_id: str
    # Which Entrust authenticator the client asked for.
    authenticator: str
    response: str | None
    placeholders: Pairs
    challenge_placeholders: Pairs


@dataclass(frozen=True)
class VerifierAnswer:
    accepted: bool
    items: Pairs


def sign(*, key: bytes, label: bytes, body: bytes) -> str:
    return _SCHEME + hmac.new(key, label + body, hashlib.sha256).hexdigest()


def _signature_ok(*, key: bytes, label: bytes, body: bytes, signature: str) -> bool:
    # Compared as bytes: compare_digest refuses non-ASCII str.
    return hmac.compare_digest(sign(key=key, label=label, body=body).encode(),
                               signature.strip().encode("utf-8", "replace"))


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _pairs_json(pairs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": n, "value": v} for n, v in pairs]


def _parse_pairs(value: Any, error: type[VerificationError]) -> Pairs:
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise error("malformed", f"expected a list of at most {MAX_ITEMS} name/value pairs")
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise error("malformed", "a pair is not an object")
        name, val = item.get("name"), item.get("value")
        if not isinstance(name, str) or not isinstance(val, str) or not name \
                or len(name) > MAX_NAME or len(val) > MAX_VALUE:
            raise error("malformed", "a pair needs a string name and value")
        out.append((name, val))
    return tuple(out)


def _load(body: bytes, error: type[VerificationError]) -> dict[str, Any]:
    try:
        obj = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise error("malformed", "body is not JSON") from None
    if not isinstance(obj, dict):
        raise error("malformed", "body is not a JSON object")
    return obj


def generate_verifier_request(
    *, key: bytes, application_id: str, user_id: str, response: str | None,
    authenticator: str = "EXTERNAL",
    placeholders: Sequence[tuple[str, str]] = (),
    challenge_placeholders: Sequence[tuple[str, str]] = (),
    now: float, nonce: str | None = None,
) -> SignedVerifierRequest:
    nonce = nonce or secrets.token_hex(16)
    body = _dump({
        "version": _VERSION, "nonce": nonce, "timestamp": int(now),
        "applicationId": application_id, "userId": user_id,
        "authenticator": authenticator, "response": response,
        "placeholders": _pairs_json(placeholders),
        "challengePlaceholders": _pairs_json(challenge_placeholders),
    })
    return SignedVerifierRequest(body=body, signature=sign(key=key, label=REQUEST_LABEL,
                                                           body=body), nonce=nonce)


def verify_verifier_request(
    *, key: bytes, body: bytes, signature: str, now: float, max_age_seconds: float = 300.0,
) -> VerifierRequest:
    """What a verifier runs on each request before looking at it. Refusing a
    nonce seen within ``max_age_seconds`` is the verifier's part."""
    if not _signature_ok(key=key, label=REQUEST_LABEL, body=body, signature=signature):
        raise ExternalRequestError("bad_signature", "the request's HMAC does not match")
    obj = _load(body, ExternalRequestError)
    nonce, ts = obj.get("nonce"), obj.get("timestamp")
    app_id, user_id, response = obj.get("applicationId"), obj.get("userId"), obj.get("response")
    authenticator = obj.get("authenticator", "EXTERNAL")
    if obj.get("version") != _VERSION or not isinstance(nonce, str) or not nonce \
            or not isinstance(ts, int) or isinstance(ts, bool) \
            or not isinstance(app_id, str) or not isinstance(user_id, str) \
            or not isinstance(authenticator, str) or not authenticator \
            or not (response is None or isinstance(response, str)):
        raise ExternalRequestError("malformed", "missing or mistyped request fields")
    if abs(now - ts) > max_age_seconds:
        raise ExternalRequestError("stale", "the request's timestamp is too far from now")
    return VerifierRequest(
        nonce=nonce, timestamp=ts, application_id=app_id, user_id=user_id,
        authenticator=authenticator, response=response,
        placeholders=_parse_pairs(obj.get("placeholders", []), ExternalRequestError),
        challenge_placeholders=_parse_pairs(obj.get("challengePlaceholders", []),
                                            ExternalRequestError),
    )


def generate_verifier_answer(
    *, key: bytes, nonce: str, accepted: bool, items: Sequence[tuple[str, str]] = (),
) -> SignedMessage:
    body = _dump({"nonce": nonce, "result": "ACCEPT" if accepted else "REJECT",
                  "items": _pairs_json(items)})
    return SignedMessage(body=body, signature=sign(key=key, label=ANSWER_LABEL, body=body))


def verify_verifier_answer(
    *, key: bytes, body: bytes, signature: str, nonce: str,
) -> VerifierAnswer:
    """authcore's check of an answer: signed with the key, for this request."""
    if not _signature_ok(key=key, label=ANSWER_LABEL, body=body, signature=signature):
        raise ExternalAnswerError("bad_signature", "the answer's HMAC does not match")
    obj = _load(body, ExternalAnswerError)
    echoed = obj.get("nonce")
    if not isinstance(echoed, str) or not hmac.compare_digest(echoed.encode(), nonce.encode()):
        raise ExternalAnswerError("nonce_mismatch", "the answer is not for this request")
    result = obj.get("result")
    if result not in _RESULTS:
        raise ExternalAnswerError("malformed", "result must be ACCEPT or REJECT")
    return VerifierAnswer(accepted=result == "ACCEPT",
                          items=_parse_pairs(obj.get("items", []), ExternalAnswerError))
