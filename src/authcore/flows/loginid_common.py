"""Pieces every LoginID endpoint shares (flows/loginid.py, loginid_mfa.py,
loginid_profile.py, loginid_mgmt.py, oidc_login.py): request fields and
their errors in LoginID's style, the application a host names, the
username claim the web SDK reads, the transaction commitment.

Nothing here touches the store; it imports no LoginID flow, so each of
them may import it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from typing import Any, Protocol

from authcore.errors import InvalidArgument, PermissionDenied
from authcore.flows.authentication import Caller
from authcore.flows.policy import Grant, app_policy, grant
from rest_bridge.codec import message_to_json

MAX_FIELD_CHARS = 255

# An application id as the first label of a host name: LoginID's
# `https://<appId>.api.loginid.io`, here `https://<appId>.auth.example.com`.
_APP_LABEL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def required_field(value: str, field: str) -> str:
    if not value:
        raise InvalidArgument(f"{field} is required.", reason="missing_field",
                              field_violations=[(field, "is required")])
    if len(value) > MAX_FIELD_CHARS:
        raise InvalidArgument(f"{field} is too long.", reason="invalid_field",
                              field_violations=[(field, f"at most {MAX_FIELD_CHARS} characters")])
    return value


def missing_field(field: str) -> InvalidArgument:
    return InvalidArgument(f"{field} is required.", reason="missing_field",
                           field_violations=[(field, "is required")])


def device_json(req: Any) -> dict[str, Any] | None:
    """deviceInfo as stored with a passkey: the JSON form, strings capped."""
    if not req.HasField("device_info"):
        return None
    data = message_to_json(req.device_info)
    return {k: v[:MAX_FIELD_CHARS] if isinstance(v, str) else v for k, v in data.items()}


def tx_challenge(nonce: str, payload: str) -> bytes:
    """SHA-256(len || nonce || len || payload || 16 random bytes): the
    WebAuthn challenge commits to exactly what the user confirms."""
    parts = [nonce.encode(), payload.encode()]
    framed = b"".join(len(p).to_bytes(4, "big") + p for p in parts)
    return hashlib.sha256(framed + secrets.token_bytes(16)).digest()


def assertion_json(credential_id: str, client_data: str, authenticator_data: str,
                   signature: str, handle: str | None) -> dict[str, Any]:
    """LoginID's flat assertion as a standard AuthenticationResponseJSON."""
    return {
        "id": credential_id, "rawId": credential_id, "type": "public-key",
        "response": {"clientDataJSON": client_data, "authenticatorData": authenticator_data,
                     "signature": signature, "userHandle": handle or None},
        "clientExtensionResults": {},
    }


def codes_locked() -> PermissionDenied:
    return PermissionDenied("Too many failed attempts; sign-in codes are locked.",
                            reason="authenticator_locked")


def username_claim(username: str) -> dict[str, Any]:
    """LoginID's web SDK reads the username from the session JWT
    (`getUser()`), and drops a stored token whose `username` differs from
    the one it is about to register a passkey for (`addPasskey`)."""
    return {"username": username}


def app_id_from_host(host: str) -> str:
    """The application id a host name starts with, or ""."""
    label = host.strip().lower().split(".", 1)[0]
    return label if "." in host and _APP_LABEL.fullmatch(label) else ""


def request_app_id(value: str, caller: Caller, field: str) -> str:
    """The body's application id; without one, the host's (LoginID's SDK
    sends none on tx/init and auth/otp/verify, and calls its app's own host).
    Both name a public id, so neither is trusted more than the other; when
    both are given they must agree."""
    from_host = app_id_from_host(caller.host)
    if not value:
        return from_host or required_field(value, field)
    if from_host and value.strip().lower() != from_host:
        raise InvalidArgument(f"{field} does not match the application of the host "
                              f"{caller.host!r}.", reason="application_mismatch",
                              field_violations=[(field, "does not match the host")])
    return value


class _HasPolicy(Protocol):
    """An application row: the ORM's Application or the hot path's AppRow."""

    @property
    def id(self) -> str: ...
    @property
    def authenticators(self) -> list[str]: ...
    @property
    def settings(self) -> dict[str, Any]: ...


def session_grant(app: _HasPolicy, factors: Sequence[str]) -> Grant:
    """`policy.grant` for the session of one of LoginID's single-step
    sign-ins (auth/complete, tx/complete, auth/otp/verify, reg/complete, OIDC
    login). An application that asks for more factors (`mfaFactors`) gets
    them only through the MFA flow: otherwise these endpoints would issue
    on one factor what MFA refuses without two."""
    decision = grant(application_id=app.id, allowed=app.authenticators, factors=factors)
    needed = app_policy(app.settings).mfa_factors
    if len(set(factors)) < needed:
        raise PermissionDenied(
            f"The application requires {needed} different factors; sign in through "
            "/fido2/v2/mfa.", reason="more_factors_required")
    return decision


__all__ = ["MAX_FIELD_CHARS", "app_id_from_host", "assertion_json", "codes_locked",
           "device_json", "missing_field", "request_app_id", "required_field", "session_grant",
           "tx_challenge", "username_claim"]
