"""SCIM filters (RFC 7644 section 3.4.2.2) as SQL.

scim2-models parses the filter; `compile_filter` walks its syntax tree and
builds one SQLAlchemy condition, so filtering, counting and paging run in the
database. Rules that keep SQL's NULLs from changing the answer:
* every comparison is `col IS NOT NULL AND ...`, never NULL itself, so `not`
  means what the RFC means (an unassigned attribute is "not equal");
* attributes with caseExact false compare lower() of both sides; userName
  compares its stored folded key (users.user_key, the ux_users_user_key
  index) with the key of the value, so case, width and Unicode
  normalisation match as a login does, on SQLite too;
* a multi-valued attribute matches when some value matches: EXISTS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scim2_models import SCIMException, ScimFilter
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from scim2_models.path.visitor import FilterVisitor
from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)

from authcore.errors import AuthcoreError
from authcore.identifiers import username_key
from authcore.scim.errors import bad_request, translate
from authcore.scim.schema import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA, ScimGroup
from authcore.scim.store import MULTI_VALUED, USER_COLUMNS
from authcore.store.models import Group, GroupMember, User, UserValue

Condition = ColumnElement[bool]
_O = CompareOperator


@dataclass(frozen=True, slots=True)
class Scalar:
    """A column and how SCIM compares it."""

    column: Any
    kind: str = "string"        # string | boolean | datetime
    case_exact: bool = False
    # A column holding keys already folded, and how to fold the value to
    # compare (userName: users.user_key and username_key).
    fold: Callable[[str], str] | None = None


@dataclass(frozen=True, slots=True)
class Multi:
    """A multi-valued attribute: sub-attribute name (lower-case) -> Scalar,
    the default sub-attribute, and how to wrap a per-value condition."""

    subs: Mapping[str, Scalar]
    default: str
    wrap: Callable[[Condition], Condition]


Target = Scalar | Multi


def _user_value_exists(attribute: str) -> Callable[[Condition], Condition]:
    def wrap(inner: Condition) -> Condition:
        return exists(select(literal(1)).where(
            UserValue.user_pk == User.pk, UserValue.attribute == attribute, inner))
    return wrap


def _user_groups_exists(inner: Condition) -> Condition:
    return exists(select(literal(1)).select_from(GroupMember)
                  .join(Group, Group.id == GroupMember.group_id)
                  .where(GroupMember.member_id == User.pk, inner))


def _group_members_exists(inner: Condition) -> Condition:
    return exists(select(literal(1)).where(GroupMember.group_id == Group.id, inner))


def _user_targets() -> dict[str, Target]:
    out: dict[str, Target] = {
        "id": Scalar(User.pk, case_exact=True),
        "meta.created": Scalar(User.created_at, "datetime"),
        "meta.lastmodified": Scalar(func.coalesce(User.updated_at, User.created_at), "datetime"),
    }
    for path, column in USER_COLUMNS:
        kind = "boolean" if column == "active" else "string"
        exact = column in ("external_id", "manager_id")
        out[path.lower()] = Scalar(getattr(User, column), kind, exact)
    out["username"] = Scalar(User.user_key, fold=username_key)
    for attribute, subs in MULTI_VALUED.items():
        scalars = {
            name.lower(): Scalar(getattr(UserValue, column),
                                 "boolean" if name == "primary" else "string")
            for name, column in subs.items()
        }
        default = "formatted" if attribute == "addresses" else "value"
        out[attribute.lower()] = Multi(scalars, default, _user_value_exists(attribute))
    out["groups"] = Multi(
        {"value": Scalar(GroupMember.group_id, case_exact=True),
         "display": Scalar(Group.display_name),
         "type": Scalar(literal("direct"))},
        "value", _user_groups_exists)
    return out


def _group_targets() -> dict[str, Target]:
    return {
        "id": Scalar(Group.id, case_exact=True),
        "externalid": Scalar(Group.external_id, case_exact=True),
        "displayname": Scalar(Group.display_name),
        "meta.created": Scalar(Group.created_at, "datetime"),
        "meta.lastmodified": Scalar(Group.updated_at, "datetime"),
        "members": MEMBER_TARGET,
    }


MEMBER_TARGET = Multi(
    {"value": Scalar(GroupMember.member_id, case_exact=True),
     "type": Scalar(GroupMember.member_type)},
    "value", _group_members_exists)

USER_TARGETS = _user_targets()
GROUP_TARGETS = _group_targets()
def _core_urn(model: type[Any]) -> str:
    return GROUP_SCHEMA if model is ScimGroup else USER_SCHEMA


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _datetime(value: Any, path: str) -> float:
    if not isinstance(value, str):
        raise bad_request("invalidFilter", f"{path} compares with a dateTime string")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise bad_request("invalidFilter", f"{value!r} is not a dateTime") from None


def compare(target: Scalar, op: CompareOperator, value: Any, path: str) -> Condition:
    col = target.column
    if value is None:  # "title eq null": unassigned
        if op == _O.eq:
            return col.is_(None)  # type: ignore[no-any-return]
        if op == _O.ne:
            return col.is_not(None)  # type: ignore[no-any-return]
        raise bad_request("invalidFilter", f"{op.value} cannot compare with null")
    if target.kind == "boolean":
        if not isinstance(value, bool) or op not in (_O.eq, _O.ne):
            raise bad_request("invalidFilter", f"{path} is boolean: use eq or ne with true/false")
        matched: Condition = and_(col.is_not(None), col == value)
    elif target.kind == "datetime":
        if op in (_O.co, _O.sw, _O.ew):
            raise bad_request("invalidFilter", f"{op.value} does not apply to dateTime {path}")
        matched = and_(col.is_not(None), _datetime_compare(col, op, _datetime(value, path)))
    else:
        if not isinstance(value, str):
            raise bad_request("invalidFilter", f"{path} compares with a string")
        if target.fold is not None:
            left, right = col, target.fold(value)
        else:
            left = col if target.case_exact else func.lower(col)
            right = value if target.case_exact else value.lower()
        if op == _O.co:
            cond = left.like(f"%{_escape_like(right)}%", escape="\\")
        elif op == _O.sw:
            cond = left.like(f"{_escape_like(right)}%", escape="\\")
        elif op == _O.ew:
            cond = left.like(f"%{_escape_like(right)}", escape="\\")
        else:
            cond = _ordered(left, op, right)
        matched = and_(col.is_not(None), cond)
    return not_(matched) if op == _O.ne else matched


# Times are served to the millisecond (truncated) but stored as float epoch
# seconds: a served value v stands for every stored t in [v, v + 1 ms), so a
# client comparing with a value it read gets the answer it expects.
_MS = 0.001


def _datetime_compare(col: Any, op: CompareOperator, v: float) -> Condition:
    if op in (_O.eq, _O.ne):
        return and_(col >= v, col < v + _MS)
    if op == _O.gt:
        return col >= v + _MS  # type: ignore[no-any-return]
    if op == _O.ge:
        return col >= v  # type: ignore[no-any-return]
    if op == _O.lt:
        return col < v  # type: ignore[no-any-return]
    return col < v + _MS  # type: ignore[no-any-return]


def _ordered(left: Any, op: CompareOperator, right: Any) -> Condition:
    if op in (_O.eq, _O.ne):
        return left == right  # type: ignore[no-any-return]
    if op == _O.gt:
        return left > right  # type: ignore[no-any-return]
    if op == _O.ge:
        return left >= right  # type: ignore[no-any-return]
    if op == _O.lt:
        return left < right  # type: ignore[no-any-return]
    return left <= right  # type: ignore[no-any-return]


def present(target: Scalar) -> Condition:
    col = target.column
    if target.kind == "string":
        return and_(col.is_not(None), col != "")
    return col.is_not(None)  # type: ignore[no-any-return]


class _Compiler(FilterVisitor[Condition]):
    """Compiles against one table of targets: a resource's, or (inside a
    value path) a multi-valued attribute's sub-attributes."""

    def __init__(self, targets: Mapping[str, Target], *, inner: bool = False,
                 core_urn: str = "") -> None:
        self.targets = targets
        self.inner = inner
        # The resource's own schema URN, which may prefix its attributes.
        self.core_urn = core_urn.lower()

    def _resolve(self, path: AttrPath) -> tuple[Target, str | None, str]:
        name = str(path)
        if path.uri is not None:
            uri = path.uri.lower()
            if uri == ENTERPRISE_SCHEMA.lower():
                key = f"{ENTERPRISE_SCHEMA.lower()}:{path.attr.lower()}"
            elif uri == self.core_urn and not self.inner:
                key = path.attr.lower()
            else:
                raise bad_request("invalidFilter", f"unknown attribute {name}")
        else:
            key = path.attr.lower()
        sub = path.sub_attr.lower() if path.sub_attr else None
        if sub is not None and f"{key}.{sub}" in self.targets:
            return self.targets[f"{key}.{sub}"], None, name
        target = self.targets.get(key)
        if target is None:
            raise bad_request("invalidFilter", f"unknown attribute {name}")
        return target, sub, name

    def _scalar(self, path: AttrPath
                ) -> tuple[Scalar, Callable[[Condition], Condition] | None, str]:
        """The compared column, and the EXISTS wrap when it is a sub-attribute
        of a multi-valued attribute."""
        target, sub, name = self._resolve(path)
        if isinstance(target, Scalar):
            if sub is not None:
                raise bad_request("invalidFilter", f"unknown attribute {name}")
            return target, None, name
        scalar = target.subs.get(sub or target.default)
        if scalar is None:
            raise bad_request("invalidFilter", f"unknown attribute {name}")
        return scalar, target.wrap, name

    def visit_comparison(self, node: Comparison) -> Condition:
        scalar, wrap, name = self._scalar(node.attr_path)
        if wrap is None:
            return compare(scalar, node.op, node.value, name)
        if node.op == _O.ne:
            # "emails ne x": no value equals x, i.e. not (some value equals x).
            return not_(wrap(compare(scalar, _O.eq, node.value, name)))
        return wrap(compare(scalar, node.op, node.value, name))

    def visit_present(self, node: Present) -> Condition:
        target, sub, name = self._resolve(node.attr_path)
        if isinstance(target, Multi):
            if sub is None:
                return target.wrap(true())
            scalar = target.subs.get(sub)
            if scalar is None:
                raise bad_request("invalidFilter", f"unknown attribute {name}")
            return target.wrap(present(scalar))
        if sub is not None:
            raise bad_request("invalidFilter", f"unknown attribute {name}")
        return present(target)

    def visit_not(self, node: Not) -> Condition:
        return not_(self.visit(node.expr))

    def visit_logical_expr(self, node: LogicalExpr) -> Condition:
        terms = [self.visit(term) for term in node.terms]
        return and_(*terms) if node.op == LogicalOperator.and_ else or_(*terms)

    def visit_value_path(self, node: ValuePath) -> Condition:
        if self.inner:
            raise bad_request("invalidFilter", "value filters cannot be nested")
        target, sub, name = self._resolve(node.attr_path)
        if not isinstance(target, Multi) or sub is not None:
            raise bad_request("invalidFilter", f"{name} is not a multi-valued attribute")
        inner = _Compiler(target.subs, inner=True).visit(node.val_filter)
        return target.wrap(inner)


