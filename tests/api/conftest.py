"""Fixtures shared by the LoginID (/fido2/v2) API tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from authcore_testkit.loginid import LoginIdClient
from authcore_testkit.server import RunningServer


@pytest.fixture(params=["rest", "grpc"])
async def loginid(request: pytest.FixtureRequest, server: RunningServer
                  ) -> AsyncIterator[LoginIdClient]:
    client = LoginIdClient(server, request.param)
    yield client
    await client.close()


@pytest.fixture
def origin(server: RunningServer) -> str:
    # The demo application's only WebAuthn origin; its RP ID is "localhost".
    return "http://localhost:" + server.http_url.rsplit(":", 1)[1]


@pytest.fixture
def username() -> str:
    return f"pk-{uuid.uuid4().hex[:12]}@example.com"
