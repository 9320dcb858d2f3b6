from __future__ import annotations

import datetime as dt
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from authcore.verify.user_certificate import (
    CodeVerifierError,
    UserCertificateVerificationError,
    check_code_challenge,
    code_challenge_s256,
    generate_user_certificate_challenge,
    load_certificate,
    verify_code_verifier,
    verify_user_certificate,
)
from authcore_testkit.certificates import Issued, issue, make_ca, upn_value

CA = make_ca("unit CA")
NOW = time.time()
EMAIL = "Alice@Corp.Example"


def _reason(cert: Issued, *, mapping: str = "EMAIL", user_id: str = "alice",
            email: str | None = EMAIL, now: float = NOW, der: bool = True) -> str:
    with pytest.raises(UserCertificateVerificationError) as info:
        verify_user_certificate(certificate=cert.der if der else cert.pem, mapping=mapping,
                                user_id=user_id, email=email, now=now)
    return info.value.reason


def test_subject_email_maps_case_insensitively() -> None:
    cert = issue(CA, common_name="Alice", email="alice@corp.example")
    out = verify_user_certificate(certificate=cert.der, mapping="EMAIL", user_id="x",
                                  email=EMAIL, now=NOW)
    assert out.matched == "alice@corp.example"
    assert out.fingerprint == cert.cert.fingerprint(hashes.SHA256()).hex()
    assert out.not_after == pytest.approx(cert.cert.not_valid_after_utc.timestamp())


def test_san_email_and_pem() -> None:
    cert = issue(CA, common_name="Alice", san_emails=("other@corp.example", "ALICE@corp.example"))
    out = verify_user_certificate(certificate=cert.pem, mapping="EMAIL", user_id="x",
                                  email=EMAIL, now=NOW)
    assert out.names == ("other@corp.example", "ALICE@corp.example")
    assert out.matched == "ALICE@corp.example"


def test_upn_maps_to_user_id() -> None:
    cert = issue(CA, common_name="Alice", email=EMAIL, upn="alice@CORP.local")
    out = verify_user_certificate(certificate=cert.der, mapping="UPN",
                                  user_id="Alice@corp.local", email=None, now=NOW)
    assert out.names == ("alice@CORP.local",)
    # The email is no UPN.
    assert _reason(issue(CA, common_name="A", email="alice@corp.local"), mapping="UPN",
                   user_id="alice@corp.local") == "certificate_unmapped"


