"""Per-application settings with their defaults, stored as JSON on the row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from authcore.errors import PermissionDenied

DEFAULT_AUTHENTICATORS = (
    "PASSWORD",
    "OTP",
    "TOKEN",
    # Offered only to users with an OCRA token (enrolled with an ocraSuite).
    "TOKENCR",
    "GRID",
    "KBA",
    "TEMP_ACCESS_CODE",
    "FIDO",
    "PASSWORD_AND_SECONDFACTOR",
    "PASSKEY",
    "TOKENPUSH",
    "SMARTCREDENTIALPUSH",
    # Windows logon (Axidian authenticateByWindowsToken, Kerberos).
    "EXTERNAL",
)


@dataclass(frozen=True)
class AppPolicy:
    """An application's settings. The lockout policy is not among them: it
    is the directory's (`Settings.lockout`), one per user, so that failures
    through a lenient application cannot outnumber a strict one's limit.
    Older rows may still hold `max_failures`/`lockout_seconds`; they are
    ignored."""

    session_seconds: int = 3600
    # How long a refresh token family (flows/refresh.py) lives from the
    # sign-in; rotation never extends it.
    refresh_seconds: int = 14 * 86400
    challenge_seconds: int = 300
    totp_drift_steps: int = 1
    hotp_look_ahead: int = 10
    grid_challenge_cells: int = 3
    kba_challenge_questions: int = 2
    otp_digits: int = 6
    otp_ttl_seconds: int = 300
    # Anyone may create an account by registering a passkey (flows/signup.py).
    self_sign_up: bool = False
    # Unknown users are answered like known ones where the API allows it.
    # The dataclass default is False for rows written before the setting
    # existed; create_application turns it on for every new application.
    hide_user_existence: bool = False
    # Different factors (passkey, code, the backend's token) a LoginID MFA
    # flow needs before it issues tokens (flows/loginid_mfa.py).
    mfa_factors: int = 1
    # Machine authentication (MACHINE, flows/factors/machine.py): a machine
    # must present the fingerprint it registered with; how long a machine
    # lives from its registration; how many a user keeps (one more revokes
    # the least recently used).
    device_fingerprint_required: bool = False
    machine_seconds: int = 90 * 86400
    max_machines: int = 20
    # USER_CERTIFICATE's mapping of a certificate to its user: "EMAIL",
    # "UPN" or "" (off); verify/user_certificate.py.
    user_certificate_mapping: str = ""

    # Bounds keep an admin typo from producing a policy that is insecure
    # (huge drift windows) or unusable (zero-second challenges).
    _BOUNDS = {
        "session_seconds": (30, 30 * 86400),
        "refresh_seconds": (60, 90 * 86400),
        "challenge_seconds": (1, 86400),
        "totp_drift_steps": (0, 10),
        "hotp_look_ahead": (0, 100),
        "grid_challenge_cells": (1, 10),
        "kba_challenge_questions": (1, 10),
        "otp_digits": (6, 8),
        "otp_ttl_seconds": (30, 3600),
        "mfa_factors": (1, 2),
        "machine_seconds": (3600, 730 * 86400),
        "max_machines": (1, 100),
    }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AppPolicy:
        kinds = {f.name: f.type for f in fields(cls)}
        cast: dict[str, Callable[[Any], Any]] = {"bool": bool, "str": str}
        values: dict[str, Any] = {k: cast.get(str(kinds[k]), int)(v)
                                  for k, v in data.items() if k in kinds}
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def violations(self) -> list[tuple[str, str]]:
        out = []
        for name, (lo, hi) in self._BOUNDS.items():
            value = getattr(self, name)
            if not lo <= value <= hi:
                out.append((name, f"must be between {lo} and {hi}"))
        if self.user_certificate_mapping not in ("", "EMAIL", "UPN"):
            out.append(("user_certificate_mapping", 'must be "EMAIL", "UPN" or ""'))
        return out


# What an application created today starts with (the dataclass defaults are
# what rows written before a setting existed mean).
NEW_APPLICATION = AppPolicy(hide_user_existence=True)
NEW_APPLICATION_SETTINGS: dict[str, Any] = NEW_APPLICATION.to_json()


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


# The user values (flows/self_values.py) an application can let users edit.
VALUE_NAMES = ("email", "phone", "firstName", "lastName", "displayName", "nickName", "title",
               "preferredLanguage", "locale", "timezone")


@dataclass(frozen=True)
class SelfServicePolicy:
    """What users may do to their own account through Entrust's self-service
    paths, stored under settings["selfService"]. Off by default: no value is
    editable and no offline OTP batch is served."""

    editable_values: tuple[str, ...] = ()
    offline_tokens_enabled: bool = False
    # Hours (TOTP) or counters (HOTP).
    offline_minor_size: int = 8
    offline_max_size: int = 24
    offline_iterations: int = 1000
    offline_private_salt_length: int = 2

    _BOUNDS = {
        "offline_minor_size": (1, 168),
        "offline_max_size": (1, 168),
        "offline_iterations": (1, 100_000),
        "offline_private_salt_length": (0, 6),
    }

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> SelfServicePolicy:
        data = dict(settings.get("selfService") or {})
        if "editable_values" in data:
            data["editable_values"] = tuple(data["editable_values"])
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["editable_values"] = list(self.editable_values)
        return out

    def violations(self) -> list[tuple[str, str]]:
        out = [(name, f"must be between {lo} and {hi}")
               for name, (lo, hi) in self._BOUNDS.items()
               if not lo <= getattr(self, name) <= hi]
        unknown = [n for n in self.editable_values if n not in VALUE_NAMES]
        if unknown:
            out.append(("editable_values", f"{', '.join(unknown)} not among "
                                           f"{', '.join(VALUE_NAMES)}"))
        if self.offline_minor_size > self.offline_max_size:
            out.append(("offline_minor_size", "must not exceed offline_max_size"))
        return out


_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
_MAX_URL = 2048


def _url_origin(scheme: str, host: str, port: int | None) -> str:
    default = {"https": 443, "http": 80}.get(scheme)
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def page_url_problem(url: str, origins: Sequence[str]) -> str | None:
    """Why `url` can't be a page of the application (a Magic Link's page or
    redirect), or None: an absolute https URL (http only on a loopback
    host) on one of `origins` (webauthn.origins, as the OIDC redirectUri
    check), with no fragment, user info or whitespace."""
    if not url or len(url) > _MAX_URL:
        return f"is required (at most {_MAX_URL} characters)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "is not a valid URL (host or port)"
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if (not host or "#" in url or parts.username is not None or parts.password is not None
            or any(c in url for c in "\r\n\t\\ ")):
        return "must be an absolute URL with no fragment or user info"
    if scheme != "https" and not (scheme == "http" and host in _LOOPBACK_HOSTS):
        return "must be https (or http on a loopback host)"
    allowed = set()
    for origin in origins:
        try:
            o = urlsplit(origin.strip())
            o_port = o.port
        except ValueError:
            continue
        if o.scheme and o.hostname:
            allowed.add(_url_origin(o.scheme.lower(), o.hostname.lower(), o_port))
    if _url_origin(scheme, host, port) not in allowed:
        return "is not on an origin of the application (webauthn.origins)"
    return None


@dataclass(frozen=True)
class MagicLinkPolicy:
    """Magic Link (MAGICLINK, flows/factors/magic_link.py), stored under
    settings["magicLink"]: the relying party's page the emailed link opens
    (empty: no MAGICLINK), where that page sends the browser after the
    answer, and how long a link works."""

    link_url: str = ""
    redirect_url: str = ""
    lifetime_seconds: int = 600

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> MagicLinkPolicy:
        data = dict(settings.get("magicLink") or {})
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def violations(self, origins: Sequence[str]) -> list[tuple[str, str]]:
        out = []
        if not 60 <= self.lifetime_seconds <= 3600:
            out.append(("lifetime_seconds", "must be between 60 and 3600"))
        for name in ("link_url", "redirect_url"):
            value = getattr(self, name)
            problem = page_url_problem(value, origins) if value else None
            if problem:
                out.append((name, problem))
        return out


# -- the one policy decision point -------------------------------------------

P2F = "PASSWORD_AND_SECONDFACTOR"
IDP2F = "IDP_AND_SECONDFACTOR"
# What may follow a password in PASSWORD_AND_SECONDFACTOR (factors/__init__.py
# SECOND_FACTORS; repeated here so that the decision has no flow imports).
SECOND_FACTORS = frozenset({"TOKEN", "TOKENCR", "OTP", "GRID", "KBA", "TEMP_ACCESS_CODE",
                            "FIDO", "MACHINE", "TOKENPUSH", "SMARTCREDENTIALPUSH",
                            "MAGICLINK"})


@dataclass(frozen=True)
class Grant:
    """The application's leave to issue a token for what the user proved.
    Only `grant` makes one, and the session issuers (tokens/sessions.py)
    take the application from it, so no API can issue a token without
    asking the policy first."""

    application_id: str
    factors: tuple[str, ...]


def grant(*, application_id: str, allowed: Sequence[str], factors: Sequence[str]) -> Grant:
    """May this sequence of factors, in the AuthenticatorType vocabulary,
    yield a token for an application that allows `allowed`?

    A single factor needs to be allowed itself. A password followed by a
    second factor is PASSWORD_AND_SECONDFACTOR and needs that; an IDP login
    followed by one is IDP_AND_SECONDFACTOR (or else two factors). Several
    different factors without a password (LoginID's MFA flow: a passkey and
    a code, say) need each to be allowed itself: each alone could have
    been granted, so asking for more never grants what one would not.
    Anything else is refused: an application that allows only
    PASSWORD_AND_SECONDFACTOR never issues for a password alone, whichever
    API asks (Entrust, LoginID, consumer or Axidian)."""
    done = tuple(factors)
    if len(done) == 1:
        ok = done[0] in allowed
    elif len(done) == 2 and done[0] == "PASSWORD":
        ok = P2F in allowed and done[1] in SECOND_FACTORS
    elif (len(done) == 2 and done[0] == "IDP" and IDP2F in allowed
          and done[1] in SECOND_FACTORS):
        ok = True
    elif len(done) > 1 and "PASSWORD" not in done and len(set(done)) == len(done):
        ok = all(f in allowed for f in done)
    else:
        ok = False
    if not ok:
        raise PermissionDenied(f"The application does not allow {' + '.join(done) or 'this'}.",
                               reason="authenticator_not_allowed")
    return Grant(application_id=application_id, factors=done)


def require_allowed(allowed: Sequence[str], factor: str) -> None:
    """Refuse a ceremony's start early when its end could never be granted."""
    grant(application_id="", allowed=allowed, factors=(factor,))
