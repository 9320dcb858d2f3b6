"""The CRL files of AUTHCORE_MTLS_CRL (USER_CERTIFICATE) and
AUTHCORE_SMART_CREDENTIAL_CRL (SMARTCREDENTIALPUSH), re-read when they
change, so an operator publishes a new CRL without a restart.

Off the hot path: a check stats the file at most every
AUTHCORE_CRL_RELOAD_SECONDS (30 by default; one os.stat, cheap), parses it
only when its mtime, size or inode changed, and does the parse (and the
CRLs' signature checks, which hash the whole list) on the executor, never
on the event loop. A file that can't be read or parsed when it changed is
logged and the previous lists are kept (a half-written file is tried again
at the next interval); their nextUpdate still bounds how long they are
believed (verify/revocation.py fails closed on a stale list). At start the
file must load, or the server does not start.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from cryptography import x509

from authcore.verify.revocation import (
    Crl,
    RevocationError,
    check_not_revoked,
    find_issuer,
    load_crls,
)

log = logging.getLogger("authcore.revocation")

_Stamp = tuple[int, int, int]
_Parsed = tuple[list[Crl], _Stamp]
# Core.blocking: runs the parse on the executor.
Blocking = Callable[[Callable[[], _Parsed]], Awaitable[_Parsed]]


def _stamp(st: os.stat_result) -> _Stamp:
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def revocation_said(exc: RevocationError) -> str:
    """What a client is told: not the list's name or file, which the log has."""
    if exc.reason == "certificate_revoked":
        return "the certificate has been revoked"
    return "its revocation status cannot be confirmed"


class CrlFile:
    def __init__(self, path: Path, *, setting: str, cas: list[x509.Certificate],
                 reload_seconds: float, monotonic: Callable[[], float] = time.monotonic
                 ) -> None:
        self.path = path
        # The environment variable, for log lines and errors.
        self.setting = setting
        # The CAs whose certificates it covers (and that sign its CRLs).
        self.cas = cas
        self.reload_seconds = reload_seconds
        self._monotonic = monotonic
        self._crls: list[Crl] = []
        self._stamp: _Stamp | None = None
        self._next_stat = 0.0

    def _parse(self) -> _Parsed:
        # The stamp is taken before the read: a write in between shows as a
        # change at the next stat, and the file is read again.
        stamp = _stamp(os.stat(self.path))
        crls = load_crls(data=self.path.read_bytes(), name=f"{self.setting} {self.path}")
        for crl in crls:
            # Verified here, on the executor; the verdict is memoised.
            if not any(ca.subject == crl.issuer and crl.signed_by(ca) for ca in self.cas):
                log.warning("%s is signed by none of the configured CAs; it is ignored",
                            crl.label)
            elif crl.next_update is not None and crl.next_update < time.time():
                log.warning("%s is out of date: its next update was due; certificates of "
                            "its issuer are refused until a newer one is published", crl.label)
        return crls, stamp

    def load(self) -> None:
        """The first load, at start: SystemExit when the file is unusable."""
        try:
            self._crls, self._stamp = self._parse()
        except (OSError, RevocationError) as exc:
            raise SystemExit(f"{self.setting} cannot be loaded: {exc}") from None
        self._next_stat = self._monotonic() + self.reload_seconds
        log.info("%s: %d revocation list(s) loaded from %s", self.setting, len(self._crls),
                 self.path)

    async def current(self, blocking: Blocking) -> list[Crl]:
        """The lists, re-read first if the file changed (looked at no more
        often than every reload_seconds)."""
        now = self._monotonic()
        if now < self._next_stat:
            return self._crls
        # Set before any await: requests meanwhile use the lists there are.
        self._next_stat = now + self.reload_seconds
        try:
            stamp = _stamp(os.stat(self.path))
        except OSError as exc:
            log.error("%s: cannot stat %s (%s); keeping the revocation lists loaded before",
                      self.setting, self.path, exc.strerror)
            return self._crls
        if stamp == self._stamp:
            return self._crls
        try:
            crls, stamp = await blocking(self._parse)
        except (OSError, RevocationError) as exc:
            log.error("%s: %s changed but cannot be loaded (%s); keeping the revocation "
                      "lists loaded before", self.setting, self.path, exc)
            return self._crls
        self._crls, self._stamp = crls, stamp
        log.info("%s: %d revocation list(s) reloaded from %s", self.setting, len(crls),
                 self.path)
        return crls

    async def check(self, *, certificate: x509.Certificate, now: float,
                    blocking: Blocking) -> None:
        """RevocationError unless `certificate` passes the CRL check; an
        operator's problem (no list, a stale or forged one) is logged with
        the list's name."""
        crls = await self.current(blocking)
        issuer = find_issuer(certificate=certificate, cas=self.cas)
        try:
            check_not_revoked(certificate=certificate, crls=crls, issuer=issuer, now=now)
        except RevocationError as exc:
            if exc.reason == "certificate_revoked":
                log.info("%s: refused revoked certificate serial=%x issuer=%s", self.setting,
                         certificate.serial_number, certificate.issuer.rfc4514_string())
            else:
                log.warning("%s: certificate refused (%s): %s", self.setting, exc.reason,
                            exc.message)
            raise
