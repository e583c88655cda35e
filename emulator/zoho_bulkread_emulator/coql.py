"""The Query API (COQL): ``POST /crm/v8/coql`` with ``{"select_query": "..."}``.

The part of COQL a connector uses, as strict as Zoho documents it: SELECT of up to 50 columns
(lookup dot fields allowed), FROM a module (a subform module too), WHERE with up to 25 criteria
(``=``, ``!=``, ``>``, ``>=``, ``<``, ``<=``, ``in``/``not in`` of up to 50 values, ``is null``,
``is not null``, ``between``; more than two criteria need brackets), ORDER BY up to 10 fields,
LIMIT up to 2,000 (200 by default) and OFFSET, 100,000 records in all. Values come in the
records API's JSON shapes: numbers as JSON numbers, lookups as ``{"id": ...}``, multi-selects
as arrays, tags as ``[{"name": ..., "id": ...}]``, datetimes in the org's zone with offset.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from zoho_bulkread_emulator.criteria import (
    QueryError,
    category_of,
    compare,
    converter_for,
    predicate_of,
    resolve_field,
)
from zoho_bulkread_emulator.org import MULTI_LOOKUP_TYPES, Field
from zoho_bulkread_emulator.records import Dataset, ModuleData, format_datetime, in_record_set

MAX_COLUMNS = 50
TAG_ID_BASE = 4876543000000300000
MAX_CRITERIA = 25
MAX_IN_VALUES = 50
MAX_ORDER_BY = 10
MAX_LIMIT = 2000
DEFAULT_LIMIT = 200
MAX_REACH = 100_000  # OFFSET + LIMIT
NUMBER_TYPES = frozenset({"double", "currency", "percent", "decimal", "rollup_summary"})
NOT_QUERYABLE = MULTI_LOOKUP_TYPES | {"subform", "imageupload"}
COMPARATORS = {
    "=": "equal",
    "!=": "not_equal",
    ">": "greater_than",
    ">=": "greater_equal",
    "<": "less_than",
    "<=": "less_equal",
}
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<name>[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)?)"
    r"|(?P<symbol>>=|<=|!=|=|>|<|\(|\)|,))"
)
_NUMBER_MARK = "\x00number:"


def syntax_error(near: str) -> QueryError:
    """Zoho's answer to a query it cannot parse."""
    return QueryError("SYNTAX_ERROR", "error occured while parsing the query", {"near": near[:40]})


def limit_exceeded(what: str, limit: int) -> QueryError:
    """Zoho's answer to a query past one of its documented limits."""
    return QueryError("LIMIT_EXCEEDED", f"{what} exceeds the limit of {limit}", {"limit": limit})


def invalid_query(message: str, **details: Any) -> QueryError:
    """Zoho's answer to a query that parses but names something it refuses."""
    return QueryError("INVALID_QUERY", message, details)


@dataclass(frozen=True)
class Token:
    """One token of a query."""

    kind: str  # string, number, name, symbol
    text: str


def tokenize(query: str) -> list[Token]:
    """The query's tokens; anything else in it is a syntax error."""
    tokens, position = [], 0
    query = query.rstrip()
    while position < len(query):
        match = _TOKEN.match(query, position)
        if match is None or match.end() == position:
            raise syntax_error(query[position:].strip())
        kind = match.lastgroup or "symbol"
        tokens.append(Token(kind, match.group(kind)))
        position = match.end()
    return tokens


Predicate = Callable[[int], bool]