def test_upn_encodings() -> None:
    long_upn = "u" * 150 + "@corp.local"
    raw = long_upn.encode()
    long_form = bytes([0x0C, 0x81, len(raw)]) + raw
    key = make_ca("k").key
    for value, expected in ((long_form, (long_upn,)),
                            (b"\x13\x05alice", ()),   # PrintableString: not a UPN
                            (b"\x0c\x02\xff\xfe", ()),  # not UTF-8
                            (upn_value("bob"), ("bob",))):
        cert = (
            x509.CertificateBuilder().subject_name(CA.cert.subject).issuer_name(CA.cert.subject)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
            .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .add_extension(x509.SubjectAlternativeName([
                x509.OtherName(x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"), value)]), False)
            .sign(CA.key, hashes.SHA256()))
        issued = Issued(cert, key)
        if expected:
            out = verify_user_certificate(certificate=issued.der, mapping="UPN",
                                          user_id=expected[0], email=None, now=NOW)
            assert out.names == expected
        else:
            assert _reason(issued, mapping="UPN") == "certificate_unmapped"


def test_other_user_refused() -> None:
    cert = issue(CA, common_name="Bob", email="bob@corp.example")
    assert _reason(cert) == "certificate_user_mismatch"
    # A user without an email matches no EMAIL certificate.
    assert _reason(cert, email=None) == "certificate_user_mismatch"
    assert _reason(issue(CA, common_name="B", upn="bob"), mapping="UPN",
                   user_id="alice") == "certificate_user_mismatch"


def test_validity_period() -> None:
    cert = issue(CA, common_name="Alice", email=EMAIL)
    start = cert.cert.not_valid_before_utc.timestamp()
    end = cert.cert.not_valid_after_utc.timestamp()
    assert _reason(cert, now=start - 1) == "certificate_not_yet_valid"
    assert _reason(cert, now=end + 1) == "certificate_expired"
    verify_user_certificate(certificate=cert.der, mapping="EMAIL", user_id="", email=EMAIL,
                            now=end - 1)


def test_client_auth_usage_required() -> None:
    assert _reason(issue(CA, common_name="A", email=EMAIL,
                         eku=(ExtendedKeyUsageOID.SERVER_AUTH,))
                   ) == "certificate_not_for_client_auth"
    assert _reason(issue(CA, common_name="A", email=EMAIL, eku=())
                   ) == "certificate_not_for_client_auth"
    # A key usage must allow signatures (TLS client auth signs).
    assert _reason(Issued(_with_key_usage(digital_signature=False), CA.key)
                   ) == "certificate_not_for_client_auth"
    ok = Issued(_with_key_usage(digital_signature=True), CA.key)
    verify_user_certificate(certificate=ok.der, mapping="EMAIL", user_id="", email=EMAIL,
                            now=NOW)


def _with_key_usage(*, digital_signature: bool) -> x509.Certificate:
    key = make_ca("ku").key
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.EMAIL_ADDRESS, EMAIL)]))
        .issuer_name(CA.cert.subject).public_key(key.public_key()).serial_number(2)
        .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .add_extension(x509.KeyUsage(digital_signature=digital_signature,
                                     key_encipherment=True, content_commitment=False,
                                     data_encipherment=False, key_agreement=False,
                                     key_cert_sign=False, crl_sign=False, encipher_only=False,
                                     decipher_only=False), True)
        .sign(CA.key, hashes.SHA256()))


def test_garbage_and_unknown_mapping() -> None:
    with pytest.raises(UserCertificateVerificationError) as info:
        load_certificate(b"not a certificate")
    assert info.value.reason == "invalid_certificate"
    with pytest.raises(UserCertificateVerificationError):
        load_certificate(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    cert = issue(CA, common_name="Alice", email=EMAIL)
    assert _reason(cert, mapping="") == "certificate_unmapped"
    assert _reason(cert, mapping="CN") == "certificate_unmapped"


def test_code_verifier() -> None:
    # RFC 7636 appendix B.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert code_challenge_s256(verifier) == challenge
    verify_code_verifier(verifier=verifier, code_challenge=challenge)
    check_code_challenge(challenge)
    for bad in (verifier[:-1] + "l", "short", verifier + "!", "x" * 129):
        with pytest.raises(CodeVerifierError) as info:
            verify_code_verifier(verifier=bad, code_challenge=challenge)
        assert info.value.reason == "invalid_verifier"
    for bad_challenge in ("", challenge + "=", challenge[:-1] + "+"):
        with pytest.raises(CodeVerifierError) as info:
            check_code_challenge(bad_challenge)
        assert info.value.reason == "invalid_code_challenge"


def test_challenges_are_random() -> None:
    values = {generate_user_certificate_challenge() for _ in range(100)}
    assert len(values) == 100 and all(len(v) == 43 for v in values)


def test_utf8_string_decoder_refuses_malformed_der() -> None:
    from authcore.verify.user_certificate import _utf8_string

    assert _utf8_string(b"\x0c\x03abc") == "abc"
    for bad in (b"", b"\x0c", b"\x0c\x09alice", b"\x0c\x02abc", b"\x0c\x80",
                b"\x0c\x83\x00\x00\x01a", b"\x0c\x81", b"\x0c\x02\xff\xfe", b"\x13\x01a"):
        assert _utf8_string(bad) is None, bad
