"""Smart credentials (SMARTCREDENTIALPUSH): an X.509 certificate, issued by a
CA the deployment trusts, whose P-256 key signs the device's push answers.

`verify_smart_credential` checks the certificate against the configured CA
bundle: issued (name and signature) by one of its certificates, within its
own and the issuer's validity period, and holding a P-256 key (the push
answer is an ECDSA P-256 signature, verify/push.py). Only directly issued
credentials are accepted: a deployment that issues from an intermediate CA
puts that intermediate in the bundle.

Failure reasons (``SmartCredentialError.reason``):

* ``invalid_certificate`` - not a DER or PEM X.509 certificate.
* ``untrusted_issuer`` - no CA of the bundle issued it (or signed it).
* ``certificate_expired`` / ``certificate_not_yet_valid`` - outside its
  validity period (or its issuer's).
* ``unsupported_key_type`` - the key is not EC P-256.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from authcore.verify.errors import VerificationError

__all__ = [
    "SmartCredential",
    "SmartCredentialError",
    "load_ca_bundle",
    "load_certificate",
    "verify_smart_credential",
]

# A credential certificate is a few hundred bytes; this bounds the parse.
_MAX_CERT_BYTES = 16 * 1024


class SmartCredentialError(VerificationError):
    """Raised by every failure in this module."""


@dataclass(frozen=True)
class SmartCredential:
    certificate_der: bytes
    public_key_der: bytes
    subject: str
    not_before: float
    not_after: float


def load_ca_bundle(pem: bytes) -> list[x509.Certificate]:
    """The CA certificates of a PEM bundle (AUTHCORE_SMART_CREDENTIAL_CA);
    ValueError when it holds none."""
    cas = x509.load_pem_x509_certificates(pem)
    if not cas:
        raise ValueError("the bundle holds no certificate")
    return cas


def load_certificate(*, certificate: str) -> x509.Certificate:
    """A certificate given as PEM text or as base64 (or base64url) DER."""
    text = certificate.strip()
    if len(text) > 2 * _MAX_CERT_BYTES:
        raise SmartCredentialError("invalid_certificate", "certificate is too large")
    try:
        if text.startswith("-----BEGIN"):
            return x509.load_pem_x509_certificate(text.encode("ascii"))
        b64 = text.replace("-", "+").replace("_", "/")
        der = base64.b64decode(b64 + "=" * (-len(b64) % 4), validate=True)
        return x509.load_der_x509_certificate(der)
    except (ValueError, TypeError, binascii.Error, UnicodeEncodeError):
        raise SmartCredentialError("invalid_certificate",
                                   "not an X.509 certificate (PEM or base64 DER)") from None


def _check_validity(cert: x509.Certificate, now: float, what: str) -> None:
    at = datetime.fromtimestamp(now, UTC)
    if at < cert.not_valid_before_utc:
        raise SmartCredentialError("certificate_not_yet_valid", f"{what} is not yet valid")
    if at > cert.not_valid_after_utc:
        raise SmartCredentialError("certificate_expired", f"{what} has expired")


def verify_smart_credential(
    *, certificate: x509.Certificate, trust_anchors: list[x509.Certificate], now: float,
) -> SmartCredential:
    """Check a credential certificate against the CA bundle at `now`."""
    for ca in trust_anchors:
        if ca.subject != certificate.issuer:
            continue
        try:
            certificate.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        _check_validity(ca, now, "the issuing CA")
        break
    else:
        raise SmartCredentialError("untrusted_issuer",
                                   "the certificate was not issued by a trusted CA")
    _check_validity(certificate, now, "the certificate")
    key = certificate.public_key()
    if not (isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)):
        raise SmartCredentialError("unsupported_key_type", "the key is not EC P-256")
    return SmartCredential(
        certificate_der=certificate.public_bytes(serialization.Encoding.DER),
        public_key_der=key.public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo),
        subject=certificate.subject.rfc4514_string(),
        not_before=certificate.not_valid_before_utc.timestamp(),
        not_after=certificate.not_valid_after_utc.timestamp(),
    )