class Parser:
    """One SELECT query parsed and checked against a module's fields."""

    def __init__(self, dataset: Dataset, product: str, query: str) -> None:
        self.dataset = dataset
        self.product = product
        self.tokens = tokenize(query)
        self.at = 0
        self.criteria = 0

    # -- tokens -------------------------------------------------------------------------

    def _peek(self) -> Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _keyword(self, *words: str) -> bool:
        """Take the keywords ``words`` if they come next (case does not matter)."""
        ahead = self.tokens[self.at : self.at + len(words)]
        if len(ahead) == len(words) and all(
            t.kind == "name" and t.text.lower() == w for t, w in zip(ahead, words, strict=True)
        ):
            self.at += len(words)
            return True
        return False

    def _expect(self, *words: str) -> None:
        if not self._keyword(*words):
            raise syntax_error(self._near())

    def _symbol(self, symbol: str) -> bool:
        token = self._peek()
        if token is not None and token.kind == "symbol" and token.text == symbol:
            self.at += 1
            return True
        return False

    def _near(self) -> str:
        token = self._peek()
        return token.text if token is not None else "end of query"

    def _take(self, kind: str) -> str:
        token = self._peek()
        if token is None or token.kind != kind:
            raise syntax_error(self._near())
        self.at += 1
        return token.text

    # -- the query ----------------------------------------------------------------------

    def parse(self) -> Query:
        """The checked query, ready to run."""
        self._expect("select")
        columns = [self._take("name")]
        while self._symbol(","):
            columns.append(self._take("name"))
        self._expect("from")
        module_name = self._take("name")
        data = self.dataset.get(self.product, module_name)
        if data is None or not data.module.api_supported:
            raise invalid_query("invalid module given", module=module_name)
        self.data = data
        selected = self._columns(columns)
        predicate = self._condition() if self._keyword("where") else None
        order = self._order() if self._keyword("order", "by") else []
        offset, limit = self._limit()
        if self._peek() is not None:
            raise syntax_error(self._near())
        return Query(data, selected, predicate, order, offset, limit)

    def _columns(self, names: list[str]) -> list[tuple[str, Field, Callable[[int], Any]]]:
        if len(names) > MAX_COLUMNS:
            raise limit_exceeded("the number of selected columns", MAX_COLUMNS)
        if len(set(names)) != len(names):
            raise QueryError("DUPLICATE_DATA", "duplicate column given", {})
        return [(name, *self._field(name)) for name in names]

    def _field(self, name: str) -> tuple[Field, Callable[[int], Any]]:
        if name == "id":
            return Field("id", "bigint"), self.data.id_of
        try:
            item, read = resolve_field(self.data, name)
        except QueryError:
            raise invalid_query("invalid column given", column_name=name) from None
        if item.data_type in NOT_QUERYABLE or item.bulk_refused:
            raise invalid_query("the column is not supported in the query", column_name=name)
        return item, read

    def _condition(self) -> Predicate:
        """Criteria joined by ``and``/``or``: two at most without brackets around them."""
        first = self._criterion()
        if self._keyword("and"):
            second = self._criterion()
            joined: Predicate = lambda i: first(i) and second(i)  # noqa: E731
        elif self._keyword("or"):
            second = self._criterion()
            joined = lambda i: first(i) or second(i)  # noqa: E731
        else:
            return first
        token = self._peek()
        if token is not None and token.kind == "name" and token.text.lower() in ("and", "or"):
            raise syntax_error(token.text)  # three criteria need brackets
        return joined

    def _criterion(self) -> Predicate:
        if self._symbol("("):
            inner = self._condition()
            if not self._symbol(")"):
                raise syntax_error(self._near())
            return inner
        self.criteria += 1
        if self.criteria > MAX_CRITERIA:
            raise limit_exceeded("the number of criteria", MAX_CRITERIA)
        name = self._take("name")
        item, read = self._field(name)
        if item.data_type == "textarea":
            raise invalid_query("multi-line fields cannot be used in criteria", column_name=name)
        if self._keyword("is", "not", "null"):
            return lambda i: read(i) is not None
        if self._keyword("is", "null"):
            return lambda i: read(i) is None
        negative = self._keyword("not")
        if self._keyword("in"):
            values = self._values()
            if len(values) > MAX_IN_VALUES:
                raise limit_exceeded("the number of values of in", MAX_IN_VALUES)
            return self._leaf(name, item, read, "not_in" if negative else "in", values)
        if negative:
            raise syntax_error(self._near())
        if self._keyword("between"):
            low = self._value()
            self._expect("and")
            return self._leaf(name, item, read, "between", [low, self._value()])
        symbol = self._take("symbol")
        if symbol not in COMPARATORS:
            raise syntax_error(symbol)
        return self._leaf(name, item, read, COMPARATORS[symbol], self._value())

    def _values(self) -> list[Any]:
        if not self._symbol("("):
            raise syntax_error(self._near())
        values = [self._value()]
        while self._symbol(","):
            values.append(self._value())
        if not self._symbol(")"):
            raise syntax_error(self._near())
        return values

    def _value(self) -> Any:
        token = self._peek()
        if token is None or token.kind not in ("string", "number"):
            raise syntax_error(self._near())
        self.at += 1
        if token.kind == "number":
            return token.text
        return re.sub(r"\\(.)", r"\1", token.text[1:-1])

    def _leaf(
        self, name: str, item: Field, read: Callable[[int], Any], comparator: str, expected: Any
    ) -> Predicate:
        if name == "id":
            ids = expected if isinstance(expected, list) else [expected]
            if not all(str(v).isdigit() for v in ids):
                raise invalid_query("invalid id value given", column_name=name)
            wanted = [int(v) for v in ids] if isinstance(expected, list) else int(expected)
            return lambda i: compare(comparator, int(self.data.id_of(i)), wanted)
        category = category_of(name, item)
        if category is None:
            raise invalid_query("the column cannot be used in criteria", column_name=name)
        convert = converter_for(category, item)
        try:
            value = (
                [convert(v, name) for v in expected]
                if isinstance(expected, list)
                else convert(expected, name)
            )
        except QueryError:
            raise invalid_query("invalid value given for the column", column_name=name) from None
        return predicate_of(category, item, read, comparator, value)

    def _order(self) -> list[tuple[Callable[[int], Any], bool]]:
        order, names = [], []
        while True:
            name = self._take("name")
            _, read = self._field(name)
            descending = self._keyword("desc")
            if not descending:
                self._keyword("asc")
            names.append(name)
            key: Callable[[int], Any] = (lambda i: i) if name == "id" else read
            order.append((key, descending))
            if not self._symbol(","):
                break
        if len(names) > MAX_ORDER_BY:
            raise limit_exceeded("the number of order by fields", MAX_ORDER_BY)
        if len(set(names)) != len(names):
            raise QueryError("DUPLICATE_DATA", "duplicate field in order by", {})
        return order

    def _limit(self) -> tuple[int, int]:
        if not self._keyword("limit"):
            offset = int(self._take("number")) if self._keyword("offset") else 0
            return offset, DEFAULT_LIMIT
        first = self._take("number")
        if self._symbol(","):
            offset, limit = int(first), int(self._take("number"))
        else:
            limit = int(first)
            offset = int(self._take("number")) if self._keyword("offset") else 0
        if not 0 < limit <= MAX_LIMIT or offset < 0:
            raise limit_exceeded("the limit", MAX_LIMIT)
        if offset + limit > MAX_REACH:
            raise limit_exceeded("offset and limit together", MAX_REACH)
        return offset, limit


