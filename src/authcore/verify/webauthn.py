"""WebAuthn / passkey registration and authentication ceremonies.

Attestation, authenticator data and signature handling is delegated to
py_webauthn; this module adds the relying-party policy (algorithms, user
verification, attestation, AAGUID block list, sign counter), strict input
normalisation and a single exception type with stable reasons. The caller
owns persistence: it must store the challenge with the session, spend it on
first use, and store ``new_sign_count`` atomically (compare-and-set) with
accepting the login.

Failure reasons (``WebAuthnVerificationError.reason``):

* ``invalid_credential`` - malformed JSON, base64, CBOR, authenticator data
  or credential structure, or anything else py_webauthn rejects.
* ``origin_mismatch`` - clientDataJSON origin is not one of ``rp.origins``.
* ``rp_id_mismatch`` - the authenticator data was scoped to another RP ID.
* ``challenge_mismatch`` - the response answers a different (or replayed)
  challenge.
* ``invalid_signature`` - the assertion signature does not verify.
* ``user_verification_required`` - ``rp.user_verification`` is "required"
  but the authenticator did not set the UV flag.
* ``attestation_required`` - ``rp.require_attestation`` and the response
  carries "none" attestation.
* ``invalid_attestation`` - the attestation statement does not verify.
* ``sign_count_regression`` - the signature counter did not increase.
* ``aaguid_blocked`` - the authenticator model is on the block list.
* ``unsupported_algorithm`` - the credential key is not ES256 (P-256),
  RS256 (>= 2048 bits) or EdDSA (Ed25519).
* ``credential_mismatch`` - the assertion is for another credential than the
  one the caller looked up.
* ``invalid_parameters`` - unusable relying-party configuration or caller
  arguments (never caused by client input).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    bytes_to_base64url,
    decode_credential_public_key,
    decoded_public_key_to_cryptography,
    options_to_json,
    parse_authentication_credential_json,
    parse_cbor,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import (
    UnsupportedAlgorithm,
    UnsupportedEC2Curve,
    UnsupportedPublicKey,
    UnsupportedPublicKeyType,
)
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AttestationFormat,
    AuthenticatorSelectionCriteria,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from authcore.verify.errors import VerificationError

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "AuthenticationChallenge",
    "AuthenticationVerification",
    "ParsedAssertion",
    "RegistrationChallenge",
    "RegistrationVerification",
    "RelyingParty",
    "WebAuthnVerificationError",
    "generate_authentication",
    "generate_registration",
    "parse_assertion",
    "verify_authentication",
    "verify_registration",
]


class WebAuthnVerificationError(VerificationError):
    """Raised by every failure in this module."""


Requirement = Literal["required", "preferred", "discouraged"]
Conveyance = Literal["none", "indirect", "direct", "enterprise"]

# Preference order, as sent in pubKeyCredParams: authenticators pick the
# first one they support.
SUPPORTED_ALGORITHMS: Final[tuple[COSEAlgorithmIdentifier, ...]] = (
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
)

_CHALLENGE_BYTES: Final = 32
# WebAuthn 13.4.3: challenges SHOULD be at least 16 random bytes. Refusing
# shorter expected challenges also stops an empty value (a lost session)
# from matching a response that carries an empty challenge.
_MIN_CHALLENGE_BYTES: Final = 16
# WebAuthn: credential IDs are at most 1023 bytes, user handles 1..64 bytes.
_MAX_CREDENTIAL_ID_BYTES: Final = 1023
_MAX_USER_HANDLE_BYTES: Final = 64
_MAX_SIGN_COUNT: Final = 2**32 - 1
# Below this, RSA keys are factorable with public effort.
_MIN_RSA_BITS: Final = 2048

_REQUIREMENTS: Final = frozenset({"required", "preferred", "discouraged"})
_CONVEYANCES: Final = frozenset({"none", "indirect", "direct", "enterprise"})

_B64URL_BODY: Final = re.compile(r"[A-Za-z0-9_-]*")
_B64STD_BODY: Final = re.compile(r"[A-Za-z0-9+/]*")
_TO_STANDARD_ALPHABET: Final = str.maketrans("-_", "+/")

# py_webauthn reports most failures as one exception type, so its (stable,
# tested upstream) message prefixes are the only way to tell them apart.
_MESSAGE_REASONS: Final[tuple[tuple[str, str], ...]] = (
    ("Unexpected client data origin", "origin_mismatch"),
    ("Unexpected RP ID hash", "rp_id_mismatch"),
    ("Client data challenge was not expected challenge", "challenge_mismatch"),
    ("Could not verify authentication signature", "invalid_signature"),
    ("User verification is required", "user_verification_required"),
    ("Response sign count of", "sign_count_regression"),
    ("Unsupported credential public key alg", "unsupported_algorithm"),
    ("Attestation statement could not be verified", "invalid_attestation"),
    ("None attestation had unexpected attestation statement", "invalid_attestation"),
    ("Unsupported attestation type", "invalid_attestation"),
)
_UNSUPPORTED_KEY_ERRORS: Final = (
    UnsupportedAlgorithm,
    UnsupportedEC2Curve,
    UnsupportedPublicKey,
    UnsupportedPublicKeyType,
)
_ATTESTATION_FORMAT_MODULES: Final = "webauthn.registration.formats."


@dataclass(frozen=True)
class RelyingParty:
    """Relying-party policy shared by both ceremonies.

    ``origins`` are the exact web origins (scheme, host and port) allowed to
    run the ceremonies, e.g. ``("https://login.example.com",)``.
    ``require_attestation`` only demands a verifiable, non-"none" attestation
    statement (self attestation included); it does not establish trust in the
    authenticator model, as no attestation roots are configured.
    """

    rp_id: str
    rp_name: str
    origins: tuple[str, ...]
    user_verification: Requirement = "preferred"
    resident_key: Requirement = "preferred"
    attestation: Conveyance = "none"
    require_attestation: bool = False
    timeout_ms: int = 60000

    def __post_init__(self) -> None:
        if not self.rp_id or not self.rp_name:
            raise WebAuthnVerificationError(
                "invalid_parameters", "rp_id and rp_name must be non-empty"
            )
        # A bare string is itself a collection of (one-character) origins.
        if isinstance(self.origins, str):
            raise WebAuthnVerificationError("invalid_parameters", "origins must be a tuple")
        origins = tuple(self.origins)
        if not origins or not all(isinstance(origin, str) and origin for origin in origins):
            raise WebAuthnVerificationError(
                "invalid_parameters", "origins must be a non-empty tuple of origins"
            )
        object.__setattr__(self, "origins", origins)
        if self.user_verification not in _REQUIREMENTS or self.resident_key not in _REQUIREMENTS:
            raise WebAuthnVerificationError(
                "invalid_parameters",
                "user_verification and resident_key must be required, preferred or discouraged",
            )
        if self.attestation not in _CONVEYANCES:
            raise WebAuthnVerificationError(
                "invalid_parameters", f"unsupported attestation conveyance {self.attestation!r}"
            )
        # Browsers strip attestation when "none" is requested, so this
        # combination would refuse every registration.
        if self.require_attestation and self.attestation == "none":
            raise WebAuthnVerificationError(
                "invalid_parameters", "require_attestation needs attestation other than 'none'"
            )
        if self.timeout_ms <= 0:
            raise WebAuthnVerificationError("invalid_parameters", "timeout_ms must be positive")


@dataclass(frozen=True)
class RegistrationChallenge:
    """Options for navigator.credentials.create(); keep ``challenge`` server-side."""

    challenge: bytes
    options: dict[str, Any]


@dataclass(frozen=True)
class AuthenticationChallenge:
    """Options for navigator.credentials.get(); keep ``challenge`` server-side."""

    challenge: bytes
    options: dict[str, Any]


@dataclass(frozen=True)
class RegistrationVerification:
    """Accepted registration; persist the credential fields with the user.

    ``public_key`` is the COSE_Key to pass back to ``verify_authentication``.
    """

    credential_id: bytes
    public_key: bytes
    sign_count: int
    aaguid: str
    fmt: str
    credential_type: str
    backup_eligible: bool
    backup_state: bool
    user_verified: bool
    transports: tuple[str, ...]
    attestation_object: bytes


@dataclass(frozen=True)
class ParsedAssertion:
    """Identifiers from an unverified assertion, for looking up the credential.

    Nothing here is authenticated until ``verify_authentication`` succeeds.
    For discoverable sign-in the caller must also check that ``user_handle``
    belongs to the user who owns the looked-up credential.
    """

    credential_id: bytes
    user_handle: bytes | None


@dataclass(frozen=True)
class AuthenticationVerification:
    """Accepted assertion; persist ``new_sign_count`` as the stored counter."""

    new_sign_count: int
    user_verified: bool
    backup_eligible: bool
    backup_state: bool


def _invalid(message: str) -> WebAuthnVerificationError:
    return WebAuthnVerificationError("invalid_credential", message)


def _raised_by_attestation_format(exc: BaseException) -> bool:
    # Each attestation format verifier raises with its own free-form
    # messages (and some let KeyError/ValueError escape on malformed
    # statements), so the raising module is the reliable signal.
    tb = exc.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__")
        if isinstance(module, str) and module.startswith(_ATTESTATION_FORMAT_MODULES):
            return True
        tb = tb.tb_next
    return False


def _translate(exc: Exception) -> WebAuthnVerificationError:
    message = str(exc)
    reason = "invalid_credential"
    if _raised_by_attestation_format(exc):
        reason = "invalid_attestation"
    elif isinstance(exc, _UNSUPPORTED_KEY_ERRORS):
        reason = "unsupported_algorithm"
    else:
        for prefix, mapped in _MESSAGE_REASONS:
            if message.startswith(prefix):
                reason = mapped
                break
    detail = f"{type(exc).__name__}: {message}"
    # py_webauthn wraps parse failures as "... See __cause__"; keep the
    # underlying error in the (log-only) message.
    if exc.__cause__ is not None:
        detail += f" ({type(exc.__cause__).__name__}: {exc.__cause__})"
    return WebAuthnVerificationError(reason, detail)


def _decode_base64(value: object, field: str) -> bytes:
    """Strictly decode base64url, or standard base64 as some SDKs send it."""
    if not isinstance(value, str):
        raise _invalid(f"{field} is missing or not a string")
    body = value.rstrip("=")
    padding = len(value) - len(body)
    # Padding, if present, must be exactly what the encoder would emit.
    if padding and (padding > 2 or len(value) % 4):
        raise _invalid(f"{field} has invalid base64 padding")
    if len(body) % 4 == 1:
        raise _invalid(f"{field} has an impossible base64 length")
    # Mixing the two alphabets matches neither pattern and is refused.
    if _B64URL_BODY.fullmatch(body):
        standard = body.translate(_TO_STANDARD_ALPHABET)
    elif _B64STD_BODY.fullmatch(body):
        standard = body
    else:
        raise _invalid(f"{field} is not base64url")
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(f"{field} is not base64url") from None


def _canonical(value: object, field: str) -> str:
    return bytes_to_base64url(_decode_base64(value, field))


def _load_credential(credential: object) -> dict[str, Any]:
    if isinstance(credential, str):
        try:
            credential = json.loads(credential)
        except (ValueError, RecursionError):
            raise _invalid("credential is not valid JSON") from None
    if not isinstance(credential, dict):
        raise _invalid("credential is not a JSON object")
    return credential


def _normalise(credential: object, *, binary_fields: tuple[str, ...]) -> dict[str, Any]:
    """Return a copy of the credential JSON with canonical base64url fields.

    py_webauthn's decoder silently drops characters outside the alphabet, so
    every binary field is validated here first; re-encoding also lets
    standard-base64 input pass its id/rawId equality check.
    """
    data = _load_credential(credential)
    raw_id = _decode_base64(data.get("rawId"), "rawId")
    if not 1 <= len(raw_id) <= _MAX_CREDENTIAL_ID_BYTES:
        raise _invalid("credential id length is out of range")
    if _decode_base64(data.get("id"), "id") != raw_id:
        raise _invalid("id and rawId differ")
    normalised = dict(data)
    normalised["id"] = normalised["rawId"] = bytes_to_base64url(raw_id)
    response = data.get("response")
    if not isinstance(response, dict):
        raise _invalid("response is missing or not an object")
    normalised_response = dict(response)
    for field in binary_fields:
        normalised_response[field] = _canonical(response.get(field), f"response.{field}")
    normalised["response"] = normalised_response
    return normalised


def _normalise_assertion(credential: object) -> dict[str, Any]:
    normalised = _normalise(
        credential, binary_fields=("clientDataJSON", "authenticatorData", "signature")
    )
    response: dict[str, Any] = normalised["response"]
    handle = response.get("userHandle")
    # Browsers send null (and some SDKs "") when the authenticator returned
    # no user handle.
    if handle is None or handle == "":
        response["userHandle"] = None
    else:
        decoded = _decode_base64(handle, "response.userHandle")
        if len(decoded) > _MAX_USER_HANDLE_BYTES:
            raise _invalid("response.userHandle is longer than 64 bytes")
        response["userHandle"] = bytes_to_base64url(decoded)
    return normalised


def _new_challenge(challenge: bytes | None) -> bytes:
    if challenge is None:
        return secrets.token_bytes(_CHALLENGE_BYTES)
    _check_challenge(challenge, "challenge")
    return challenge


def _check_challenge(challenge: object, name: str) -> None:
    if not isinstance(challenge, bytes) or len(challenge) < _MIN_CHALLENGE_BYTES:
        raise WebAuthnVerificationError(
            "invalid_parameters", f"{name} must be at least {_MIN_CHALLENGE_BYTES} bytes"
        )


def _descriptors(credential_ids: Sequence[bytes], name: str) -> list[PublicKeyCredentialDescriptor]:
    descriptors = []
    for credential_id in credential_ids:
        if not isinstance(credential_id, bytes) or not (
            1 <= len(credential_id) <= _MAX_CREDENTIAL_ID_BYTES
        ):
            raise WebAuthnVerificationError(
                "invalid_parameters", f"{name} entries must be 1..1023 byte credential ids"
            )
        descriptors.append(PublicKeyCredentialDescriptor(id=credential_id))
    return descriptors


def _blocked(aaguids: Collection[str]) -> frozenset[str]:
    # A bare string is itself a collection of (one-character) AAGUIDs.
    if isinstance(aaguids, str):
        raise WebAuthnVerificationError(
            "invalid_parameters", "blocked_aaguids must be a collection of strings"
        )
    if not all(isinstance(aaguid, str) for aaguid in aaguids):
        raise WebAuthnVerificationError("invalid_parameters", "blocked_aaguids must be strings")
    return frozenset(aaguid.strip().lower() for aaguid in aaguids)


def _check_public_key(cose_key: bytes) -> None:
    """Refuse keys that py_webauthn can decode but that fall outside policy.

    py_webauthn only checks the declared ``alg``; this also pins each
    algorithm to its key type and curve, and refuses keys that cannot be
    loaded at all (which would otherwise be stored and fail every sign-in).
    """
    try:
        # A leading 0x04 makes py_webauthn read the key as a raw U2F point;
        # everything registered here is a COSE_Key map.
        if not isinstance(parse_cbor(cose_key), dict):
            raise _invalid("credential public key is not a COSE_Key map")
        decoded = decode_credential_public_key(cose_key)
        public_key = decoded_public_key_to_cryptography(decoded)
    except VerificationError:
        raise
    except _UNSUPPORTED_KEY_ERRORS as exc:
        raise WebAuthnVerificationError("unsupported_algorithm", str(exc)) from exc
    except Exception as exc:
        raise _invalid(f"credential public key is malformed: {exc}") from exc

    alg = decoded.alg
    if alg == COSEAlgorithmIdentifier.ECDSA_SHA_256:
        ok = isinstance(public_key, EllipticCurvePublicKey) and isinstance(
            public_key.curve, SECP256R1
        )
    elif alg == COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256:
        ok = isinstance(public_key, RSAPublicKey) and public_key.key_size >= _MIN_RSA_BITS
    elif alg == COSEAlgorithmIdentifier.EDDSA:
        ok = isinstance(public_key, Ed25519PublicKey)
    else:
        ok = False
    if not ok:
        raise WebAuthnVerificationError(
            "unsupported_algorithm", f"unsupported credential key (alg {alg!r})"
        )


def generate_registration(
    *,
    rp: RelyingParty,
    user_id: bytes,
    user_name: str,
    display_name: str,
    exclude_credential_ids: Sequence[bytes] = (),
    challenge: bytes | None = None,
) -> RegistrationChallenge:
    """Build PublicKeyCredentialCreationOptions for a new credential.

    ``user_id`` is the opaque user handle (1..64 bytes, no personal data);
    ``exclude_credential_ids`` should list the user's existing credentials
    so the same authenticator is not registered twice.
    """
    if not isinstance(user_id, bytes) or not 1 <= len(user_id) <= _MAX_USER_HANDLE_BYTES:
        raise WebAuthnVerificationError("invalid_parameters", "user_id must be 1..64 bytes")
    if not user_name:
        raise WebAuthnVerificationError("invalid_parameters", "user_name must be non-empty")
    excluded = _descriptors(exclude_credential_ids, "exclude_credential_ids")
    challenge = _new_challenge(challenge)
    options = generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=rp.rp_name,
        user_id=user_id,
        user_name=user_name,
        user_display_name=display_name,
        challenge=challenge,
        timeout=rp.timeout_ms,
        attestation=AttestationConveyancePreference(rp.attestation),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement(rp.resident_key),
            user_verification=UserVerificationRequirement(rp.user_verification),
        ),
        exclude_credentials=excluded,
        supported_pub_key_algs=list(SUPPORTED_ALGORITHMS),
    )
    return RegistrationChallenge(challenge=challenge, options=json.loads(options_to_json(options)))


def verify_registration(
    *,
    rp: RelyingParty,
    credential: str | dict[str, Any],
    expected_challenge: bytes,
    blocked_aaguids: Collection[str] = (),
) -> RegistrationVerification:
    """Verify a RegistrationResponseJSON against the challenge it answers."""
    _check_challenge(expected_challenge, "expected_challenge")
    blocked = _blocked(blocked_aaguids)
    normalised = _normalise(credential, binary_fields=("clientDataJSON", "attestationObject"))
    try:
        parsed = parse_registration_credential_json(normalised)
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=expected_challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=list(rp.origins),
            require_user_verification=rp.user_verification == "required",
            supported_pub_key_algs=list(SUPPORTED_ALGORITHMS),
        )
    # py_webauthn parses hostile input and lets assorted exception types
    # escape on malformed data; all of them are the client's fault.
    except Exception as exc:
        raise _translate(exc) from exc

    _check_public_key(verified.credential_public_key)
    if not 1 <= len(verified.credential_id) <= _MAX_CREDENTIAL_ID_BYTES:
        raise _invalid("credential id length is out of range")
    fmt = AttestationFormat(verified.fmt).value
    if rp.require_attestation and fmt == AttestationFormat.NONE.value:
        raise WebAuthnVerificationError(
            "attestation_required", "authenticator returned no attestation"
        )
    aaguid = verified.aaguid.lower()
    if aaguid in blocked:
        raise WebAuthnVerificationError("aaguid_blocked", f"authenticator {aaguid} is blocked")

    transports = parsed.response.transports or []
    return RegistrationVerification(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=aaguid,
        fmt=fmt,
        credential_type=str(verified.credential_type.value),
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backup_state=verified.credential_backed_up,
        user_verified=verified.user_verified,
        transports=tuple(transport.value for transport in transports),
        attestation_object=verified.attestation_object,
    )


def generate_authentication(
    *,
    rp: RelyingParty,
    allow_credential_ids: Sequence[bytes] = (),
    challenge: bytes | None = None,
) -> AuthenticationChallenge:
    """Build PublicKeyCredentialRequestOptions.

    An empty ``allow_credential_ids`` asks for a discoverable credential
    (usernameless sign-in); the assertion's user handle then names the user.
    """
    allowed = _descriptors(allow_credential_ids, "allow_credential_ids")
    challenge = _new_challenge(challenge)
    options = generate_authentication_options(
        rp_id=rp.rp_id,
        challenge=challenge,
        timeout=rp.timeout_ms,
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement(rp.user_verification),
    )
    return AuthenticationChallenge(
        challenge=challenge, options=json.loads(options_to_json(options))
    )


def parse_assertion(credential: str | dict[str, Any]) -> ParsedAssertion:
    """Extract the credential id and user handle to look up the stored credential."""
    normalised = _normalise_assertion(credential)
    try:
        parsed = parse_authentication_credential_json(normalised)
    except Exception as exc:
        raise _translate(exc) from exc
    return ParsedAssertion(
        credential_id=parsed.raw_id, user_handle=parsed.response.user_handle or None
    )


def verify_authentication(
    *,
    rp: RelyingParty,
    credential: str | dict[str, Any],
    expected_challenge: bytes,
    credential_public_key: bytes,
    current_sign_count: int,
    credential_id: bytes,
    aaguid: str | None = None,
    blocked_aaguids: Collection[str] = (),
) -> AuthenticationVerification:
    """Verify an AuthenticationResponseJSON with the stored credential.

    ``credential_id``, ``credential_public_key``, ``current_sign_count`` and
    ``aaguid`` come from the stored credential the caller looked up (see
    ``parse_assertion``).
    """
    _check_challenge(expected_challenge, "expected_challenge")
    if not isinstance(credential_id, bytes) or not credential_id:
        raise WebAuthnVerificationError("invalid_parameters", "credential_id must be non-empty")
    if not 0 <= current_sign_count <= _MAX_SIGN_COUNT:
        raise WebAuthnVerificationError(
            "invalid_parameters", "current_sign_count must be a 32-bit unsigned integer"
        )
    blocked = _blocked(blocked_aaguids)
    normalised = _normalise_assertion(credential)
    try:
        parsed = parse_authentication_credential_json(normalised)
    except Exception as exc:
        raise _translate(exc) from exc
    if not hmac.compare_digest(parsed.raw_id, credential_id):
        raise WebAuthnVerificationError(
            "credential_mismatch", "assertion is for a different credential"
        )
    _check_public_key(credential_public_key)

    try:
        # The counter is checked below instead: py_webauthn checks it before
        # the signature, which would let a forged assertion probe the stored
        # counter or trip clone detection for the real owner.
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=expected_challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=list(rp.origins),
            credential_public_key=credential_public_key,
            credential_current_sign_count=0,
            require_user_verification=rp.user_verification == "required",
        )
    except Exception as exc:
        raise _translate(exc) from exc

    new_sign_count = verified.new_sign_count
    # Authenticators without a counter always report 0 (WebAuthn 6.1.1).
    if (new_sign_count or current_sign_count) and new_sign_count <= current_sign_count:
        raise WebAuthnVerificationError(
            "sign_count_regression",
            f"sign count {new_sign_count} is not greater than stored {current_sign_count}",
        )
    if aaguid is not None and aaguid.strip().lower() in blocked:
        raise WebAuthnVerificationError("aaguid_blocked", f"authenticator {aaguid} is blocked")

    return AuthenticationVerification(
        new_sign_count=new_sign_count,
        user_verified=verified.user_verified,
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backup_state=verified.credential_backed_up,
    )
