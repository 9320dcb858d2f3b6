"""Schemathesis against the bridge's own /openapi.json: for every documented
operation, generated requests (valid and invalid, from the coverage and
fuzzing phases) never get a 5xx, and every response matches what the
document promises: status, content type, headers, body schema. Error bodies
must be the operation's vendor error shape, never a framework default.

The number of examples is bounded and generation is derandomized with a fixed
seed, so CI runs the same requests every time (the ids the server hands out
still differ between runs). For a longer hunt, set
AUTHCORE_SCHEMATHESIS_EXAMPLES (and another AUTHCORE_SCHEMATHESIS_SEED).

Admin and SCIM operations get the admin key (they declare the `adminKey`
security scheme); operations taking a user's `Authorization` header get a
real session of their API, so generated input gets past authentication to
validation and the flows. Odd Authorization values themselves are covered by
tests/api/test_bad_input_everywhere.py.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup, as_reported_failure
from schemathesis.core.result import Err
from schemathesis.pytest.lazy import get_all_tests
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from authcore_testkit.server import RunningServer

# Per operation, fuzzing phase (the coverage phase adds its own cases). CI
# runs these; a longer local hunt can raise them through the environment.
MAX_EXAMPLES = int(os.environ.get("AUTHCORE_SCHEMATHESIS_EXAMPLES", "15"))
SEED = int(os.environ.get("AUTHCORE_SCHEMATHESIS_SEED", "6"))  # issue 6
PASSWORD = "correct horse battery staple"

# The keys each error style always writes (rest_bridge/errors.py), by the
# name of the error schema the operation documents.
ERROR_KEYS: dict[str, set[str]] = {
    "EntrustError": {"errorCode", "errorMessage"},
    "LoginIdError": {"msg", "msgCode"},
    "ConsumerError": {"message"},
    "ScimError": {"schemas", "status", "detail"},
    "AxidianError": {"Message", "ErrorCode"},
    "CodeMessageError": {"code", "message"},
    "Status": {"code", "message"},
}

# Deliberate 501s, each for one documented reason (matched on the operation
# and the error the API names, so any other 5xx there still fails):
# * RFC 7644 section 3.4.3 lets a SCIM server decline searching several
#   resource types at once (POST /scim/v2/.search);
# * an Entrust authenticator the server does not serve would answer 501
#   authenticator_not_supported (every value of the 5.46 enum is served now;
#   the reason stays allowed so that a newer spec's value fails clearly);
#   FACE and SMART_LOGIN, which need Entrust's cloud, 501 authenticator_unavailable.
_NOT_HERE = ("authenticator_not_supported", "authenticator_unavailable")
DECLINED: dict[str, Callable[[Any], bool]] = {
    "POST /scim/v2/.search": lambda body: True,
    "POST /api/web/v2/authentication/users/authenticate/{authenticator}":
        lambda body: body.get("errorCode") in _NOT_HERE,
    "POST /api/web/v1/authentication/users/authenticate/{authenticator}/complete":
        lambda body: body.get("errorCode") in _NOT_HERE,
}


# ----------------------------------------------------------------- checks

def no_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    declined = DECLINED.get(case.operation.label)
    if declined is not None and response.status_code == 501 and declined(response.json()):
        return None
    return not_a_server_error(ctx, response, case)


def _error_schema_name(case: Any) -> str:
    default = case.operation.definition.raw["responses"]["default"]
    [media] = default["content"].values()
    return str(media["schema"]["$ref"].rsplit("/", 1)[-1])


def vendor_error_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """An error with a body is a JSON object in the operation's own error
    style (never {"detail": ...} or a traceback)."""
    if response.status_code < 400 or not response.content:
        return None
    where = f"{case.operation.label} -> {response.status_code}: {response.text[:300]}"
    assert "Traceback" not in response.text, where
    body = response.json()
    assert isinstance(body, dict), where
    required = ERROR_KEYS[_error_schema_name(case)]
    assert required <= set(body), f"{where} (expected the keys {sorted(required)})"
    return None


# status_code_conformance is cheap but weak here: every operation documents
# a `default` error response, so it only catches a status outside 100-599.
CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    vendor_error_shape,
]


# ---------------------------------------------------------------- sessions

def _origin(server: RunningServer) -> str:
    # The demo application's WebAuthn origin (its RP ID is "localhost").
    return "http://localhost:" + server.http_url.rsplit(":", 1)[1]


def _ok(r: httpx.Response) -> Any:
    assert r.status_code < 300, (r.request.url, r.status_code, r.text)
    return r.json() if r.content else None


def _user(admin: httpx.Client, **attrs: Any) -> str:
    user_id = f"st-{uuid.uuid4().hex[:12]}@example.com"
    _ok(admin.post("/api/admin/v1/users", json={"userId": user_id, **attrs}))
    _ok(admin.put(f"/api/admin/v1/users/{user_id}/password", json={"password": PASSWORD}))
    return user_id


def _entrust_session(http: httpx.Client, admin: httpx.Client, app_id: str) -> str:
    user_id = _user(admin)
    challenge = _ok(http.post("/api/web/v2/authentication/users/authenticate/PASSWORD",
                              json={"applicationId": app_id, "userId": user_id}))
    done = _ok(http.post("/api/web/v1/authentication/users/authenticate/PASSWORD/complete",
                         json={"response": PASSWORD},
                         headers={"Authorization": f"Bearer {challenge['token']}"}))
    return str(done["token"])


def _loginid_jwt(http: httpx.Client, admin: httpx.Client, app_id: str, origin: str) -> str:
    email = f"st-{uuid.uuid4().hex[:12]}@example.com"
    user_id = _user(admin, email=email)
    who = {"user": {"username": user_id}, "appId": app_id}
    _ok(http.post("/fido2/v2/auth/otp/email", json=who, headers={"Origin": origin}))
    [mail] = _ok(admin.get("/api/admin/v1/outbox", params={"userId": user_id}))["messages"]
    code = re.search(r"\b(\d{6})\b", mail["text"]).group(1)  # type: ignore[union-attr]
    done = _ok(http.post("/fido2/v2/auth/otp/verify", json={**who, "authCode": code}))
    return str(done["jwtAccess"])


def _consumer_session(http: httpx.Client, admin: httpx.Client) -> str:
    email = f"st-{uuid.uuid4().hex[:12]}@example.com"
    _user(admin, email=email)
    done = _ok(http.post("/consumer/v1/login",
                         json={"email": email, "password": {"value": PASSWORD}}))
    return str(done["token"])


@pytest.fixture(scope="session")
def sessions(server: RunningServer) -> dict[str, str]:
    """Authorization values by path prefix: a user session of each API."""
    with httpx.Client(base_url=server.http_url, timeout=30) as http, \
            httpx.Client(base_url=server.http_url, timeout=30,
                         headers={"Authorization": f"Bearer {server.admin_key}"}) as admin:
        app_id = server.demo_application_id
        return {
            "/api/web/v1/self/": "Bearer " + _entrust_session(http, admin, app_id),
            "/fido2/v2/": "Bearer " + _loginid_jwt(http, admin, app_id, _origin(server)),
            "/consumer/v1/": "Bearer " + _consumer_session(http, admin),
        }


def _headers(case: Any, server: RunningServer, sessions: dict[str, str]) -> dict[str, str]:
    raw = case.operation.definition.raw
    declared = {p["name"].lower() for p in raw.get("parameters", []) if p["in"] == "header"}
    headers: dict[str, str] = {}
    if raw.get("security"):
        headers["Authorization"] = f"Bearer {server.admin_key}"
    elif "authorization" in declared and not case.path.endswith("/logout"):
        # Logout would end the session the other operations use.
        for prefix, value in sessions.items():
            if case.path.startswith(prefix):
                headers["Authorization"] = value
    if "origin" in declared:
        # A foreign Origin is refused before validation (CORS), see test_cors.py.
        headers["Origin"] = _origin(server)
    return headers


# ----------------------------------------------------------------- the test

@pytest.fixture(scope="session")
def api_schema(server: RunningServer) -> Any:
    config = schemathesis.Config.from_dict({
        "seed": SEED,
        # Hypothesis' generation-speed check only measures the machine: off,
        # so a busy CI runner can't fail the test.
        "suppress-health-check": ["too_slow"],
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True,
                       "database": "none"},
        "phases": {
            # No examples in the document and no links for stateful runs.
            "examples": {"enabled": False},
            "stateful": {"enabled": False},
            # The coverage phase (~5,000 requests: each property with every
            # wrong JSON type, boundary values, missing parameters, other
            # methods) is mostly refused by the bridge's codec before storage
            # is touched, so it runs once, on SQLite, to keep this file within
            # its CI budget; PostgreSQL gets the fuzzing phase.
            "coverage": {"enabled": server.backend == "sqlite"},
        },
        "request-timeout": 30,
    })
    return schemathesis.openapi.from_url(server.http_url + "/openapi.json", config=config)


def test_every_operation_conforms_to_openapi(api_schema: Any, server: RunningServer,
                                             sessions: dict[str, str],
                                             subtests: pytest.Subtests) -> None:
    # schemathesis.pytest.from_fixture would do this, but its lazy loader
    # renames pytest nodes through `_nodeid`, which pytest 9.2 no longer has;
    # so the same per-operation Hypothesis tests run here, one subtest each.
    def call(case: Any) -> None:
        case.call_and_validate(headers=_headers(case, server, sessions), checks=CHECKS)

    tested = 0
    for result in get_all_tests(schema=api_schema, test_func=call, settings=None,
                                given_kwargs={}):
        if isinstance(result, Err):  # an operation schemathesis cannot read
            with subtests.test(msg=str(result.err().label)):
                raise result.err()
            continue
        operation, operation_test = result.ok()
        tested += 1
        with subtests.test(msg=operation.label):
            try:
                operation_test()
            except FailureGroup as exc:
                raise as_reported_failure(exc) from None
    assert tested == len(api_schema) > 80


def test_conditional_scim_requests_conform(api_schema: Any, server: RunningServer) -> None:
    """Generated ids rarely name a real resource, so the conditional answers
    (a bodiless 304, a 412) are checked here on resources made for it."""
    scim = {"Authorization": f"Bearer {server.admin_key}"}
    with httpx.Client(base_url=server.http_url, timeout=30, headers=scim) as http:
        user = _ok(http.post("/scim/v2/Users", json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": f"st-{uuid.uuid4().hex[:12]}@example.com"}))
        group = _ok(http.post("/scim/v2/Groups", json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": f"st-{uuid.uuid4().hex[:12]}"}))
    cases = []
    for kind, resource in (("Users", user), ("Groups", group)):
        path = f"/scim/v2/{kind}/{{id}}"
        ids = {"id": resource["id"]}
        cases += [
            (api_schema[path]["GET"].Case(path_parameters=ids), 200),
            (api_schema[path]["GET"].Case(
                path_parameters=ids, headers={"If-None-Match": resource["meta"]["version"]}),
             304),
            (api_schema[path]["DELETE"].Case(
                path_parameters=ids, headers={"If-Match": 'W/"999999"'}), 412),
        ]
    for case, status in cases:
        response = case.call_and_validate(headers=scim, checks=CHECKS)
        assert response.status_code == status, (case.operation.label, response.text)
