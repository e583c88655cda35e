"""COQL's JSON values -> the values the bulk path's CSV decoder gives the same records.

The Query API answers in the records API's JSON shapes (numbers as JSON numbers, lookups as
``{"id": ...}``, multi-selects as arrays, tags as ``[{"name": ...}]``); a bulk export writes
every value as CSV text. Each kind below yields exactly what ``bulk.decode`` yields for the
cell Zoho writes for that value: ids as strings, exact decimals (numbers are parsed as
``Decimal``, never as float), UTC datetimes, empty values as null.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, NoReturn

from tap_zoho_bulkread.bulk.decode import INTEGER_TEXT, NUMBER_TEXT, iso_date
from tap_zoho_bulkread.bulk.metadata import (
    KIND_BOOLEAN,
    KIND_DATE,
    KIND_DATETIME,
    KIND_INTEGER,
    KIND_MULTI,
    KIND_NUMBER,
    KIND_TAGS,
)
from tap_zoho_bulkread.times import utc_datetime


class NotAValue(ValueError):
    """A JSON value that is not one of the kind's shapes."""


class NoScale(Exception):
    """A number for a text property (a lookup dot field): its CSV text's scale is not known."""


def _refuse(value: Any) -> NoReturn:
    raise NotAValue(repr(value)[:60])


def _text(value: Any) -> str | None:
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
    return _refuse(value)


def _integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and INTEGER_TEXT(value):
        return int(value)
    return _refuse(value)


def _number(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str) and NUMBER_TEXT(value):
        return Decimal(value)
    return _refuse(value)


def _boolean(value: Any) -> bool:
    return value if isinstance(value, bool) else _refuse(value)


def _datetime(value: Any) -> str:
    return utc_datetime(value) if isinstance(value, str) else _refuse(value)


def _a_date(value: Any) -> str:
    return iso_date(value) if isinstance(value, str) else _refuse(value)


def _multi(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value or None
    return _refuse(value)


def _tags(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return _refuse(value)
    names: list[str] = []
    for entry in value:
        name = entry.get("name") if isinstance(entry, dict) else entry
        if not isinstance(name, str) or not name:
            _refuse(value)
        names.append(name)
    return names or None


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    KIND_INTEGER: _integer,
    KIND_NUMBER: _number,
    KIND_BOOLEAN: _boolean,
    KIND_DATETIME: _datetime,
    KIND_DATE: _a_date,
    KIND_MULTI: _multi,
    KIND_TAGS: _tags,
}


def scaled(places: int) -> Callable[[Any], Any]:
    """A number given the field's ``decimal_place`` scale: JSON has none (``10.1`` for 10.10).

    Bulk read's CSV writes the scale (``10.10``, ``1.000000000``); a JSON value with more
    decimals than that is kept as Zoho wrote it, never rounded.
    """
    exponent = Decimal(1).scaleb(-places)

    def number(value: Any) -> Decimal:
        found = _number(value)
        places_given = found.as_tuple().exponent
        if isinstance(places_given, int) and -places_given <= places:
            return found.quantize(exponent)
        return found

    return number


def _dot_text(value: Any) -> str | None:
    """A lookup dot field's value as its CSV cell; a number's decimals cannot be known."""
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        raise NoScale(repr(value)[:60])
    return _text(value)


def dot_field_converter() -> Callable[[Any], Any]:
    """How a JSON value of a lookup dot field becomes its CSV text (null stays null).

    The target field's ``decimal_place`` is not in the stream's metadata, so a number
    (``12.3`` for the CSV's ``12.30``) raises :class:`NoScale`: the read takes a bulk job.
    """
    return lambda value: None if value is None else _dot_text(value)


def converter(kind: str, scale: int | None = None) -> Callable[[Any], Any]:
    """How a JSON value of a property of ``kind`` becomes the record's value (null stays null).

    ``scale``: a number field's ``decimal_place``, written as bulk read writes it.
    """
    convert: Callable[[Any], Any] = CONVERTERS.get(kind, _text)
    if kind == KIND_NUMBER and scale is not None:
        convert = scaled(scale)

    def value_of(value: Any) -> Any:
        return None if value is None else convert(value)

    return value_of
