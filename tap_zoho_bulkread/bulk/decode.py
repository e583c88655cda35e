"""A downloaded zip -> its one CSV member -> typed records, row by row, never all in memory."""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

import msgspec

from tap_zoho_bulkread.bulk.batches import RECORD_ENCODER, Batch, EncodedRecords, TimeValues
from tap_zoho_bulkread.bulk.kinds import (
    BOOLEANS,
    DATES,
    INTEGER_TEXT,
    KIND_DATETIME,
    NUMBER_TEXT,
    iso_date,
    kind_of,
    refuse,
    tag_names,
)
from tap_zoho_bulkread.bulk.metadata import FieldSpec
from tap_zoho_bulkread.bulk.result_zip import DAMAGED_ZIP, damaged_zip, result_member
from tap_zoho_bulkread.errors import ExportFileError
from tap_zoho_bulkread.times import utc_datetime

# Zoho's multi-line fields hold up to 32,000 characters, rich text more; csv's default
# limit (128 KiB) would refuse a legitimate export. The bounds below keep memory flat whatever
# a (broken or hostile) server puts in the zip.
MAX_FIELD_CHARS = 16 * 1024 * 1024
MAX_ROW_CHARS = 64 * 1024 * 1024
MAX_LINE_CHARS = MAX_FIELD_CHARS
MAX_CELLS = 5000
TEXT_CHUNK_CHARS = 256 * 1024
ROW_CHECK_CHARS = 256 * 1024  # rows shorter than this cannot break the bounds below
csv.field_size_limit(MAX_FIELD_CHARS)
# A number JSON can hold as written (no leading zero, no bare point): sent on as raw text.
_JSON_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)").fullmatch
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?").fullmatch
Plan = list[tuple[int, str, str]]  # (CSV column, property, kind) for each selected property
KIND_ABSENT = "absent"  # a selected field Zoho refused to export: null in every record
KIND_CONSTANT = "constant"  # the same integer in every record: a full-table run's version


_HELPERS: dict[str, Any] = {  # the names the kinds' CSV expressions use
    "INTEGER": INTEGER_TEXT,
    "NUMBER": NUMBER_TEXT,
    "JSON_INTEGER": _JSON_INTEGER,
    "JSON_NUMBER": _JSON_NUMBER,
    "Raw": msgspec.Raw,
    "NONZERO": "123456789",
    "Decimal": Decimal,
    "refuse": refuse,
    "DATES": DATES,
    "iso_date": iso_date,
    "BOOLEANS": BOOLEANS,
    "utc_datetime": utc_datetime,
    "tag_names": tag_names,
}


def compile_row_decoder(
    plan: Plan, *, raw_numbers: bool = False, constants: Mapping[str, int] | None = None
) -> Callable[[list[str]], dict[str, Any]]:
    """Build, once per file, one function turning a CSV row into a record (a dict).

    With ``raw_numbers``, valid numbers stay their text as ``msgspec.Raw`` (for a writer that
    encodes with msgspec; nothing else should see such records).
    """
    extra = _extra_values(plan, constants or {})
    values, helpers = _cell_values(plan, raw_numbers)
    names = [name for index, name, _ in plan if index >= 0]
    items = [f"{name!r}: {value}" for name, value in zip(names, values, strict=True)]
    items += [f"{name!r}: EXTRA[{name!r}]" for name in extra]
    helpers["EXTRA"] = extra
    return _compiled(f"return {{{', '.join(items)}}}", helpers)  # type: ignore[no-any-return]


