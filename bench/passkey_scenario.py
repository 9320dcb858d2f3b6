"""Scenario for bench/load.py that drives authcore's passkey sign-in completion.

Each call is Fido2Service.AuthComplete (LoginID's /fido2/v2/auth/complete)
with a session from AuthInit and an assertion made by the software
authenticator for that session's challenge. Sessions are single-use and every
assertion carries the credential's next sign count, so the harness creates
and serializes every request before the run and the scenario is a finite pool
replayed as-is.

The server stores the sign count with a compare-and-set, so a user's
assertions must arrive in the order they were signed and never two at once:
the plan is round-robin over many users (a user's next call is one full round
later) and the pool is sharded by user, so one user's calls stay in one
worker process, in order.

`rest_form` turns a pool into the same calls to the REST bridge
(POST /fido2/v2/auth/complete with the JSON the bridge's codec reads).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace

from authcore.v1 import fido2_pb2

METHOD = "/authcore.v1.Fido2Service/AuthComplete"
REST_METHOD = "POST /fido2/v2/auth/complete"

Metadata = tuple[tuple[str, str], ...]
Call = tuple[str, bytes, Metadata]


def auth_complete_request(session: str, assertion: dict[str, object]) -> bytes:
    """Serialize an AuthCompleteRequest from an AuthenticationResponseJSON dict
    (base64url fields, as the soft authenticator and browsers produce it)."""
    response = assertion["response"]
    assert isinstance(response, dict)
    result = fido2_pb2.AuthenticatorAssertionResponse(
        authenticator_data=response["authenticatorData"],
        client_data_json=response["clientDataJSON"],
        credential_id=str(assertion["rawId"]),
        signature=response["signature"],
    )
    if response.get("userHandle"):
        result.user_handle = response["userHandle"]
    request = fido2_pb2.AuthCompleteRequest(session=session, assertion_result=result)
    return bytes(request.SerializeToString())


@dataclass(frozen=True)
class PlannedAssertion:
    user: int  # index of the user (and of its one passkey)
    payload: bytes  # serialized AuthCompleteRequest


@dataclass(frozen=True)
class PasskeyCompleteScenario:
    name: str
    plan: tuple[PlannedAssertion, ...]  # issue order; per user, signing order
    expected: tuple[str, ...] = ("OK",)
    method: str = METHOD

    def shard(self, worker: int, workers: int) -> list[PlannedAssertion]:
        # By user, so one user's calls stay in one process and in order.
        return [c for c in self.plan if c.user % workers == worker]

    def calls(self, worker: int, workers: int, start: float, end: float) -> Iterator[Call]:
        for call in self.shard(worker, workers):
            yield self.method, call.payload, ()


def rest_form(scenario: PasskeyCompleteScenario, name: str) -> PasskeyCompleteScenario:
    """The same pool as REST calls: each AuthCompleteRequest as the bridge's JSON."""
    from rest_bridge.codec import message_to_json

    def body(payload: bytes) -> bytes:
        request = fido2_pb2.AuthCompleteRequest.FromString(payload)
        return json.dumps(message_to_json(request), separators=(",", ":")).encode()

    plan = tuple(replace(c, payload=body(c.payload)) for c in scenario.plan)
    return replace(scenario, name=name, plan=plan, expected=("200",), method=REST_METHOD)
