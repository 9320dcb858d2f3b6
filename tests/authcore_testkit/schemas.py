"""Validate responses against the vendors' published OpenAPI documents (kept
as fixtures): Entrust IDaaS Authentication API 5.46 and LoginID FIDO2 v2.

Validation is also strict: every object is closed to the properties the spec
lists, which catches a misspelt vendor field name that the lenient spec
would let through.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _closed(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _closed(v) for k, v in node.items()}
        if out.get("type") == "object" and "properties" in out:
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(node, list):
        return [_closed(v) for v in node]
    return node


class Spec:
    def __init__(self, filename: str) -> None:
        self.path = FIXTURES / filename

    @cache
    def document(self) -> dict[str, Any]:
        text = self.path.read_text()
        doc = yaml.safe_load(text) if self.path.suffix == ".yaml" else json.loads(text)
        return doc  # type: ignore[no-any-return]

    @cache
    def _validator(self, name: str, strict: bool) -> jsonschema.protocols.Validator:
        components = copy.deepcopy(self.document()["components"])
        if strict:
            components = _closed(components)
        schema = {"$ref": f"#/components/schemas/{name}", "components": components}
        return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())

    def validate(self, body: Any, schema_name: str) -> None:
        """Raise jsonschema.ValidationError unless `body` fits, strictly."""
        self._validator(schema_name, False).validate(body)
        self._validator(schema_name, True).validate(body)


ENTRUST = Spec("entrust-idaas-authentication-api-5.46.openapi.json")
LOGINID = Spec("loginid-fido2-v2.openapi.yaml")


def validate(body: Any, schema_name: str) -> None:
    """Validate against the Entrust spec (the common case in these tests)."""
    ENTRUST.validate(body, schema_name)


def response_schema(path: str, method: str = "post", status: str = "200") -> str:
    content = ENTRUST.document()["paths"][path][method]["responses"][status]["content"]
    ref: str = content["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[-1]