def compile_row_encoder(
    plan: Plan, constants: Mapping[str, int] | None = None
) -> Callable[[list[str]], tuple[bytes, tuple[str | None, ...]]]:
    """The ``raw_numbers`` row decoder for the tap's own writers: a row -> its record's JSON.

    The row's values become a msgspec Struct in one call (a dict of 200 keys costs more than
    the rest of the row) whose JSON is the record's, property for property in plan order; it
    is encoded at once, while the row's strings are still in the CPU's cache. Beside the JSON
    come the row's datetime values (UTC), in the plan's order, for ``EncodedRecords.newest``.
    """
    extra = _extra_values(plan, constants or {})
    present = [name for index, name, _ in plan if index >= 0]
    attributes = {name: f"f{number}" for number, name in enumerate([*present, *extra])}
    values, helpers = _cell_values(plan, raw_numbers=True)
    timed = exported_datetimes(plan)
    for number, position in enumerate(timed.values()):
        values[position] = f"(t{number} := {values[position]})"
    times = "".join(f"t{number}, " for number in range(len(timed)))
    helpers["Row"] = msgspec.defstruct(
        "Row",
        [(attributes[name], Any) for name in present]
        + [(attributes[name], Any, value) for name, value in extra.items()],
        rename={attribute: name for name, attribute in attributes.items()},
        gc=False,
    )
    helpers["encode"] = RECORD_ENCODER.encode
    return _compiled(f"return encode(Row({', '.join(values)})), ({times})", helpers)  # type: ignore[no-any-return]


def exported_datetimes(plan: Plan) -> dict[str, int]:
    """The exported datetime properties, each with its position among the exported columns."""
    exported = [(name, kind) for index, name, kind in plan if index >= 0]
    return {name: i for i, (name, kind) in enumerate(exported) if kind == KIND_DATETIME}


def _extra_values(plan: Plan, constants: Mapping[str, int]) -> dict[str, int | None]:
    """The values of the properties without a column: a refused field null, a constant its own."""
    return {
        name: None if kind == KIND_ABSENT else int(constants[name])
        for index, name, kind in plan
        if index < 0
    }


def _cell_values(plan: Plan, raw_numbers: bool) -> tuple[list[str], dict[str, Any]]:
    """The expression of each exported column's value, and the names they use.

    An empty cell is None; text is taken as it is; only the non-empty cells of typed columns
    run their kind's expression. Columns enter the code only as integers.
    """
    values, helpers = [], dict(_HELPERS)
    for index, _, kind in plan:
        if index < 0:
            continue
        field_kind = kind_of(kind)
        expression = (raw_numbers and field_kind.csv_raw) or field_kind.csv
        if expression is None:
            values.append(f"r[{index}] or None")
        else:
            helpers.update(field_kind.helpers)
            values.append(f"({expression.format(v='v')} if (v := r[{index}]) else None)")
    return values, helpers


def _compiled(statement: str, helpers: dict[str, Any]) -> Any:
    """The generated ``decode_row(r)`` of one statement, the helpers bound as defaults.

    Generated code saves a Python call per cell. Column names enter it only as ``repr()``
    string literals and other values only through ``helpers``, so nothing from Zoho can
    become code.
    """
    defaults = ", ".join(f"{name}={name}" for name in helpers)
    source = f"def decode_row(r, {defaults}):\n    {statement}\n"
    namespace = dict(helpers)
    exec(compile(source, "<zoho row decoder>", "exec"), namespace)  # noqa: S102
    return namespace["decode_row"]


