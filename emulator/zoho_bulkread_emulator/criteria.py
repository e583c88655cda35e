"""Validation and evaluation of bulk read job queries, as strict as Zoho.

``compile_query`` turns a job's ``query`` object into a :class:`CompiledQuery`: the columns
to export and a predicate over record indices. Anything Zoho refuses raises
:class:`QueryError` carrying Zoho's error envelope.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from zoho_bulkread_emulator.org import (
    COMPARATORS_BY_CATEGORY,
    NOT_EXPORTABLE_TYPES,
    USER_ATTRIBUTES,
    USERS,
    Field,
    Module,
    criteria_category,
    record_state_columns,
)
from zoho_bulkread_emulator.records import ModuleData

MAX_CRITERIA = 25
MAX_IN_VALUES = 20
MAX_FIELDS = 200
MAX_PAGE = 500
EMPTY = "${EMPTY}"
DATETIME_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
DATETIME_WITH_FRACTION = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NEGATIVE_COMPARATORS = frozenset({"not_equal", "not_in", "not_contains", "not_between"})
USERS_BY_ID = {user.id: user for user in USERS}


class QueryError(Exception):
    """A job request Zoho would refuse; ``envelope`` is the JSON error body."""

    def __init__(self, code: str, message: str, details: dict[str, Any], status: int = 400):
        super().__init__(message)
        self.status = status
        self.envelope = {"code": code, "message": message, "details": details, "status": "error"}


VALUE_TYPE = "VALUE_TYPE_NOT_SUPPORTED"
MISMATCH = "COMPARATOR_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE"


def invalid(message: str, code: str = "INVALID_DATA", **details: Any) -> QueryError:
    """A 400 error with Zoho's ``code`` (v8 create-job codes) and ``details``."""
    return QueryError(code, message, details)


@dataclass(frozen=True)
class Column:
    """One exported column: its header, its field type and how to read it per record."""

    header: str
    field: Field
    read: Callable[[int], Any]


@dataclass(frozen=True)
class CompiledQuery:
    """A validated query: the module's data, its columns and the record filter."""

    data: ModuleData
    columns: tuple[Column, ...]
    predicate: Callable[[int], bool] | None
    page: int
    page_token: str | None
    fingerprint: str


def virtual_fields(module: Module) -> dict[str, Field]:
    """Columns a module exports that the fields metadata does not list (none for child rows)."""
    return {item.api_name: item for item in record_state_columns(module)}


def resolve_field(
    data: ModuleData, name: str, *, in_criteria: bool = False
) -> tuple[Field, Callable[[int], Any]]:
    """Resolve a field name, dot fields included, to its type and a per-record reader."""
    code = "FIELD_IN_CRITERIA_NOT_AVAILABLE" if in_criteria else "FIELD_NOT_AVAILABLE"
    base_name, _, attribute = name.partition(".")
    base = data.module.get(base_name) or virtual_fields(data.module).get(base_name)
    if base is None:
        raise invalid(f"the field {name} is not available in the module", code, api_name=name)
    if not attribute:
        return base, data.reader(base)
    if base.data_type in ("ownerlookup", "userlookup"):
        if attribute not in USER_ATTRIBUTES:
            raise invalid(f"the field {name} is not available", code, api_name=name)

        read_base = data.reader(base)

        def read_user(index: int) -> Any:
            user = USERS_BY_ID.get(read_base(index) or "")
            return None if user is None else user.value(attribute)

        return Field(name, "text"), read_user
    target = data.dataset.get(data.product, base.lookup_module or "")
    if base.data_type != "lookup" or target is None or "." in attribute:
        raise invalid(f"the field {name} cannot be resolved through a lookup", code, api_name=name)
    target_field = target.module.get(attribute)
    if target_field is None:
        raise invalid(
            f"the field {name} is not available in the lookup module", code, api_name=name
        )

    read_base, read_target = data.reader(base), target.reader(target_field)

    def read_lookup(index: int) -> Any:
        target_index = target.index_of(read_base(index) or "")
        return None if target_index is None else read_target(target_index)

    return Field(name, target_field.data_type, pick_list=target_field.pick_list), read_lookup


def _as_decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, bool):
        raise invalid(f"invalid number for {name}", VALUE_TYPE, api_name=name)
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise invalid(f"invalid number for {name}", VALUE_TYPE, api_name=name) from exc


def _as_datetime(value: Any, name: str) -> int:
    text = str(value)
    if DATETIME_WITH_FRACTION.match(text):
        raise invalid(
            f"milliseconds are not supported in the datetime value of {name}",
            VALUE_TYPE,
            api_name=name,
        )
    if not DATETIME_PATTERN.match(text):
        raise invalid(
            f"invalid datetime value for {name}: use ISO 8601 with an offset",
            VALUE_TYPE,
            api_name=name,
        )
    return int(datetime.fromisoformat(text).timestamp())


