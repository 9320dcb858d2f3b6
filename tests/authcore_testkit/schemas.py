"""Validate responses against the published Entrust IDaaS OpenAPI 5.46 spec.

`strict` also forbids properties the spec doesn't define, which catches a
misspelt vendor field name that the lenient spec would let through.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SPEC = Path(__file__).resolve().parents[1] / "fixtures" / (
    "entrust-idaas-authentication-api-5.46.openapi.json")


@cache
def _spec() -> dict[str, Any]:
    return json.loads(SPEC.read_text())  # type: ignore[no-any-return]


def _closed(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _closed(v) for k, v in node.items()}
        if out.get("type") == "object" and "properties" in out:
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(node, list):
        return [_closed(v) for v in node]
    return node


@cache
def _validator(name: str, strict: bool) -> jsonschema.protocols.Validator:
    components = copy.deepcopy(_spec()["components"])
    if strict:
        components = _closed(components)
    schema = {"$ref": f"#/components/schemas/{name}", "components": components}
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def validate(body: Any, schema_name: str) -> None:
    """Raise jsonschema.ValidationError when `body` does not fit, strictly."""
    _validator(schema_name, False).validate(body)
    _validator(schema_name, True).validate(body)


def response_schema(path: str, method: str = "post", status: str = "200") -> str:
    content = _spec()["paths"][path][method]["responses"][status]["content"]
    ref: str = content["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[-1]
