"""Admin keys and the "scim" scope: `authcore admin create-key` makes a key
for an identity provider; SCIM takes it, the rest of the admin API doesn't,
and a key without the scope gets a SCIM-style 403."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from authcore_testkit.server import RunningServer, run_server


@pytest.fixture(scope="module")
def sqlite_server() -> Iterator[RunningServer]:
    with run_server() as server:
        yield server


def create_key(server: RunningServer, *scopes: str) -> str:
    args = [sys.executable, "-m", "authcore.cli", "admin", "create-key", "--name", "idp"]
    for scope in scopes:
        args += ["--scope", scope]
    out = subprocess.run(args, env={**os.environ, "AUTHCORE_DATA_DIR": str(server.data_dir)},
                         capture_output=True, text=True, timeout=60, check=True)
    key = out.stdout.strip().splitlines()[-1]
    assert key.startswith("ak_")
    return key


def test_scim_scoped_key_provisions_but_cannot_administer(sqlite_server: RunningServer) -> None:
    key = create_key(sqlite_server, "scim")
    headers = {"Authorization": f"Bearer {key}"}
    created = httpx.post(f"{sqlite_server.http_url}/scim/v2/Users", headers=headers,
                         json={"userName": "scoped-key-user@example.com"})
    assert created.status_code == 201, created.text
    admin = httpx.get(f"{sqlite_server.http_url}/api/admin/v1/users/scoped-key-user@example.com",
                      headers=headers)
    assert admin.status_code == 403


def test_key_without_scim_scope_is_refused_in_scim_style(sqlite_server: RunningServer) -> None:
    key = create_key(sqlite_server, "admin")
    r = httpx.get(f"{sqlite_server.http_url}/scim/v2/Users",
                  headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/scim+json")
    body = r.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == "403"
    assert "scim" in body["detail"]
