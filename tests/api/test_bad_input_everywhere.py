"""Every REST operation, fed wrong types, nulls, odd values and garbage in each
body field and path parameter, answers 2xx or 4xx in its API's error style:
never a 5xx, never a traceback. The operations come from /openapi.json, so a
new endpoint is covered without touching this test."""

from __future__ import annotations

import itertools
import re
from typing import Any

import httpx
import pytest

from authcore_testkit.server import RunningServer

WEIRD_VALUES: list[Any] = [
    None, 0, -1, 2**63, 1.5, True, "", "x" * 5000, "\u0000\ud7ff\U0001f600", [], [1, "a"],
    {}, {"nested": {"deeper": [None]}}, "' OR 1=1 --", "../../etc/passwd",
]
WEIRD_PATH_VALUES = ["%00", "..", "x" * 300, "%F0%9F%98%80", "'%20OR%201=1", "-1"]


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    ops = []
    for path, item in doc["paths"].items():
        if path.startswith("/demo"):
            continue
        for method, op in item.items():
            if method in {"get", "post", "put", "delete", "patch"}:
                ops.append((method.upper(), path, op))
    return ops


def _body_fields(doc: dict[str, Any], op: dict[str, Any]) -> list[str]:
    schema = (op.get("requestBody", {}).get("content", {}).get("application/json", {})
              .get("schema", {}))
    ref = schema.get("$ref", "")
    target = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else schema
    return list(target.get("properties", {}))


# Operations that answer 501 by design, whatever the input: RFC 7644 section
# 3.4.3 lets a SCIM server decline searching several resource types at once.
DECLINED = ("POST /scim/v2/.search",)


def _assert_clean(r: httpx.Response, where: str) -> None:
    if where.startswith(DECLINED) and r.status_code == 501:
        return
    assert r.status_code < 500, f"{where} -> {r.status_code}: {r.text[:300]}"
    assert "Traceback" not in r.text, where
    if r.status_code >= 400 and r.content:
        body = r.json()
        assert isinstance(body, dict) and body, where
        # One of the vendor styles, never a framework default like {"detail": ...}.
        styles = ({"errorCode", "errorMessage"}, {"msg", "msgCode"}, {"message"},
                  {"schemas", "detail"}, {"Message", "ErrorCode"}, {"code", "message"})
        assert any(keys <= set(body) for keys in styles), f"{where}: {body}"


def test_no_operation_answers_5xx_to_bad_input(server: RunningServer) -> None:
    with httpx.Client(base_url=server.http_url, timeout=30,
                      headers={"Authorization": f"Bearer {server.admin_key}"}) as http:
        doc = http.get("/openapi.json").json()
        ops = _operations(doc)
        assert len(ops) > 40
        assert sum(len(_body_fields(doc, op)) for _, _, op in ops) > 120
        for method, path, op in ops:
            params = re.findall(r"\{([^}]+)\}", path)
            for value in WEIRD_PATH_VALUES:
                url = path
                for p in params:
                    url = url.replace("{" + p + "}", value)
                if params:
                    r = http.request(method, url, json={} if method in {"POST", "PUT"} else None)
                    _assert_clean(r, f"{method} {url}")
            concrete = re.sub(r"\{[^}]+\}", "nope", path)
            if method not in {"POST", "PUT", "PATCH"}:
                r = http.request(method, concrete, params={"userId": "\u0000", "x": "1" * 9000})
                _assert_clean(r, f"{method} {concrete} (query)")
                continue
            fields = _body_fields(doc, op)
            for field, value in itertools.product(fields, WEIRD_VALUES):
                r = http.request(method, concrete, json={field: value})
                _assert_clean(r, f"{method} {concrete} {field}={value!r:.40}")
            for raw in (b"", b"null", b"[]", b'"str"', b"{", b'{"a":1}' * 3, b"\xff\xfe"):
                r = http.request(method, concrete, content=raw,
                                 headers={"Content-Type": "application/json"})
                _assert_clean(r, f"{method} {concrete} raw={raw!r}")


@pytest.mark.parametrize("header", ["Bearer", "Bearer \u00e9\u00e9", "x" * 10000, "Bearer a.b.c"])
def test_odd_authorization_headers(server: RunningServer, header: str) -> None:
    with httpx.Client(base_url=server.http_url, timeout=30) as http:
        for method, path in (("POST", "/api/web/v1/authentication/logout"),
                             ("GET", "/fido2/v2/passkeys"),
                             ("GET", "/api/web/v1/self/fidotokens"),
                             ("POST", "/api/admin/v1/users")):
            try:
                r = http.request(method, path, headers={"Authorization": header}, json={})
            except UnicodeEncodeError:
                continue  # httpx refuses non-ASCII headers itself
            _assert_clean(r, f"{method} {path} auth={header[:20]!r}")
            assert r.status_code in {400, 401, 403, 404, 431}, (path, r.status_code)
