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
    "FIDO",
    "PASSWORD_AND_SECONDFACTOR",
    "PASSKEY",
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


# Policies by the settings dict they were read from: the hot paths' settings
# come from store/hot/queries.cached_json, one shared dict per stored text,
# so a policy is parsed once per change of the application.
_POLICIES: dict[int, tuple[dict[str, Any], AppPolicy]] = {}


def app_policy(settings: dict[str, Any]) -> AppPolicy:
    cached = _POLICIES.get(id(settings))
    if cached is not None and cached[0] is settings:
        return cached[1]
    policy = AppPolicy.from_json(settings)
    if len(_POLICIES) >= 512:
        _POLICIES.clear()
    _POLICIES[id(settings)] = (settings, policy)
    return policy


_REQUIREMENTS = ("required", "preferred", "discouraged")


@dataclass(frozen=True)
class WebAuthnPolicy:
    """Relying-party settings for passkeys, stored under settings["webauthn"]."""

    rp_id: str = "localhost"
    rp_name: str = "authcore"
    origins: tuple[str, ...] = ("http://localhost:8080",)
    user_verification: str = "preferred"
    resident_key: str = "preferred"
    require_attestation: bool = False
    timeout_ms: int = 60000

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> WebAuthnPolicy:
        data = dict(settings.get("webauthn") or {})
        if "origins" in data:
            data["origins"] = tuple(data["origins"])
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["origins"] = list(self.origins)
        return out

    def violations(self) -> list[tuple[str, str]]:
        out = []
        if not self.rp_id or "/" in self.rp_id or ":" in self.rp_id:
            out.append(("rpId", "must be a host name"))
        for origin in self.origins:
            if not origin.startswith(("https://", "http://localhost", "http://127.0.0.1")):
                out.append(("origins", f"{origin!r} must be https (or http on localhost)"))
        if self.user_verification not in _REQUIREMENTS:
            out.append(("userVerification", "must be required, preferred or discouraged"))
        if self.resident_key not in _REQUIREMENTS:
            out.append(("residentKey", "must be required, preferred or discouraged"))
        if not 1000 <= self.timeout_ms <= 600000:
            out.append(("timeoutMs", "must be between 1000 and 600000"))
        return out
