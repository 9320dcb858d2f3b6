"""A server without the kerberos extra (python-gssapi): authenticateByWindowsToken
answers Axidian's 501 "Kerberos support is not installed on this server",
over REST and gRPC, and everything else works.

The server process can't import gssapi for real: a sitecustomize on its
PYTHONPATH puts a finder first on sys.meta_path that refuses the package,
as if it had never been installed (the venv may well have it). No KDC is
needed: without the library the token is never looked at.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator

import grpc
import httpx
import pytest

from authcore.axidian.v5 import logon_pb2 as pb
from authcore.axidian.v5 import logon_pb2_grpc
from authcore_testkit import no_gssapi
from authcore_testkit.api import HTTP_FOR_GRPC, Admin, RestApi, error_reason
from authcore_testkit.axidian import PASSWORD_MODE, AxidianClient
from authcore_testkit.server import RunningServer, run_server

PATH = "/api/v5/logon/authenticateByWindowsToken"
PASSWORD = "correct horse battery staple"
# Looks like a SPNEGO token (an ASN.1 application tag), is not NTLM.
NEGOTIATE = "Negotiate " + base64.b64encode(b"\x60\x82\x01\x00" + bytes(64)).decode()
MESSAGE = "Kerberos support is not installed on this server."


@pytest.fixture(scope="module")
def blocked_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    site = tmp_path_factory.mktemp("no-gssapi")
    no_gssapi.write(site)
    keytab = site / "http.keytab"
    keytab.write_bytes(b"\x05\x02")  # configured, so "not configured" can't be the answer
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "AUTHCORE_KERBEROS_KEYTAB": str(keytab)}


@pytest.fixture(scope="module")
def server(blocked_env: dict[str, str]) -> Iterator[RunningServer]:
    with run_server(env=blocked_env) as running:
        yield running
    output = "".join(running.output)
    assert "Traceback" not in output
    # Said at start, and at most once (per process) when the call is refused.
    assert "AUTHCORE_KERBEROS_KEYTAB is set but Kerberos support is not installed" in output
    assert output.count("python-gssapi is not installed") <= 1, output


def test_the_block_is_real(blocked_env: dict[str, str]) -> None:
    """What the server process sees: gssapi can't be imported."""
    probe = subprocess.run(
        [sys.executable, "-c", "import gssapi"], env={**os.environ, **blocked_env},
        capture_output=True, text=True, timeout=60)
    assert probe.returncode == 1
    assert "ModuleNotFoundError: No module named 'gssapi'" in probe.stderr


@pytest.fixture
async def http(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:
        yield client


async def test_windows_logon_over_rest_says_kerberos_is_not_installed(
        server: RunningServer, http: httpx.AsyncClient) -> None:
    r = await http.post(PATH, json={"ApplicationId": server.demo_application_id},
                        headers={"Authorization": NEGOTIATE})
    assert r.status_code == 501, r.text
    assert r.json() == {"Message": MESSAGE, "ErrorCode": "kerberos_not_installed"}
    # The header is still checked first: without one it is the Negotiate challenge.
    r = await http.post(PATH, json={"ApplicationId": server.demo_application_id})
    assert r.status_code == 401 and r.json()["ErrorCode"] == "negotiate_required"
    assert r.headers["www-authenticate"] == "Negotiate"


async def test_windows_logon_over_grpc_says_kerberos_is_not_installed(
        server: RunningServer) -> None:
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        stub = logon_pb2_grpc.LogonServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await stub.AuthenticateByWindowsToken(pb.AuthenticateByWindowsTokenRequest(
                application_id=server.demo_application_id, authorization=NEGOTIATE))
    assert exc.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert HTTP_FOR_GRPC[exc.value.code()] == 501
    assert exc.value.details() == MESSAGE
    assert error_reason(exc.value) == "kerberos_not_installed"


@pytest.mark.parametrize("transport", ["rest", "grpc"])
async def test_password_logons_still_work(server: RunningServer, transport: str) -> None:
    user_id = f"nokrb-{uuid.uuid4().hex[:10]}"
    admin, entrust = Admin(server), RestApi(server)
    axidian = AxidianClient(server, transport)
    try:
        await admin.user(user_id)
        await admin.password(user_id, PASSWORD)
        done = await axidian.logon(server.demo_application_id, user_id, PASSWORD_MODE,
                                   PASSWORD)
        assert done.status == 200 and done.body["Token"], done
        body = {"applicationId": server.demo_application_id, "userId": user_id}
        ch = await entrust.challenge("PASSWORD", body)
        assert ch.status == 200, ch
        ok = await entrust.complete("PASSWORD", {"response": PASSWORD}, ch.body["token"])
        assert ok.status == 200 and ok.body["authenticationCompleted"] is True, ok
    finally:
        for client in (admin, entrust, axidian):
            await client.close()
