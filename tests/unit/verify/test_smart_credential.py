"""verify/smart_credential.py: credential certificates checked against the
deployment's CA bundle with `cryptography` (real certificates made here)."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from authcore.verify.smart_credential import (
    SmartCredentialError,
    load_ca_bundle,
    load_certificate,
    verify_smart_credential,
)

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str = "Test CA", *, days: int = 3650, start: dt.datetime = NOW
            ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start - dt.timedelta(days=1))
            .not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def issue(ca_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, ca: x509.Certificate,
          public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey, *, start: dt.datetime = NOW,
          days: int = 365, issuer: x509.Name | None = None) -> x509.Certificate:
    return (x509.CertificateBuilder().subject_name(_name("alice smart credential"))
            .issuer_name(issuer or ca.subject).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start - dt.timedelta(days=1))
            .not_valid_after(start + dt.timedelta(days=days))
            .sign(ca_key, hashes.SHA256()))


def test_issued_credential_verifies() -> None:
    ca_key, ca = make_ca()
    device = ec.generate_private_key(ec.SECP256R1())
    cert = issue(ca_key, ca, device.public_key())
    _, other_ca = make_ca("Other CA")
    result = verify_smart_credential(certificate=cert, trust_anchors=[other_ca, ca],
                                     now=NOW.timestamp())
    assert result.public_key_der == device.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert result.subject == "CN=alice smart credential"
    assert result.not_after == pytest.approx((NOW + dt.timedelta(days=365)).timestamp())


def test_pem_and_base64_der_load_the_same() -> None:
    ca_key, ca = make_ca()
    cert = issue(ca_key, ca, ec.generate_private_key(ec.SECP256R1()).public_key())
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    der = cert.public_bytes(serialization.Encoding.DER)
    assert load_certificate(certificate=pem) == cert
    assert load_certificate(certificate=base64.b64encode(der).decode()) == cert
    assert load_certificate(
        certificate=base64.urlsafe_b64encode(der).rstrip(b"=").decode()) == cert


@pytest.mark.parametrize("bad", ["", "nope", base64.b64encode(b"garbage").decode(),
                                 "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                                 "A" * 40000])
def test_malformed_certificate(bad: str) -> None:
    with pytest.raises(SmartCredentialError) as exc:
        load_certificate(certificate=bad)
    assert exc.value.reason == "invalid_certificate"


def test_untrusted_issuer_refused() -> None:
    ca_key, ca = make_ca()
    _, configured = make_ca("Configured CA")
    cert = issue(ca_key, ca, ec.generate_private_key(ec.SECP256R1()).public_key())
    with pytest.raises(SmartCredentialError) as exc:
        verify_smart_credential(certificate=cert, trust_anchors=[configured],
                                now=NOW.timestamp())
    assert exc.value.reason == "untrusted_issuer"


def test_same_name_other_key_is_not_the_issuer() -> None:
    # A CA that only copies the configured CA's name: the signature check refuses it.
    _, ca = make_ca("Test CA")
    impostor_key, impostor = make_ca("Test CA")
    cert = issue(impostor_key, impostor, ec.generate_private_key(ec.SECP256R1()).public_key())
    with pytest.raises(SmartCredentialError) as exc:
        verify_smart_credential(certificate=cert, trust_anchors=[ca], now=NOW.timestamp())
    assert exc.value.reason == "untrusted_issuer"


@pytest.mark.parametrize("offset_days,reason", [(400, "certificate_expired"),
                                                (-30, "certificate_not_yet_valid")])
def test_validity_period(offset_days: int, reason: str) -> None:
    ca_key, ca = make_ca(start=NOW - dt.timedelta(days=100))
    cert = issue(ca_key, ca, ec.generate_private_key(ec.SECP256R1()).public_key())
    at = NOW + dt.timedelta(days=offset_days)
    with pytest.raises(SmartCredentialError) as exc:
        verify_smart_credential(certificate=cert, trust_anchors=[ca], now=at.timestamp())
    assert exc.value.reason == reason


def test_expired_issuer_refused() -> None:
    ca_key, ca = make_ca(days=10)
    cert = issue(ca_key, ca, ec.generate_private_key(ec.SECP256R1()).public_key(), days=365)
    with pytest.raises(SmartCredentialError) as exc:
        verify_smart_credential(certificate=cert, trust_anchors=[ca],
                                now=(NOW + dt.timedelta(days=20)).timestamp())
    assert exc.value.reason == "certificate_expired"


@pytest.mark.parametrize("make_key", [
    lambda: ec.generate_private_key(ec.SECP384R1()).public_key(),
    lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key(),
])
def test_key_type_must_be_p256(make_key) -> None:  # type: ignore[no-untyped-def]
    ca_key, ca = make_ca()
    cert = issue(ca_key, ca, make_key())
    with pytest.raises(SmartCredentialError) as exc:
        verify_smart_credential(certificate=cert, trust_anchors=[ca], now=NOW.timestamp())
    assert exc.value.reason == "unsupported_key_type"


def test_ca_bundle() -> None:
    _, a = make_ca("A")
    _, b = make_ca("B")
    pem = a.public_bytes(serialization.Encoding.PEM) + b.public_bytes(serialization.Encoding.PEM)
    assert load_ca_bundle(pem) == [a, b]
    with pytest.raises(ValueError):
        load_ca_bundle(b"no certificates here")