MAX_FILTER_TERMS = 200


def _size(node: FilterNode) -> int:
    """Nodes in the tree, counted without recursion (trees may be deep)."""
    count, stack = 0, [node]
    while stack:
        current = stack.pop()
        count += 1
        if count > MAX_FILTER_TERMS:
            break
        if isinstance(current, LogicalExpr):
            stack.extend(current.terms)
        elif isinstance(current, Not):
            stack.append(current.expr)
        elif isinstance(current, ValuePath):
            stack.append(current.val_filter)
    return count


def parse(text: str, model: type[Any]) -> FilterNode:
    try:
        return ScimFilter[model](text).ast  # type: ignore[valid-type]
    except (SCIMException, ValueError) as exc:
        raise translate(exc) if isinstance(exc, SCIMException) else \
            bad_request("invalidFilter", str(exc)) from None
    except RecursionError:
        raise bad_request("invalidFilter", "filter is nested too deeply") from None


def compile_filter(text: str, model: type[Any], targets: Mapping[str, Target]) -> Condition:
    """The SQL condition of a SCIM filter; 400 invalidFilter when it doesn't
    parse or names an attribute that can't be filtered."""
    if not text.strip():
        return true()
    node = parse(text, model)
    _check_size(node)
    try:
        return _Compiler(targets, core_urn=_core_urn(model)).visit(node)
    except AuthcoreError:
        raise
    except (TypeError, ValueError) as exc:
        raise bad_request("invalidFilter", str(exc)) from None