def _as_date(value: Any, name: str) -> date:
    if not DATE_PATTERN.match(str(value)):
        raise invalid(f"invalid date value for {name}", VALUE_TYPE, api_name=name)
    return date.fromisoformat(str(value))


def _as_boolean(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise invalid(f"invalid boolean value for {name}", VALUE_TYPE, api_name=name)


def _as_text(value: Any, name: str) -> str:
    if isinstance(value, (dict, list)) or len(str(value)) > 255:
        raise invalid(f"invalid text value for {name}", VALUE_TYPE, api_name=name)
    return str(value).lower()


def _as_lookup(value: Any, name: str) -> str:
    if not str(value).isdigit():
        raise invalid(f"invalid id value for lookup {name}", VALUE_TYPE, api_name=name)
    return str(value)


def _record_value(category: str, item: Field, value: Any) -> Any:
    """Turn a stored value into the comparable form of its category."""
    if value is None:
        return None
    if category == "number":
        return Decimal(value)
    if category == "text":
        if isinstance(value, list):
            return (";" if item.data_type == "multiselectpicklist" else ",").join(value).lower()
        return str(value).lower()
    return value


CONVERTERS: dict[str, Callable[[Any, str], Any]] = {
    "number": _as_decimal,
    "text": _as_text,
    "boolean": _as_boolean,
    "lookup": _as_lookup,
}


def compare(comparator: str, actual: Any, expected: Any) -> bool:
    """Whether ``actual`` meets ``comparator`` against ``expected`` (both comparable)."""
    if comparator == "equal":
        return bool(actual == expected)
    if comparator == "not_equal":
        return bool(actual != expected)
    if comparator == "in":
        return actual in expected
    if comparator == "not_in":
        return actual not in expected
    if comparator == "contains":
        return expected in actual
    if comparator == "not_contains":
        return expected not in actual
    if comparator == "starts_with":
        return bool(actual.startswith(expected))
    if comparator == "ends_with":
        return bool(actual.endswith(expected))
    if comparator == "between":
        return bool(expected[0] <= actual <= expected[1])
    if comparator == "not_between":
        return not expected[0] <= actual <= expected[1]
    if comparator == "greater_than":
        return bool(actual > expected)
    if comparator == "greater_equal":
        return bool(actual >= expected)
    if comparator == "less_than":
        return bool(actual < expected)
    return bool(actual <= expected)  # less_equal


def category_of(name: str, item: Field) -> str | None:
    """The comparator category of a criteria field (Tag compares as text), or None."""
    return "text" if name == "Tag" else criteria_category(item.data_type)


def converter_for(category: str, item: Field) -> Callable[[Any, str], Any]:
    """How an expected value of a criteria field is checked and made comparable."""
    if category == "date":
        return _as_datetime if item.data_type == "datetime" else _as_date
    return CONVERTERS[category]


def predicate_of(
    category: str, item: Field, read: Callable[[int], Any], comparator: str, expected: Any
) -> Callable[[int], bool]:
    """Whether a record's value of ``item`` meets ``comparator`` against ``expected``.

    An empty value meets only the negative comparators; ``${EMPTY}`` asks for empty values.
    """
    negative = comparator in NEGATIVE_COMPARATORS

    def predicate(index: int) -> bool:
        actual = _record_value(category, item, read(index))
        if expected is EMPTY:
            return (actual is None) != negative
        if actual is None:
            return negative
        return compare(comparator, actual, expected)

    return predicate


class CriteriaCompiler:
    """Compiles a criteria tree of one API version into a predicate over record indices."""

    def __init__(self, data: ModuleData, nested: bool) -> None:
        self.data = data
        self.nested = nested
        self.leaves = 0

    def compile(self, node: Any) -> Callable[[int], bool]:
        """Validate ``node`` (a group or a leaf) and return its predicate."""
        if not isinstance(node, dict):
            raise invalid("criteria must be a JSON object", "INVALID_CRITERIA", api_name="criteria")
        if "group" in node or "group_operator" in node:
            return self._group(node)
        return self._leaf(node)

    def _group(self, node: dict[str, Any]) -> Callable[[int], bool]:
        operator = str(node.get("group_operator", "")).lower()
        members = node.get("group")
        if operator not in ("and", "or"):
            raise invalid(
                f"the group_operator {str(node.get('group_operator'))[:40]!r} is not supported; "
                "use and or or",
                "GROUP_OPERATOR_NOT_SUPPORTED",
                api_name="group_operator",
            )
        if not isinstance(members, list) or not members:
            raise invalid(
                "a criteria group needs a non-empty group", "INVALID_CRITERIA", api_name="group"
            )
        predicates = [self.compile(member) for member in members]
        if operator == "and":
            return lambda index: all(p(index) for p in predicates)
        return lambda index: any(p(index) for p in predicates)

    def _field_name(self, node: dict[str, Any]) -> str:
        if self.nested:
            if "api_name" in node or not isinstance(node.get("field"), dict):
                raise invalid(
                    'from v3 on a criteria leaf names its field as {"field": {"api_name": ...}}',
                    "INVALID_CRITERIA",
                    api_name="field",
                )
            name = node["field"].get("api_name")
        else:
            if "field" in node or "api_name" not in node:
                raise invalid(
                    'in v2 a criteria leaf names its field as "api_name"',
                    "INVALID_CRITERIA",
                    api_name="api_name",
                )
            name = node["api_name"]
        if not isinstance(name, str) or not name:
            raise invalid(
                "a criteria field needs an api_name", "INVALID_CRITERIA", api_name="api_name"
            )
        return name

    def _leaf(self, node: dict[str, Any]) -> Callable[[int], bool]:
        self.leaves += 1
        name = self._field_name(node)
        comparator = node.get("comparator")
        if "value" not in node or not isinstance(comparator, str):
            raise invalid(
                "a criteria leaf needs comparator and value", "INVALID_CRITERIA", api_name=name
            )
        item, read = resolve_field(self.data, name, in_criteria=True)
        if item.data_type == "textarea":
            raise invalid(
                f"multi-line field {name} cannot be used in criteria",
                "FIELD_IN_CRITERIA_NOT_SUPPORTED",
                api_name=name,
            )
        category = category_of(name, item)
        if category is None:
            raise invalid(
                f"the field {name} cannot be used in criteria",
                "FIELD_IN_CRITERIA_NOT_SUPPORTED",
                api_name=name,
            )
        if comparator not in COMPARATORS_BY_CATEGORY[category]:
            raise invalid(
                f"the comparator {comparator} is not supported for the field {name}",
                "FIELD_COMPARATOR_IN_CRITERIA_NOT_SUPPORTED",
                api_name=name,
                comparator=comparator,
            )
        expected = self._expected(node["value"], comparator, name, converter_for(category, item))
        return predicate_of(category, item, read, comparator, expected)

    @staticmethod
    def _expected(
        value: Any, comparator: str, name: str, convert: Callable[[Any, str], Any]
    ) -> Any:
        if value == EMPTY:
            if comparator not in ("equal", "not_equal"):
                raise invalid(
                    f"${{EMPTY}} only works with equal and not_equal ({name})",
                    MISMATCH,
                    api_name=name,
                )
            return EMPTY
        if comparator in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                raise invalid(
                    f"{comparator} takes a JSON array of values ({name})", MISMATCH, api_name=name
                )
            if len(value) > MAX_IN_VALUES:
                raise QueryError(
                    "VALUE_LIMIT_EXCEEDED_IN_CRITERIA",
                    f"{comparator} takes at most {MAX_IN_VALUES} values",
                    {"api_name": name, "limit": MAX_IN_VALUES},
                )
            return [convert(v, name) for v in value]
        if comparator in ("between", "not_between"):
            if not isinstance(value, list) or len(value) != 2:
                raise invalid(
                    f"{comparator} takes an array of two values ({name})", MISMATCH, api_name=name
                )
            return [convert(v, name) for v in value]
        if isinstance(value, list):
            raise invalid(f"{comparator} takes a single value ({name})", MISMATCH, api_name=name)
        return convert(value, name)


def export_columns(data: ModuleData, requested: list[str] | None) -> tuple[Column, ...]:
    """The CSV columns of an export: ``Id``, the fields asked for (or all), system columns."""
    columns: list[Column] = [Column("Id", Field("Id", "bigint"), data.id_of)]
    if requested is None or len(requested) > MAX_FIELDS:
        names = [
            f.api_name
            for f in data.module.fields
            if f.data_type not in NOT_EXPORTABLE_TYPES and not f.bulk_refused
        ]
    else:
        names = list(dict.fromkeys(n for n in requested if n not in ("Id", "id")))
    for name in names:
        item, read = resolve_field(data, name)
        if item.data_type in NOT_EXPORTABLE_TYPES or item.bulk_refused:
            raise invalid(
                f"the field {name} cannot be exported by bulk read",
                "FIELD_NOT_SUPPORTED",
                api_name=name,
            )
        columns.append(Column(name, item, read))
    for name, item in virtual_fields(data.module).items():
        if name not in names:
            columns.append(Column(name, item, data.reader(item)))
    return tuple(columns)
