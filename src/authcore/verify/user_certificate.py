"""USER_CERTIFICATE: a client certificate presented over mutual TLS.

The TLS layer (or a TLS-terminating proxy) has already checked the chain
against the configured client CAs; what is left is the certificate's own
validity, that it is meant for client authentication, and the names it
carries for the user mapping. The code the mTLS endpoint hands out is
proved at complete with a PKCE-style verifier (RFC 7636 S256).

Failure reasons (``UserCertificateVerificationError.reason``):

* ``invalid_certificate`` - not a DER or PEM X.509 certificate.
* ``certificate_not_yet_valid`` / ``certificate_expired`` - outside its
  validity period.
* ``certificate_not_for_client_auth`` - no clientAuth extended key usage,
  or a key usage without digitalSignature.
* ``certificate_unmapped`` - no name of the configured kind.
* ``certificate_user_mismatch`` - its names are another user's.

``CodeVerifierError.reason``: ``invalid_verifier`` (malformed or not the
verifier of the code challenge) and ``invalid_code_challenge``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from authcore.verify.errors import VerificationError

__all__ = [
    "MAPPINGS",
    "UPN_OID",
    "CodeVerifierError",
    "UserCertificate",
    "UserCertificateVerificationError",
    "check_code_challenge",
    "code_challenge_s256",
    "generate_user_certificate_challenge",
    "load_certificate",
    "verify_code_verifier",
    "verify_user_certificate",
]

# Microsoft's User Principal Name otherName (szOID_NT_PRINCIPAL_NAME).
UPN_OID: Final = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
# EMAIL: the subject's emailAddress or a SAN rfc822Name, matched against
# the user's email. UPN: a SAN UPN, matched against the userId.
MAPPINGS: Final = ("EMAIL", "UPN")

# RFC 7636 4.1: 43-128 unreserved characters.
_VERIFIER: Final = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
# base64url of a SHA-256 digest, unpadded.
_S256: Final = re.compile(r"[A-Za-z0-9\-_]{43}")


class UserCertificateVerificationError(VerificationError):
    """Raised by every failure of the certificate check."""


class CodeVerifierError(VerificationError):
    """Raised when a code's verifier does not prove its code challenge."""


@dataclass(frozen=True)
class UserCertificate:
    # SHA-256 of the DER, lower-case hex: what the code is bound to.
    fingerprint: str
    # The names of the mapping's kind, as the certificate spells them.
    names: tuple[str, ...]
    # The name that matched the user.
    matched: str
    not_after: float


def generate_user_certificate_challenge() -> str:
    """The random part of a challenge (256 bits, base64url)."""
    return secrets.token_urlsafe(32)


def load_certificate(data: bytes) -> x509.Certificate:
    """A DER or PEM certificate; UserCertificateVerificationError otherwise."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise UserCertificateVerificationError(
            "invalid_certificate", "not an X.509 certificate") from None


def _utf8_string(der: bytes) -> str | None:
    """The text of a DER UTF8String (the UPN otherName's value), else None."""
    if len(der) < 2 or der[0] != 0x0C:
        return None
    length, offset = der[1], 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 2 or len(der) < 2 + count:
            return None
        length, offset = int.from_bytes(der[2:2 + count], "big"), 2 + count
    if offset + length != len(der):
        return None
    try:
        return der[offset:].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _names(cert: x509.Certificate, mapping: str) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if mapping == "EMAIL":
        names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)]
        if san is not None:
            names.extend(san.get_values_for_type(x509.RFC822Name))
        return tuple(names)
    if san is None:
        return ()
    upns = (_utf8_string(o.value) for o in san.get_values_for_type(x509.OtherName)
            if o.type_id == UPN_OID)
    return tuple(u for u in upns if u)


def _check_usage(cert: x509.Certificate) -> None:
    # A certificate issued for servers or code signing by the same CA must
    # not sign users in: the clientAuth EKU is required, not just tolerated.
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = None
    if eku is None or ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
        raise UserCertificateVerificationError(
            "certificate_not_for_client_auth", "the certificate has no clientAuth usage")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.digital_signature:
        raise UserCertificateVerificationError(
            "certificate_not_for_client_auth", "the key usage lacks digitalSignature")


def verify_user_certificate(*, certificate: bytes, mapping: str, user_id: str,
                            email: str | None, now: float) -> UserCertificate:
    """Check a certificate whose chain TLS has verified and map it to the
    user: `mapping` EMAIL matches `email`, UPN matches `user_id` (both
    case-insensitively, as mail systems and Active Directory compare them)."""
    if mapping not in MAPPINGS:
        raise UserCertificateVerificationError("certificate_unmapped",
                                               "no certificate mapping is configured")
    cert = load_certificate(certificate)
    at = datetime.fromtimestamp(now, UTC)
    if at < cert.not_valid_before_utc:
        raise UserCertificateVerificationError("certificate_not_yet_valid",
                                               "the certificate is not valid yet")
    if at > cert.not_valid_after_utc:
        raise UserCertificateVerificationError("certificate_expired",
                                               "the certificate has expired")
    _check_usage(cert)
    names = _names(cert, mapping)
    if not names:
        raise UserCertificateVerificationError(
            "certificate_unmapped", f"the certificate carries no {mapping} name")
    wanted = (email if mapping == "EMAIL" else user_id) or ""
    matched = next((n for n in names if wanted and _same(n, wanted)), None)
    if matched is None:
        raise UserCertificateVerificationError(
            "certificate_user_mismatch", "the certificate belongs to another user")
    return UserCertificate(
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(), names=names, matched=matched,
        not_after=cert.not_valid_after_utc.timestamp())


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.casefold().encode(), b.casefold().encode())


def code_challenge_s256(verifier: str) -> str:
    """RFC 7636's S256: base64url(SHA-256(verifier)), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_code_challenge(code_challenge: str) -> None:
    if not _S256.fullmatch(code_challenge):
        raise CodeVerifierError("invalid_code_challenge",
                                "codeChallenge must be base64url(SHA-256(verifier)), 43 "
                                "characters")


def verify_code_verifier(*, verifier: str, code_challenge: str) -> None:
    """Raise CodeVerifierError unless S256(verifier) is `code_challenge`."""
    if not _VERIFIER.fullmatch(verifier):
        raise CodeVerifierError("invalid_verifier",
                                "the verifier must be 43-128 unreserved characters")
    if not hmac.compare_digest(code_challenge_s256(verifier).encode(),
                               code_challenge.encode()):
        raise CodeVerifierError("invalid_verifier", "the verifier does not match")
