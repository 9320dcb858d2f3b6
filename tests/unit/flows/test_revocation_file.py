"""flows/revocation.py: a CRL file re-read when it changes, at most every
reload interval, keeping the lists it had when a new file is unusable."""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest

from authcore.flows.revocation import CrlFile
from authcore.verify.revocation import RevocationError
from authcore_testkit.certificates import crl_der, crl_pem, issue, make_ca, make_crl


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def inline(fn: Any, *args: Any, **kwargs: Any) -> Any:
    inline.calls += 1  # type: ignore[attr-defined]
    return fn(*args, **kwargs)


inline.calls = 0  # type: ignore[attr-defined]


def _write(path: Path, data: bytes, bump: int) -> None:
    path.write_bytes(data)
    # A new mtime even on filesystems with coarse timestamps.
    stamp = time.time_ns() + bump * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


async def test_reloads_when_the_file_changes(tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    ca = make_ca("Reload CA")
    cert = issue(ca, common_name="r")
    path = tmp_path / "crl.pem"
    _write(path, crl_pem(make_crl(ca)), 0)
    clock = Clock()
    crls = CrlFile(path, setting="AUTHCORE_MTLS_CRL", cas=[ca.cert], reload_seconds=30,
                   monotonic=clock)
    crls.load()
    await crls.check(certificate=cert.cert, now=time.time(), blocking=inline)

    _write(path, crl_der(make_crl(ca, [cert.cert])), 5)
    # Not looked at before the interval is over.
    clock.now += 10
    await crls.check(certificate=cert.cert, now=time.time(), blocking=inline)
    calls = inline.calls  # type: ignore[attr-defined]
    clock.now += 25
    with pytest.raises(RevocationError) as caught:
        await crls.check(certificate=cert.cert, now=time.time(), blocking=inline)
    assert caught.value.reason == "certificate_revoked"
    assert inline.calls == calls + 1  # type: ignore[attr-defined]
    # Unchanged: stat only, no parse.
    clock.now += 31
    with pytest.raises(RevocationError):
        await crls.check(certificate=cert.cert, now=time.time(), blocking=inline)
    assert inline.calls == calls + 1  # type: ignore[attr-defined]

    # A broken (half-written) file: logged, the previous lists are kept...
    _write(path, b"-----BEGIN X509 CRL-----\nAAA", 10)
    clock.now += 31
    with caplog.at_level(logging.ERROR, logger="authcore.revocation"):
        with pytest.raises(RevocationError):
            await crls.check(certificate=cert.cert, now=time.time(), blocking=inline)
    assert "cannot be loaded" in caplog.text and str(path) in caplog.text
    # ...and it is tried again at the next interval.
    _write(path, crl_pem(make_crl(ca)), 15)
    clock.now += 31
    await crls.check(certificate=cert.cert, now=time.time(), blocking=inline)
    # Gone: logged, the lists kept.
    path.unlink()
    clock.now += 31
    await crls.check(certificate=cert.cert, now=time.time(), blocking=inline)


async def test_problems_are_logged_with_the_list(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    ca, stranger = make_ca("Logged CA"), make_ca("Logged CA")
    path = tmp_path / "crl.pem"
    now = dt.datetime.now(dt.UTC)
    stale = make_crl(ca, last_update=now - dt.timedelta(days=2),
                     next_update=now - dt.timedelta(days=1))
    path.write_bytes(crl_pem(make_crl(ca, signer=stranger.key), stale))
    crls = CrlFile(path, setting="AUTHCORE_SMART_CREDENTIAL_CRL", cas=[ca.cert],
                   reload_seconds=0)
    with caplog.at_level(logging.WARNING, logger="authcore.revocation"):
        crls.load()
        assert "#1 (CN=Logged CA) is signed by none of the configured CAs" in caplog.text
        assert "#2 (CN=Logged CA) is out of date" in caplog.text
        with pytest.raises(RevocationError) as caught:
            await crls.check(certificate=issue(ca, common_name="x").cert, now=time.time(),
                             blocking=inline)
    assert caught.value.reason == "crl_stale"
    assert f"AUTHCORE_SMART_CREDENTIAL_CRL {path} #2 (CN=Logged CA) is out of date" \
        in caplog.text


def test_an_unusable_file_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "crl.pem"
    path.write_bytes(b"not a crl")
    crls = CrlFile(path, setting="AUTHCORE_MTLS_CRL", cas=[], reload_seconds=30)
    with pytest.raises(SystemExit, match="AUTHCORE_MTLS_CRL cannot be loaded"):
        crls.load()
    with pytest.raises(SystemExit, match="AUTHCORE_MTLS_CRL cannot be loaded"):
        CrlFile(tmp_path / "absent", setting="AUTHCORE_MTLS_CRL", cas=[],
                reload_seconds=30).load()