class RecordDecoder:
    """Decodes the CSV of one stream into records holding only the selected properties."""

    def __init__(
        self,
        stream: str,
        specs: list[FieldSpec],
        selected: list[str],
        *,
        renamed: dict[str, str] | None = None,
        absent: frozenset[str] = frozenset(),
        raw_numbers: bool = False,
        constants: Mapping[str, int] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.stream = stream
        self.selected = selected
        self.absent = absent  # selected, but left out of the export: always null
        # record state columns, known from real exports, not from the metadata: an export
        # without one leaves it null, with one warning
        self.optional = frozenset(spec.name for spec in specs if spec.optional)
        self.logger = logger
        self.warned = False
        self.constants = dict(constants or {})  # selected, not exported: one value each
        self.raw_numbers = raw_numbers
        self.kinds = {spec.name: spec.kind for spec in specs}
        self.renamed = {"Id": "id", **(renamed or {})}  # CSV column -> property

    def _plan(self, header: list[str], job_id: str) -> Plan:
        if len(header) > MAX_CELLS:
            raise ExportFileError(
                f"{self.stream}: the CSV of job {job_id} has {len(header)} columns, over "
                f"{MAX_CELLS}; no real export holds that many. Run the sync again."
            )
        names = [self.renamed.get(column, column) for column in header]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ExportFileError(
                f"{self.stream}: the CSV of job {job_id} names the columns {repeated} more than "
                "once (Id and id count as one), so their values are ambiguous; Zoho sends each "
                "column once. Run the sync again."
            )
        plan = [
            (index, name, self.kinds.get(name, "string"))
            for index, name in enumerate(names)
            if name in self.selected and name not in self.absent and name not in self.constants
        ]
        plan += [(-1, name, KIND_ABSENT) for name in self.selected if name in self.absent]
        plan += [(-1, name, KIND_CONSTANT) for name in self.selected if name in self.constants]
        missing = set(self.selected) - {name for _, name, _ in plan}
        unlisted = missing & self.optional
        if unlisted:
            plan += [(-1, name, KIND_ABSENT) for name in sorted(unlisted)]
            missing -= unlisted
            if self.logger is not None and not self.warned:
                self.warned = True
                self.logger.warning(
                    "%s: the export has no column for %s, record state columns real exports "
                    "carry beside the listed fields; they stay null. Deselect them to silence "
                    "this warning.",
                    self.stream,
                    sorted(unlisted),
                )
        if missing:
            raise ExportFileError(
                f"{self.stream}: the export has no column for {sorted(missing)}; the field may "
                "have been renamed or deleted in Zoho. Run discovery again and update the catalog."
            )
        return plan

    def batches(self, path: Path, job_id: str, size: int = 2000) -> Iterator[Batch]:
        """Yield the typed records of a downloaded result zip, ``size`` rows at a time.

        With ``raw_numbers``, each batch is :class:`EncodedRecords`; else a list of records.
        """
        with self._csv_rows(path, job_id) as (reader, lines):
            yield from self._read(reader, lines, job_id, size)

    def header(self, path: Path, job_id: str) -> tuple[list[str], Plan] | None:
        """The CSV's header and the plan its columns give (None for an empty file)."""
        with self._csv_rows(path, job_id) as (reader, _):
            header = next(reader, None)
            return None if header is None else (header, self._plan(header, job_id))

    @contextmanager
    def _csv_rows(self, path: Path, job_id: str) -> Iterator[tuple[Any, _BoundedLines]]:
        """A csv reader over the zip's CSV, its errors turned into one clear line each."""
        lines = _BoundedLines(self.stream, job_id)
        with result_member(path, job_id, self.stream, "csv") as raw:
            try:
                with io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
                    # decode and inflate 256 KiB at a time, not 8 KiB: a tenth of the reading
                    text._CHUNK_SIZE = TEXT_CHUNK_CHARS  # type: ignore[attr-defined]
                    lines.reader = csv.reader(lines.of(text))
                    yield lines.reader, lines
            except csv.Error as exc:
                raise ExportFileError(
                    f"{self.stream}: line {lines.number} of job {job_id}'s CSV cannot be "
                    f"read ({exc}); the export is damaged. Run the sync again."
                ) from None
            except DAMAGED_ZIP:
                raise damaged_zip(self.stream, job_id, f"near line {lines.reached}") from None
            except UnicodeDecodeError:
                raise ExportFileError(
                    f"{self.stream}: job {job_id}'s CSV is not UTF-8 near line "
                    f"{lines.reached}; the export is damaged. Run the sync again."
                ) from None

    def _read(self, reader: Any, lines: _BoundedLines, job_id: str, size: int) -> Iterator[Batch]:
        header = next(reader, None)
        if header is None:
            return
        plan = self._plan(header, job_id)
        raw = self.raw_numbers
        timed = tuple(exported_datetimes(plan))  # the properties of each row's datetimes
        if raw:
            decode_row: Callable[[list[str]], Any] = compile_row_encoder(plan, self.constants)
        else:
            decode_row = compile_row_decoder(plan, constants=self.constants)
        width = len(header)
        batch: list[Any] = []
        times: list[tuple[str | None, ...]] = []  # with raw_numbers, each row's datetimes
        line = reader.line_num + 1  # where the next record starts
        for number, row in enumerate(reader, start=1):
            lines.next_row()
            if len(row) != width:
                raise ExportFileError(
                    f"{self.stream}: record {number} (CSV line {line}) of job {job_id} has "
                    f"{len(row)} columns, the header {width}"
                )
            try:
                record = decode_row(row)
            except (ValueError, KeyError, InvalidOperation) as exc:
                where = f"record {number} (CSV line {line})"
                raise ExportFileError(self._bad_value(row, plan, where, job_id)) from exc
            if raw:
                batch.append(record[0])
                times.append(record[1])
            else:
                batch.append(record)
            line = reader.line_num + 1
            if len(batch) >= size:
                yield self._batch(batch, times, timed)
                batch, times = [], []
        if batch:
            yield self._batch(batch, times, timed)

    def _batch(
        self, batch: list[Any], times: list[tuple[str | None, ...]], timed: tuple[str, ...]
    ) -> Batch:
        return EncodedRecords(batch, TimeValues(timed, times)) if self.raw_numbers else batch

    def _bad_value(self, row: list[str], plan: Plan, where: str, job_id: str) -> str:
        # the same generated code, one column at a time, finds the cell at fault
        for column in plan:
            index, name, _ = column
            if index < 0:
                continue  # a constant or a refused field: no cell
            try:
                compile_row_decoder([column])(row)
            except (ValueError, KeyError, InvalidOperation):
                return (
                    f"{self.stream}: {where} of job {job_id} has {row[index]!r:.60} in "
                    f"{name}, which is not a valid {self.kinds.get(name, 'string')}"
                )
        return f"{self.stream}: {where} of job {job_id} could not be decoded"


class _BoundedLines:
    """The CSV's physical lines, refused past the row, line and cell bounds as they are read.

    csv builds a whole row before its width can be checked; a row of millions of empty cells
    (or one endless line) would take gigabytes first. Lines are read at most
    ``MAX_LINE_CHARS`` at a time, so nothing larger is ever held.
    """

    def __init__(self, stream: str, job_id: str) -> None:
        self.where = f"{stream}: job {job_id}'s CSV"
        self.row_chars = self.row_cells = 0
        self.in_quotes = False  # whether the row's text so far ends inside a quoted cell
        self.lines_read = 0
        self.reader: Any = None

    @property
    def number(self) -> int:
        """The line the CSV reader has reached."""
        return int(self.reader.line_num) if self.reader is not None else 0

    @property
    def reached(self) -> int:
        """The line being read (counted from 1), for errors met while reading it."""
        return self.lines_read + 1

    def of(self, text: IO[str]) -> Iterator[str]:
        """Yield ``text``'s lines, checked; rows under ``ROW_CHECK_CHARS`` cost two counts."""
        readline, limit = text.readline, MAX_LINE_CHARS + 1
        while True:
            line = readline(limit)
            if not line:
                return
            self.lines_read += 1
            self.row_chars += len(line)
            if self.row_chars > ROW_CHECK_CHARS:
                self._check(line)
            elif line.count('"') % 2:
                self.in_quotes = not self.in_quotes
            yield line

    def _check(self, line: str) -> None:
        if len(line) > MAX_LINE_CHARS:
            raise ExportFileError(
                f"{self.where} has a line over {MAX_LINE_CHARS // 2**20} MiB; no real export "
                "holds one. Run the sync again."
            )
        # cells as CSV counts them: commas outside quotes (a doubled quote toggles twice)
        pieces = line.split('"')
        self.row_cells += sum(piece.count(",") for piece in pieces[self.in_quotes :: 2])
        if len(pieces) % 2 == 0:
            self.in_quotes = not self.in_quotes
        if self.row_chars > MAX_ROW_CHARS or self.row_cells > MAX_CELLS:
            raise ExportFileError(
                f"{self.where} has a row over {MAX_ROW_CHARS // 2**20} MiB or {MAX_CELLS} "
                "cells; no real export holds one. Run the sync again."
            )

    def next_row(self) -> None:
        """A row ended: its bounds start again."""
        self.row_chars = self.row_cells = 0
        self.in_quotes = False
