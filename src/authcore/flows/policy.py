"""Per-application settings with their defaults, stored as JSON on the row."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from authcore.limits.lockout import LockoutPolicy

DEFAULT_AUTHENTICATORS = (
    "PASSWORD",
    "OTP",
    "TOKEN",
    "GRID",
    "KBA",
    "TEMP_ACCESS_CODE",
    "PASSWORD_AND_SECONDFACTOR",
)


@dataclass(frozen=True)
class AppPolicy:
    max_failures: int = 5
    lockout_seconds: int = 1800
    session_seconds: int = 3600
    challenge_seconds: int = 300
    totp_drift_steps: int = 1
    hotp_look_ahead: int = 10
    grid_challenge_cells: int = 3
    kba_challenge_questions: int = 2
    otp_digits: int = 6
    otp_ttl_seconds: int = 300

    # Bounds keep an admin typo from producing a policy that is insecure
    # (huge drift windows) or unusable (zero-second challenges).
    _BOUNDS = {
        "max_failures": (1, 1000),
        "lockout_seconds": (0, 365 * 86400),
        "session_seconds": (30, 30 * 86400),
        "challenge_seconds": (1, 86400),
        "totp_drift_steps": (0, 10),
        "hotp_look_ahead": (0, 100),
        "grid_challenge_cells": (1, 10),
        "kba_challenge_questions": (1, 10),
        "otp_digits": (6, 8),
        "otp_ttl_seconds": (30, 3600),
    }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AppPolicy:
        known = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in data.items() if k in known})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def violations(self) -> list[tuple[str, str]]:
        out = []
        for name, (lo, hi) in self._BOUNDS.items():
            value = getattr(self, name)
            if not lo <= value <= hi:
                out.append((name, f"must be between {lo} and {hi}"))
        return out

    @property
    def lockout(self) -> LockoutPolicy:
        return LockoutPolicy(max_failures=self.max_failures, lockout_seconds=self.lockout_seconds)
