"""AUTHCORE_MTLS_* (USER_CERTIFICATE's listener and proxy header)."""

from __future__ import annotations

from pathlib import Path

import pytest

from authcore.config import Settings


def _files(tmp_path: Path) -> dict[str, str]:
    for name in ("c.pem", "k.pem", "ca.pem"):
        (tmp_path / name).write_text("x")
    return {"AUTHCORE_MTLS_CERT": str(tmp_path / "c.pem"),
            "AUTHCORE_MTLS_KEY": str(tmp_path / "k.pem"),
            "AUTHCORE_MTLS_CLIENT_CA": str(tmp_path / "ca.pem")}


def test_off_by_default() -> None:
    s = Settings.from_env({})
    s.check()
    assert not s.user_certificates_enabled


def test_listener_needs_its_files_and_port(tmp_path: Path) -> None:
    files = _files(tmp_path)
    s = Settings.from_env({"AUTHCORE_MTLS_ADDR": "127.0.0.1:8443", **files})
    s.check()
    assert s.user_certificates_enabled and s.mtls_client_ca == tmp_path / "ca.pem"
    for missing in files:
        env = {"AUTHCORE_MTLS_ADDR": "127.0.0.1:8443", **files}
        env[missing] = str(tmp_path / "absent.pem")
        with pytest.raises(SystemExit, match=missing):
            Settings.from_env(env).check()
    with pytest.raises(SystemExit, match="port of its own"):
        Settings.from_env({"AUTHCORE_MTLS_ADDR": "127.0.0.1:8080", **files}).check()
    with pytest.raises(SystemExit, match="host:port"):
        Settings.from_env({"AUTHCORE_MTLS_ADDR": "8443", **files}).check()


def test_proxy_header_needs_trusted_proxies() -> None:
    with pytest.raises(SystemExit, match="TRUSTED_PROXIES"):
        Settings.from_env({"AUTHCORE_MTLS_PROXY_HEADER": "X-Client-Cert"}).check()
    with pytest.raises(SystemExit, match="not an IP"):
        Settings.from_env({"AUTHCORE_MTLS_PROXY_HEADER": "X-Client-Cert",
                           "AUTHCORE_MTLS_TRUSTED_PROXIES": "proxy.local"}).check()
    s = Settings.from_env({"AUTHCORE_MTLS_PROXY_HEADER": "X-Client-Cert",
                           "AUTHCORE_MTLS_TRUSTED_PROXIES": " 10.0.0.0/8, ::1 "})
    s.check()
    assert s.mtls_trusted_proxies == ("10.0.0.0/8", "::1") and s.user_certificates_enabled


def test_crls_need_their_cas_and_files(tmp_path: Path) -> None:
    files = _files(tmp_path)
    (tmp_path / "crl.pem").write_text("x")
    crl = str(tmp_path / "crl.pem")
    s = Settings.from_env({"AUTHCORE_MTLS_ADDR": "127.0.0.1:8443", **files,
                           "AUTHCORE_MTLS_CRL": crl, "AUTHCORE_CRL_RELOAD_SECONDS": "0.5"})
    s.check()
    assert s.mtls_crl == tmp_path / "crl.pem" and s.crl_reload_seconds == 0.5
    assert Settings.from_env({}).crl_reload_seconds == 30.0
    with pytest.raises(SystemExit, match="needs AUTHCORE_MTLS_ADDR"):
        Settings.from_env({"AUTHCORE_MTLS_CRL": crl}).check()
    # The proxy variant needs the client CAs too: they sign the CRLs.
    proxy = {"AUTHCORE_MTLS_PROXY_HEADER": "X-Client-Cert",
             "AUTHCORE_MTLS_TRUSTED_PROXIES": "10.0.0.1"}
    with pytest.raises(SystemExit, match="AUTHCORE_MTLS_CLIENT_CA"):
        Settings.from_env({**proxy, "AUTHCORE_MTLS_CRL": crl}).check()
    Settings.from_env({**proxy, "AUTHCORE_MTLS_CRL": crl,
                       "AUTHCORE_MTLS_CLIENT_CA": files["AUTHCORE_MTLS_CLIENT_CA"]}).check()
    with pytest.raises(SystemExit, match="must be a file"):
        Settings.from_env({"AUTHCORE_MTLS_ADDR": "127.0.0.1:8443", **files,
                           "AUTHCORE_MTLS_CRL": str(tmp_path / "absent.crl")}).check()
    with pytest.raises(SystemExit, match="RELOAD_SECONDS"):
        Settings.from_env({"AUTHCORE_CRL_RELOAD_SECONDS": "-1"}).check()
    with pytest.raises(SystemExit, match="needs AUTHCORE_SMART_CREDENTIAL_CA"):
        Settings.from_env({"AUTHCORE_SMART_CREDENTIAL_CRL": crl}).check()
    with pytest.raises(SystemExit, match="must be a file"):
        Settings.from_env({"AUTHCORE_SMART_CREDENTIAL_CA": files["AUTHCORE_MTLS_CLIENT_CA"],
                           "AUTHCORE_SMART_CREDENTIAL_CRL": str(tmp_path / "no")}).check()
    Settings.from_env({"AUTHCORE_SMART_CREDENTIAL_CA": files["AUTHCORE_MTLS_CLIENT_CA"],
                       "AUTHCORE_SMART_CREDENTIAL_CRL": crl}).check()
