"""verify/revocation.py: client certificates checked against CRLs made here
with `cryptography` (real CAs, certificates and signatures)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from authcore.verify.revocation import (
    RevocationError,
    check_not_revoked,
    find_issuer,
    load_crls,
)
from authcore_testkit.certificates import Issued, crl_der, crl_pem, issue, make_ca, make_crl

NOW = time.time()


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca("CRL test CA")


@pytest.fixture(scope="module")
def other() -> Issued:
    return make_ca("Another CA")


def _reason(ca: Issued, cert: Issued, data: bytes, *, now: float = NOW,
            cas: list[Issued] | None = None) -> str | None:
    crls = load_crls(data=data)
    issuer = find_issuer(certificate=cert.cert, cas=[c.cert for c in (cas or [ca])])
    try:
        check_not_revoked(certificate=cert.cert, crls=crls, issuer=issuer, now=now)
    except RevocationError as exc:
        return exc.reason
    return None


def test_revoked_and_not_revoked(ca: Issued) -> None:
    good, bad = issue(ca, common_name="good"), issue(ca, common_name="bad")
    data = crl_pem(make_crl(ca, [bad.cert, 12345]))
    assert _reason(ca, good, data) is None
    assert _reason(ca, bad, data) == "certificate_revoked"


def test_der_and_pem(ca: Issued) -> None:
    bad = issue(ca, common_name="bad")
    crl = make_crl(ca, [bad.cert])
    for data in (crl_der(crl), crl_pem(crl), b"# published daily\n" + crl_pem(crl)):
        assert _reason(ca, bad, data) == "certificate_revoked"
    loaded = load_crls(data=crl_der(crl), name="test.crl")
    assert len(loaded) == 1 and loaded[0].label.startswith("test.crl #1 (CN=CRL test CA")
    assert loaded[0].serials == {bad.cert.serial_number}


def test_several_crls_in_one_pem(ca: Issued, other: Issued) -> None:
    mine, theirs = issue(ca, common_name="m"), issue(other, common_name="t")
    data = crl_pem(make_crl(other, [theirs.cert]), make_crl(ca, [mine.cert]))
    assert len(load_crls(data=data)) == 2
    assert _reason(ca, mine, data, cas=[other, ca]) == "certificate_revoked"
    assert _reason(other, theirs, data, cas=[other, ca]) == "certificate_revoked"
    fresh = issue(ca, common_name="f")
    assert _reason(ca, fresh, data, cas=[other, ca]) is None


def test_crl_of_another_issuer_is_ignored(ca: Issued, other: Issued) -> None:
    cert = issue(ca, common_name="x")
    # The other CA lists the same serial number: not ours to revoke.
    data = crl_pem(make_crl(other, [cert.cert]), make_crl(ca))
    assert _reason(ca, cert, data, cas=[other, ca]) is None
    # With only another issuer's list, ours has none: refused (fail closed).
    assert _reason(ca, cert, crl_pem(make_crl(other, [cert.cert])),
                   cas=[other, ca]) == "crl_missing"


def test_forged_crl_is_refused(ca: Issued) -> None:
    bad = issue(ca, common_name="bad")
    impostor = make_ca("CRL test CA")  # the same name, another key
    forged = make_crl(ca, [], signer=impostor.key)
    assert _reason(ca, bad, crl_pem(forged)) == "crl_signature_invalid"
    # A forged list can't un-revoke: the genuine one beside it still counts.
    data = crl_pem(forged, make_crl(ca, [bad.cert]))
    assert _reason(ca, bad, data) == "certificate_revoked"
    # Nor revoke: a forged entry is no revocation.
    good = issue(ca, common_name="good")
    assert _reason(ca, good, crl_pem(make_crl(ca, [good.cert], signer=impostor.key),
                                     make_crl(ca))) is None


def test_stale_crl_is_refused(ca: Issued) -> None:
    now = dt.datetime.now(dt.UTC)
    cert = issue(ca, common_name="s")
    old = make_crl(ca, last_update=now - dt.timedelta(days=3),
                   next_update=now - dt.timedelta(days=1))
    assert _reason(ca, cert, crl_pem(old)) == "crl_stale"
    with pytest.raises(RevocationError, match="out of date"):
        check_not_revoked(certificate=cert.cert, crls=load_crls(data=crl_pem(old)),
                          issuer=ca.cert, now=NOW)
    # The issuer's newest list decides; an older one beside it is history.
    assert _reason(ca, cert, crl_pem(old, make_crl(ca))) is None
    # Revoked is said even when the list is stale.
    assert _reason(ca, cert, crl_pem(make_crl(
        ca, [cert.cert], last_update=now - dt.timedelta(days=3),
        next_update=now - dt.timedelta(days=1)))) == "certificate_revoked"
    # The same list was current yesterday.
    assert _reason(ca, cert, crl_pem(old), now=NOW - 3 * 86400 + 3600) is None


def test_unknown_issuer_is_refused(ca: Issued) -> None:
    cert = issue(ca, common_name="u")
    crls = load_crls(data=crl_pem(make_crl(ca)))
    with pytest.raises(RevocationError) as caught:
        check_not_revoked(certificate=cert.cert, crls=crls, issuer=None, now=NOW)
    assert caught.value.reason == "crl_issuer_unknown"
    impostor = make_ca("CRL test CA")
    assert find_issuer(certificate=cert.cert, cas=[impostor.cert]) is None
    assert find_issuer(certificate=cert.cert, cas=[impostor.cert, ca.cert]) is ca.cert


def test_signature_verdict_is_memoised(ca: Issued) -> None:
    (crl,) = load_crls(data=crl_der(make_crl(ca)))
    assert crl.signed_by(ca.cert) and crl.signed_by(ca.cert)
    assert not crl.signed_by(make_ca("CRL test CA").cert)
    assert len(crl._signatures) == 2


@pytest.mark.parametrize("data", [b"", b"garbage", b"-----BEGIN CERTIFICATE-----\nAA\n"
                                  b"-----END CERTIFICATE-----\n",
                                  b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"])
def test_invalid_crl(data: bytes) -> None:
    with pytest.raises(RevocationError) as caught:
        load_crls(data=data)
    assert caught.value.reason == "invalid_crl"