@dataclass(frozen=True)
class Query:
    """A parsed query: what it selects, from which records, in which order, which window."""

    data: ModuleData
    columns: list[tuple[str, Field, Callable[[int], Any]]]
    predicate: Predicate | None
    order: list[tuple[Callable[[int], Any], bool]]
    offset: int
    limit: int

    def run(self, zone: ZoneInfo, record_set: str = "all") -> dict[str, Any] | None:
        """The answer's body (None when no record matches: 204).

        ``record_set``: no Zoho document says whether COQL returns converted records and records
        awaiting approval; "all" returns them, "records_api_default" leaves them out as the
        records API does by default.
        """
        shown = in_record_set(self.data) if record_set == "records_api_default" else None
        matching = [
            i
            for i in self.data.live_indices()
            if (self.predicate is None or self.predicate(i)) and (shown is None or shown(i))
        ]
        # in id order already (Zoho's default); nulls first in ascending order
        for key, descending in reversed(self.order):
            matching.sort(key=lambda i: _sort_key(key(i)), reverse=descending)
        window = matching[self.offset : self.offset + self.limit]
        if not window:
            return None
        rows = []
        for index in window:
            row: dict[str, Any] = {}
            for name, item, read in self.columns:
                row[name] = json_value(item, read(index), zone)
            row.setdefault("id", self.data.id_of(index))
            rows.append(row)
        more = self.offset + len(window) < len(matching)
        return {"data": rows, "info": {"count": len(rows), "more_records": more}}


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, list):
        return (1, ";".join(value))
    return (1, value)


def json_value(item: Field, value: Any, zone: ZoneInfo) -> Any:
    """One stored value in the shape Zoho's JSON APIs give it."""
    if value is None:
        return None
    data_type = item.value_type
    if item.api_name == "Tag":
        return [
            {"name": tag, "id": str(TAG_ID_BASE + zlib.crc32(tag.encode()) % 1000)} for tag in value
        ]
    if data_type == "datetime":
        return format_datetime(value, zone)
    if isinstance(value, date):
        return value.isoformat()
    if data_type in ("lookup", "ownerlookup", "userlookup"):
        return {"id": str(value)}
    if data_type in NUMBER_TYPES:
        # a JSON number has no scale: Zoho's COQL page writes 100000 and 243333.33333333334,
        # so 10.10 arrives as 10.1 and a 9-place 1.000000000 as 1
        return _NUMBER_MARK + format(Decimal(value).normalize(), "f")
    if data_type == "integer" or isinstance(value, (bool, list)):
        return value
    return str(value)


def encode_answer(body: dict[str, Any]) -> bytes:
    """The answer as JSON, its decimals as JSON numbers with their exact digits."""
    text = json.dumps(body)
    return re.sub(r'"\\u0000number:(-?[0-9.Ee+-]+)"', r"\1", text).encode()


def parse(dataset: Dataset, product: str, body: Any) -> Query:
    """The checked ``select_query`` of a COQL request body."""
    query = body.get("select_query") if isinstance(body, dict) else None
    if not isinstance(query, str) or not query.strip():
        raise QueryError(
            "MANDATORY_NOT_FOUND", "required field not found", {"api_name": "select_query"}
        )
    return Parser(dataset, product, query).parse()
