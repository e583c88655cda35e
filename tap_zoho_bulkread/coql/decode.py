"""COQL's JSON values -> the values the bulk path's CSV decoder gives the same records.

The Query API answers in the records API's JSON shapes (numbers as JSON numbers, lookups as
``{"id": ...}``, multi-selects as arrays, tags as ``[{"name": ...}]``); a bulk export writes
every value as CSV text. Each kind's ``coql`` reading (``bulk.kinds``) yields exactly what
``bulk.decode`` yields for the cell Zoho writes for that value: ids as strings, exact decimals
(numbers are parsed as ``Decimal``, never as float), UTC datetimes, empty values as null. Here:
the scale of a number field, and lookup dot fields.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tap_zoho_bulkread.bulk.kinds import (
    KIND_NUMBER,
    NotAValue,
    json_number,
    json_text,
    kind_of,
)

__all__ = ["NoScale", "NotAValue", "converter", "dot_field_converter", "scaled"]


class NoScale(Exception):
    """A number for a text property (a lookup dot field): its CSV text's scale is not known."""


def scaled(places: int) -> Callable[[Any], Any]:
    """A number given the field's ``decimal_place`` scale: JSON has none (``10.1`` for 10.10).

    Bulk read's CSV writes the scale (``10.10``, ``1.000000000``); a JSON value with more
    decimals than that is kept as Zoho wrote it, never rounded.
    """
    exponent = Decimal(1).scaleb(-places)

    def number(value: Any) -> Decimal:
        found = json_number(value)
        places_given = found.as_tuple().exponent
        if isinstance(places_given, int) and -places_given <= places:
            return found.quantize(exponent)
        return found

    return number


def _dot_text(value: Any) -> str | None:
    """A lookup dot field's value as its CSV cell; a number's decimals cannot be known."""
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        raise NoScale(repr(value)[:60])
    return json_text(value)


def dot_field_converter() -> Callable[[Any], Any]:
    """How a JSON value of a lookup dot field becomes its CSV text (null stays null).

    The target field's ``decimal_place`` is not in the stream's metadata, so a number
    (``12.3`` for the CSV's ``12.30``) raises :class:`NoScale`: the read takes a bulk job.
    """

    def value_of(value: Any) -> str | None:
        return None if value is None else _dot_text(value)

    return value_of


def converter(kind: str, scale: int | None = None) -> Callable[[Any], Any]:
    """How a JSON value of a property of ``kind`` becomes the record's value (null stays null).

    ``scale``: a number field's ``decimal_place``, written as bulk read writes it.
    """
    convert: Callable[[Any], Any] = kind_of(kind).coql
    if kind == KIND_NUMBER and scale is not None:
        convert = scaled(scale)

    def value_of(value: Any) -> Any:
        return None if value is None else convert(value)

    return value_of