def _check_size(node: FilterNode) -> None:
    if _size(node) > MAX_FILTER_TERMS:
        # Databases refuse very deep or very wide expressions (SQLite's
        # depth limit is 1000): refuse them here as the client's mistake.
        raise bad_request("invalidFilter",
                          f"filter has more than {MAX_FILTER_TERMS} terms")


def compile_member_filter(node: FilterNode) -> Condition:
    """A `members[...]` value filter as a condition on group_members rows
    (PATCH remove/replace of selected members)."""
    _check_size(node)
    return _Compiler(MEMBER_TARGET.subs, inner=True).visit(node)


def sort_column(sort_by: str, targets: Mapping[str, Target]) -> Any:
    """The column `sortBy` names. A multi-valued attribute sorts by its
    delivery (primary) value where there is one (emails, phoneNumbers)."""
    key = sort_by.strip().lower()
    urn = (USER_SCHEMA if targets is USER_TARGETS else GROUP_SCHEMA).lower()
    if key.startswith(urn + ":"):
        key = key[len(urn) + 1:]
    if key in ("emails", "emails.value") and targets is USER_TARGETS:
        return User.email
    if key in ("phonenumbers", "phonenumbers.value") and targets is USER_TARGETS:
        return User.phone
    target = targets.get(key)
    if not isinstance(target, Scalar):
        raise bad_request("invalidValue", f"cannot sort by {sort_by[:100]!r}")
    return target.column if target.case_exact or target.kind != "string" \
        or target.fold is not None else func.lower(target.column)

