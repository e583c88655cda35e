"""Every kind of field value, named once: its JSON schema and how each decoder reads it.

A Zoho field's data type maps to one kind (``metadata.field_kind``). Each :class:`FieldKind`
says, in one entry, how its value is written in the stream's schema, how the CSV decoder turns
a cell into it (``csv``: an expression of the generated row decoder), how the Arrow decoder
converts a whole column of it (``arrow``: one of the conversions ``columnar`` has, or None to
go cell by cell through ``csv``), and how a Query API JSON value becomes the same value
(``coql``). A new kind, or a new rule for one, is one :func:`register` call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, NoReturn

from tap_zoho_bulkread.times import utc_datetime

KIND_STRING = "string"
KIND_INTEGER = "integer"
KIND_NUMBER = "number"
KIND_BOOLEAN = "boolean"
KIND_DATE = "date"
KIND_DATETIME = "datetime"
KIND_MULTI = "multi"  # ';'-joined multi-select picklist
KIND_TAGS = "tags"  # ','-joined tag names

# The Arrow decoder's whole-column conversions (``columnar._vectorised``).
ARROW_AS_JSON = "as_json"  # every cell has ``arrow_shape``: its text is the JSON value
ARROW_BOOLEAN = "boolean"
ARROW_DATE = "date"
ARROW_DATETIME = "datetime"
ARROW_TEXT = "text"
ARROW_LIST = "list"  # split on ``separator``; cells matching ``arrow_untidy`` go cell by cell

BOOLEANS = {"true": True, "false": False}
INTEGER_TEXT = re.compile(r"-?[0-9]+").fullmatch
NUMBER_TEXT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?").fullmatch
MAX_CACHED_DATES = 100_000
DATES: dict[str, str] = {}


class NotAValue(ValueError):
    """A value that is not one of the kind's shapes."""


def refuse(text: str) -> NoReturn:
    """Refuse a CSV cell the kind has no reading of."""
    raise ValueError(f"not a plain decimal literal: {text!r:.40}")


def not_a_value(value: Any) -> NoReturn:
    """Refuse a JSON value the kind has no reading of."""
    raise NotAValue(repr(value)[:60])


def iso_date(text: str) -> str:
    """A valid ISO 8601 date in its canonical form (remembered, as dates repeat)."""
    if not text.isascii():
        raise ValueError(f"not an ISO 8601 date: {text!r:.40}")
    canonical = date.fromisoformat(text).isoformat()
    if len(DATES) >= MAX_CACHED_DATES:
        DATES.clear()
    DATES[text] = canonical
    return canonical


def tag_names(text: str) -> list[str]:
    """A CSV cell of tags (``a,b``, ``a, b``) as their names."""
    tags = text.split(",")
    if " " in text:
        tags = [tag.strip() for tag in tags]
    return [tag for tag in tags if tag] if "" in tags else tags


# -- the Query API's JSON values, as bulk read's CSV decoder gives them ------------------------


def json_text(value: Any) -> str | None:
    """A string property: text, a lookup's id, or a dot field's value as its CSV cell."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"] or None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ";".join(value) or None
    return not_a_value(value)


def json_integer(value: Any) -> int:
    """An integer: a JSON integer, or its text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and INTEGER_TEXT(value):
        return int(value)
    return not_a_value(value)


def json_number(value: Any) -> Decimal:
    """An exact decimal: JSON numbers are parsed as ``Decimal``, never as float."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str) and NUMBER_TEXT(value):
        return Decimal(value)
    return not_a_value(value)


def json_boolean(value: Any) -> bool:
    """A JSON boolean."""
    return value if isinstance(value, bool) else not_a_value(value)


def json_datetime(value: Any) -> str:
    """A datetime, in UTC."""
    return utc_datetime(value) if isinstance(value, str) else not_a_value(value)


def json_date(value: Any) -> str:
    """A date, in its canonical form."""
    return iso_date(value) if isinstance(value, str) else not_a_value(value)


def json_multi(value: Any) -> list[str] | None:
    """A multi-select picklist: a JSON array of strings (empty: null)."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value or None
    return not_a_value(value)


def json_tags(value: Any) -> list[str] | None:
    """Tags: ``[{"name": ...}]`` (or names) as their names (none: null)."""
    if not isinstance(value, list):
        return not_a_value(value)
    names: list[str] = []
    for entry in value:
        name = entry.get("name") if isinstance(entry, dict) else entry
        if not isinstance(name, str) or not name:
            not_a_value(value)
        names.append(name)
    return names or None


