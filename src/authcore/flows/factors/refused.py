"""Authenticators authcore refuses for good: they exist only as Entrust's own
cloud services, which a self-hosted core cannot call on a user's behalf.

They answer 501 `authenticator_unavailable` (flows/authentication.py), are
never listed by the user query (no factor implements them), and an
application cannot be given them (flows/management.py, 400).
"""

from __future__ import annotations

from authcore.errors import InvalidArgument, Unimplemented

REFUSED: dict[str, str] = {
    "FACE": "FACE needs Entrust's cloud face biometrics (Onfido), which a self-hosted "
            "authcore cannot reach.",
    "SMART_LOGIN": "SMART_LOGIN needs the Entrust mobile app and Entrust's cloud push "
                   "service, which a self-hosted authcore cannot reach.",
}
REASON = "authenticator_unavailable"


def refused_error(name: str) -> Unimplemented:
    return Unimplemented(REFUSED[name], reason=REASON)


def check_enable(names: list[str], *, field: str = "authenticators") -> None:
    """Refuse (400) an application configuration that enables one of them."""
    for name in names:
        if name in REFUSED:
            raise InvalidArgument(REFUSED[name], reason=REASON,
                                  field_violations=[(field, f"{name} is not available")])
