"""The pure parts of the Windows logon: the Negotiate header and the mapping
of a client principal to a UserId. The GSSAPI part runs against a real KDC in
tests/api/test_axidian_windows.py."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from authcore.config import Settings
from authcore.errors import Unauthenticated, Unimplemented
from authcore.flows.kerberos import (
    _keytab,
    accepted_realms,
    map_principal,
    negotiate_token,
    split_principal,
)

TOKEN = base64.b64encode(b"\x60\x82token").decode()


@pytest.mark.parametrize("header", ["", "Negotiate", "Negotiate  ", "Bearer x",
                                    "Basic YWxpY2U6cHc=", "Negotiatex " + TOKEN])
def test_anything_but_negotiate_is_the_challenge(header: str) -> None:
    with pytest.raises(Unauthenticated) as exc:
        negotiate_token(header)
    assert exc.value.reason == "negotiate_required"
    assert exc.value.metadata == {"http_header:WWW-Authenticate": "Negotiate"}


@pytest.mark.parametrize("header", [f"Negotiate {TOKEN}", f"negotiate {TOKEN}",
                                    f"NEGOTIATE   {TOKEN}  "])
def test_the_scheme_is_case_insensitive(header: str) -> None:
    assert negotiate_token(header) == b"\x60\x82token"


@pytest.mark.parametrize(("header", "reason"), [
    ("Negotiate not*base64", "invalid_kerberos_token"),
    ("Negotiate " + "A" * 65_540, "invalid_kerberos_token"),
    ("Negotiate " + base64.b64encode(b"NTLMSSP\0\x01").decode(), "ntlm_not_supported"),
])
def test_bad_tokens(header: str, reason: str) -> None:
    with pytest.raises(Unauthenticated) as exc:
        negotiate_token(header)
    assert exc.value.reason == reason
    assert exc.value.metadata["http_header:WWW-Authenticate"] == "Negotiate"


@pytest.mark.parametrize(("principal", "parts"), [
    ("alice@EXAMPLE.COM", ("alice", "EXAMPLE.COM")),
    ("Alice.Smith@corp.example.com", ("Alice.Smith", "corp.example.com")),
    ("alice/admin@EXAMPLE.COM", None),
    ("HTTP/host.example.com@EXAMPLE.COM", None),
    (r"alice\@example.com@EXAMPLE.COM", None),  # an enterprise name
    ("alice", None),
    ("@EXAMPLE.COM", None),
    ("alice@", None),
])
def test_split_principal(principal: str, parts: tuple[str, str] | None) -> None:
    assert split_principal(principal) == parts


def test_realms_default_to_the_acceptors() -> None:
    assert accepted_realms(Settings(), "HTTP/web.example.com@EXAMPLE.COM") == {"EXAMPLE.COM"}
    assert accepted_realms(Settings(), "") == frozenset()
    listed = Settings(kerberos_realms=("A.EXAMPLE", "B.EXAMPLE"))
    assert accepted_realms(listed, "HTTP/web@EXAMPLE.COM") == {"A.EXAMPLE", "B.EXAMPLE"}


def test_map_principal() -> None:
    realms = frozenset({"EXAMPLE.COM"})
    assert map_principal("alice@EXAMPLE.COM", realms) == "alice"
    for principal, reason in [("alice@OTHER.COM", "realm_not_accepted"),
                              # Realms are case-sensitive in Kerberos.
                              ("alice@example.com", "realm_not_accepted"),
                              ("alice/admin@EXAMPLE.COM", "principal_not_accepted")]:
        with pytest.raises(Unauthenticated) as exc:
            map_principal(principal, realms)
        assert exc.value.reason == reason


def test_keytab_settings(tmp_path: Path) -> None:
    with pytest.raises(Unimplemented) as exc:
        _keytab(Settings())
    assert exc.value.reason == "windows_auth_not_configured"
    with pytest.raises(Unimplemented) as exc:
        _keytab(Settings(kerberos_keytab=tmp_path / "missing.keytab"))
    assert exc.value.reason == "windows_auth_not_configured"
    assert str(tmp_path) not in exc.value.message
    keytab = tmp_path / "http.keytab"
    keytab.write_bytes(b"\x05\x02")
    assert _keytab(Settings(kerberos_keytab=keytab)) == keytab