@dataclass(frozen=True)
class FieldKind:
    """One kind of value, as the schema, the CSV, Arrow and the Query API decoders have it.

    ``csv`` turns a non-empty cell ``{v}`` into the value, as an expression of the generated
    row decoder (None: the text as it is); ``csv_raw`` is the same with ``raw_numbers`` (a
    number valid as JSON text stays its text, as msgspec ``Raw``); ``helpers`` are names the
    expressions use. ``arrow`` names the Arrow decoder's whole-column conversion, for columns
    whose every cell matches ``arrow_shape`` (None: the Arrow decoder goes cell by cell
    through ``csv``). ``coql`` turns a Query API JSON value (not null) into the same value.
    """

    name: str
    schema: Mapping[str, Any]
    coql: Callable[[Any], Any]
    csv: str | None = None
    csv_raw: str | None = None
    helpers: Mapping[str, Any] = field(default_factory=dict)
    arrow: str | None = None
    arrow_shape: str | None = None
    separator: str = ""
    arrow_untidy: str | None = None


KINDS: dict[str, FieldKind] = {}


def register(kind: FieldKind) -> FieldKind:
    """Add (or replace) a kind: every decoder reads it from here."""
    KINDS[kind.name] = kind
    return kind


def kind_of(name: str) -> FieldKind:
    """The kind named ``name``; an unknown name is text."""
    return KINDS.get(name) or KINDS[KIND_STRING]


# tags the strict decoder may strip (whitespace as str.isspace() sees it) or drop (empty ones)
_SPACE = r"[\t\n\x0b\x0c\r\x1c-\x1f\x85\p{Z}]"
_UNTIDY_TAGS = rf"^,|,,|,$|^{_SPACE}|{_SPACE}$|{_SPACE},|,{_SPACE}"
_LIST_SCHEMA = {"type": ["array", "null"], "items": {"type": "string"}}

register(FieldKind(KIND_STRING, {"type": ["string", "null"]}, json_text, arrow=ARROW_TEXT))
register(
    FieldKind(
        KIND_INTEGER,
        {"type": ["integer", "null"]},
        json_integer,
        csv="(int({v}) if INTEGER({v}) else refuse({v}))",
        # the common case (no sign, no leading zero) by string methods, the rest by patterns
        csv_raw="(Raw({v}) if {v}[0] in NONZERO and {v}.isascii() and {v}.isdigit() else "
        "Raw({v}) if JSON_INTEGER({v}) else int({v}) if INTEGER({v}) else refuse({v}))",
        arrow=ARROW_AS_JSON,
        arrow_shape=r"^-?(?:0|[1-9][0-9]*)$",
    )
)
register(
    FieldKind(
        KIND_NUMBER,
        {"type": ["number", "null"]},
        json_number,
        csv="(Decimal({v}) if NUMBER({v}) else refuse({v}))",
        csv_raw="(Raw({v}) if {v}[0] in NONZERO and {v}[-1] != '.' and {v}.isascii() and "
        "{v}.replace('.', '', 1).isdigit() else Raw({v}) if JSON_NUMBER({v}) else "
        "Decimal({v}) if NUMBER({v}) else refuse({v}))",
        arrow=ARROW_AS_JSON,
        arrow_shape=r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$",
    )
)
register(
    FieldKind(
        KIND_BOOLEAN,
        {"type": ["boolean", "null"]},
        json_boolean,
        csv="BOOLEANS[{v}]",
        arrow=ARROW_BOOLEAN,
    )
)
register(
    FieldKind(
        KIND_DATE,
        {"type": ["string", "null"], "format": "date"},
        json_date,
        csv="(DATES.get({v}) or iso_date({v}))",
        arrow=ARROW_DATE,
        arrow_shape=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    )
)
register(
    FieldKind(
        KIND_DATETIME,
        {"type": ["string", "null"], "format": "date-time"},
        json_datetime,
        csv="utc_datetime({v})",
        arrow=ARROW_DATETIME,
        # offsets as ISO 8601 and Zoho have them
        arrow_shape=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
        r"[+-](?:0[0-9]|1[0-4]):[0-5][0-9]$",
    )
)
register(
    FieldKind(
        KIND_MULTI, _LIST_SCHEMA, json_multi, csv="{v}.split(';')", arrow=ARROW_LIST, separator=";"
    )
)
register(
    FieldKind(
        KIND_TAGS,
        _LIST_SCHEMA,
        json_tags,
        csv="tag_names({v})",
        arrow=ARROW_LIST,
        separator=",",
        arrow_untidy=_UNTIDY_TAGS,
    )
)
