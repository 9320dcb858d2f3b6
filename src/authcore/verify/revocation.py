"""Certificate revocation lists (X.509 CRLs, RFC 5280 section 5) for
USER_CERTIFICATE's client certificates and SMARTCREDENTIALPUSH's smart
credentials.

`load_crls` parses what an operator publishes (one DER CRL, or PEM holding
any number of them); `check_not_revoked` checks one certificate against
them. Only CRLs whose issuer name is the certificate's issuer and that
the issuing CA signed count (the others are ignored). The check fails
closed: a certificate whose issuer has no CRL, or whose issuer's newest
CRL is past its nextUpdate, is refused, as a revoked one is.
Not handled: OCSP (it needs a responder on the network), indirect CRLs (a
CRL signed by another CA than the certificate's) and the CRL distribution
points of the certificate (nothing is fetched). Delta CRLs count as plain
CRLs of their issuer: their entries are revocations too.

Failure reasons (``RevocationError.reason``):

* ``invalid_crl`` - the data holds no CRL, or one that does not parse
  (`load_crls` only).
* ``certificate_revoked`` - a CRL of its issuer lists its serial number.
* ``crl_missing`` - no configured CRL is its issuer's.
* ``crl_issuer_unknown`` - its issuer is not a configured CA, so no CRL
  signature can be checked.
* ``crl_signature_invalid`` - no CRL naming its issuer is signed by the
  issuing CA (forged, or another CA's of the same name); such a CRL is
  ignored when a genuine one is there too.
* ``crl_stale`` - its issuer's newest CRL is past its nextUpdate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes

from authcore.verify.errors import VerificationError

__all__ = [
    "Crl",
    "RevocationError",
    "check_not_revoked",
    "find_issuer",
    "load_crls",
]

_PEM_CRL = re.compile(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", re.DOTALL)


class RevocationError(VerificationError):
    """Raised by every failure in this module."""


@dataclass(eq=False)
class Crl:
    """One parsed CRL, with what the checks need ready: the revoked serial
    numbers as a set (the list may hold many thousands) and a memo of its
    signature's verdict per CA (verifying hashes the whole list)."""

    crl: x509.CertificateRevocationList
    # For log lines: where it came from and its issuer.
    label: str
    serials: frozenset[int]
    last_update: float
    # None: the CRL has no nextUpdate (RFC 5280 requires one; never stale).
    next_update: float | None
    _signatures: dict[bytes, bool] = field(default_factory=dict, repr=False)

    @property
    def issuer(self) -> x509.Name:
        return self.crl.issuer

    def signed_by(self, ca: x509.Certificate) -> bool:
        key = ca.fingerprint(hashes.SHA256())
        verdict = self._signatures.get(key)
        if verdict is None:
            try:
                verdict = self.crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
            except (TypeError, ValueError, InvalidSignature):
                verdict = False
            self._signatures[key] = verdict
        return verdict


def _prepared(crl: x509.CertificateRevocationList, label: str) -> Crl:
    next_update = crl.next_update_utc
    return Crl(crl=crl, label=f"{label} ({crl.issuer.rfc4514_string()})",
               serials=frozenset(r.serial_number for r in crl),
               last_update=crl.last_update_utc.timestamp(),
               next_update=next_update.timestamp() if next_update is not None else None)


def load_crls(*, data: bytes, name: str = "CRL") -> list[Crl]:
    """The CRLs of a file: DER (one CRL) or PEM (any number of "X509 CRL"
    blocks). `name` labels them in log lines ("<name> #<n>")."""
    try:
        if b"-----BEGIN" in data:
            blocks = _PEM_CRL.findall(data)
            if not blocks:
                raise RevocationError("invalid_crl", f"{name} holds no PEM X509 CRL")
            return [_prepared(x509.load_pem_x509_crl(b), f"{name} #{i}")
                    for i, b in enumerate(blocks, 1)]
        return [_prepared(x509.load_der_x509_crl(data), f"{name} #1")]
    except ValueError:
        raise RevocationError("invalid_crl", f"{name} is not a DER or PEM X.509 CRL") from None


def find_issuer(*, certificate: x509.Certificate, cas: list[x509.Certificate]
                ) -> x509.Certificate | None:
    """The CA of `cas` that issued `certificate` (name and signature)."""
    for ca in cas:
        if ca.subject != certificate.issuer:
            continue
        try:
            certificate.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return ca
    return None


def check_not_revoked(*, certificate: x509.Certificate, crls: list[Crl],
                      issuer: x509.Certificate | None, now: float) -> None:
    """Raise RevocationError unless the CRLs of `certificate`'s issuer, all
    signed by `issuer` (its CA, see `find_issuer`; None when it is none of
    the configured ones), are current and do not list it."""
    own = [c for c in crls if c.issuer == certificate.issuer]
    if not own:
        raise RevocationError("crl_missing", "no revocation list of the certificate's "
                              f"issuer ({certificate.issuer.rfc4514_string()}) is configured")
    if issuer is None or issuer.subject != certificate.issuer:
        raise RevocationError("crl_issuer_unknown", "the certificate's issuer is not a "
                              "configured CA, so its revocation list can't be checked")
    # A list of the issuer's name that its key did not sign proves nothing:
    # it neither revokes nor vouches (a CA whose key was rolled over may
    # have one per key). At least one must be genuine.
    own = [c for c in own if c.signed_by(issuer)]
    if not own:
        raise RevocationError("crl_signature_invalid", "no revocation list of the "
                              "certificate's issuer is signed by the issuing CA")
    serial = certificate.serial_number
    if any(serial in crl.serials for crl in own):
        raise RevocationError("certificate_revoked", "the certificate has been revoked")
    newest = max(own, key=lambda c: c.last_update)
    if newest.next_update is not None and now > newest.next_update:
        at = datetime.fromtimestamp(newest.next_update, UTC).isoformat()
        raise RevocationError("crl_stale", f"{newest.label} is out of date (next update "
                              f"was due {at})")
