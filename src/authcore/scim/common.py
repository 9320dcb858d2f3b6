"""What Users and Groups share: query parameters, response shaping, entity
tags and paging."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from scim2_models import Context, ResponseParameters, SCIMException

from authcore.scim.errors import NotModified, PreconditionFailed, bad_request, translate
from authcore.scim.schema import DEFAULT_COUNT, LIST_RESPONSE_SCHEMA, MAX_RESULTS
from authcore.scim.store import etag


def operations_of(patch: dict[str, Any]) -> list[Any]:
    """A PatchOp's operations as the client sent them ("Operations", or seed
    002's "operations": SCIM keys are case-insensitive)."""
    ops = next((v for k, v in patch.items() if k.lower() == "operations"), None)
    return ops if isinstance(ops, list) else []


def split_attributes(text: str | Iterable[str]) -> list[str]:
    items = text.split(",") if isinstance(text, str) else list(text)
    return [item.strip() for item in items if item and item.strip()]


@dataclass(frozen=True, slots=True)
class Shape:
    """attributes / excludedAttributes (RFC 7644 section 3.9)."""

    attributes: Sequence[str] = ()
    excluded: Sequence[str] = ()
    _params: Any = field(default=None, compare=False)

    @classmethod
    def of(cls, attributes: str | Iterable[str], excluded: str | Iterable[str]) -> Shape:
        attrs, excl = split_attributes(attributes), split_attributes(excluded)
        try:
            params: ResponseParameters[Any] = ResponseParameters.model_validate(
                {"attributes": attrs or None, "excludedAttributes": excl or None})
        except (ValidationError, SCIMException) as exc:
            raise translate(exc) from None
        return cls(attrs, excl, params)

    def returns(self, attribute: str) -> bool:
        """Whether a `returned: default` attribute is in the response, so the
        caller can skip loading it (a large group's members)."""
        name = attribute.lower()

        def names(path: str) -> bool:
            tail = path.lower().rsplit(":", 1)[-1]
            return tail == name or tail.startswith(name + ".") or tail.startswith(name + "[")

        if any(names(p) for p in self.excluded):
            return False
        return not self.attributes or any(names(p) for p in self.attributes)

    def dump(self, model: type[Any], doc: dict[str, Any]) -> dict[str, Any]:
        resource = model.model_validate(doc)
        return resource.model_dump(  # type: ignore[no-any-return]
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=self._params)


@dataclass(frozen=True, slots=True)
class Query:
    """A list or .search request."""

    filter: str = ""
    start_index: int | None = None
    count: int | None = None
    sort_by: str = ""
    sort_order: str = ""
    shape: Shape = field(default_factory=Shape)

    @property
    def offset(self) -> int:
        # RFC 7644 section 3.4.2.4: a startIndex below 1 is 1.
        return max(1, self.start_index or 1) - 1

    @property
    def limit(self) -> int:
        if self.count is None:
            return DEFAULT_COUNT
        return min(max(0, self.count), MAX_RESULTS)

    @property
    def descending(self) -> bool:
        order = self.sort_order.strip().lower()
        if order not in ("", "ascending", "descending"):
            raise bad_request("invalidValue", "sortOrder is ascending or descending")
        return order == "descending"


def list_response(resources: list[dict[str, Any]], total: int, query: Query) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "startIndex": query.offset + 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def _tags(header: str) -> set[str]:
    """Entity tags of an If-Match / If-None-Match value; weak and strong
    compare the same (RFC 7232 weak comparison)."""
    out = set()
    for part in header.split(","):
        tag = part.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        out.add(tag.strip().strip('"'))
    return out


def check_if_match(header: str, version: int) -> None:
    if not header.strip():
        return
    tags = _tags(header)
    if "*" not in tags and str(version) not in tags:
        raise PreconditionFailed("the resource has changed (If-Match does not name "
                                 "its current version)")


def check_if_none_match(header: str, version: int) -> None:
    if not header.strip():
        return
    tags = _tags(header)
    if "*" in tags or str(version) in tags:
        raise NotModified(etag(version))


def validate(model: type[Any], doc: dict[str, Any], ctx: Context) -> Any:
    try:
        return model.model_validate(doc, scim_ctx=ctx)
    except (ValidationError, SCIMException) as exc:
        raise translate(exc) from None
