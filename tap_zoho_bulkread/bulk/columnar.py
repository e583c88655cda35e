"""The fast decoder: Arrow parses the CSV and types whole columns, JSON is assembled in C++.

Used by the tap's own writers (RECORD lines and BATCH files) when pyarrow is installed (the
``fast`` extra). It writes what ``RecordDecoder(raw_numbers=True)`` writes, value for value: a
column is converted by vectorised checks only when every cell has one of the shapes Zoho
writes; a column with any other cell is converted cell by cell by the strict decoder's own
code. Whatever else it cannot vouch for (a cell the strict code refuses, a row larger than a
block, a damaged zip, a row of the wrong width) makes it hand the file to ``RecordDecoder``
from the first row it has not yet handed out; that decoder decodes it, or refuses it with its
exact message.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tap_zoho_bulkread.bulk.batches import RECORD_DECODER, RECORD_ENCODER, Batch
from tap_zoho_bulkread.bulk.decode import (
    KIND_ABSENT,
    KIND_CONSTANT,
    Plan,
    RecordDecoder,
    compile_row_decoder,
)
from tap_zoho_bulkread.bulk.kinds import (
    ARROW_AS_JSON,
    ARROW_BOOLEAN,
    ARROW_DATE,
    ARROW_DATETIME,
    ARROW_LIST,
    ARROW_TEXT,
    KIND_DATETIME,
    kind_of,
)
from tap_zoho_bulkread.bulk.result_zip import result_member

try:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv
except ImportError:  # the `fast` extra is not installed: the strict decoder does it all
    AVAILABLE = False
else:
    AVAILABLE = True
    if "jemalloc" in pa.supported_memory_backends():
        # a batch's arrays are freed at once: hand the memory back at once (docs/performance.md)
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(0)

# CSV read per step (Arrow joins the blocks a longer row spans). A block's memory grows with
# its bytes; the Python work per block grows with its columns: wide exports read twice as much
# a step (docs/performance.md: peak RSS and the real-shaped export's speed).
BLOCK_BYTES = 512 * 1024
WIDE_COLUMNS = 100


def block_bytes(columns: int) -> int:
    """The bytes Arrow reads a step from a CSV of ``columns`` columns."""
    return BLOCK_BYTES if columns <= WIDE_COLUMNS else 2 * BLOCK_BYTES


_BOOLEANS = pa.array(["true", "false", None]) if AVAILABLE else None  # None: an empty cell
_ESCAPES = [  # (found in a text buffer, character, its JSON escape)
    (re.compile(re.escape(plain.encode())).search, plain, escaped)
    for plain, escaped in {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}.items()
]  # the backslash first, so that the escapes added after it stay as they are
# searched in a column's whole text buffer at once (a byte outside the column only costs time)
_NEEDS_ESCAPE = re.compile(rb'[\\"\x00-\x1f]').search
# other control bytes: msgspec writes them as \u00NN escapes, so such a column goes cell by cell
_OTHER_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]").search
# what the strict decoder's UTC form covers: 4-digit years, before the end of year 9999
_FIRST_SECOND, _LAST_SECOND = -30610224000, 253402300799  # 1000-01-01, 9999-12-31T23:59:59
_FIRST_DAY = -719162  # 0001-01-01, in days from 1970-01-01
_PAST_THE_END = 1 << 40  # a slice start past any cell's end: what replaces it is appended

log = logging.getLogger(__name__)


class _Unsure(Exception):
    """The Arrow path cannot vouch for what follows: the strict decoder takes over."""


class CarriageReturnSafeReads:
    r"""A result's bytes in reads that never end on a ``\r`` (except the last one).

    Arrow's CSV reader drops a ``\n`` that starts a block when the previous block ended on
    ``\r``, taking the pair for a line break split in two, even inside a quoted value
    (apache/arrow#51368): ``"a\r\nb"`` would silently become ``"a\rb"``. Arrow's blocks are
    the reads it makes here, so carriage returns at the end of a read are held back and start
    the next one instead.
    """

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.held = b""
        self.closed = False

    def readable(self) -> bool:
        """Always: this is a reader."""
        return True

    def read(self, size: int = -1) -> bytes:
        r"""At most ``size`` bytes (all with -1), never ending on ``\r`` before the end."""
        data: bytes
        data, self.held = self.held, b""
        while True:
            wanted = -1 if size < 0 else size - len(data)
            if wanted == 0:  # a block of nothing but carriage returns: no real export
                raise _Unsure("a run of carriage returns as long as a block")
            more: bytes = self.raw.read(wanted)
            data += more
            if not more or not data.endswith(b"\r"):
                return data
            kept = data.rstrip(b"\r")
            if kept:
                self.held = data[len(kept) :]
                return kept

    def close(self) -> None:
        """Nothing to close: the zip member is closed by its owner."""
        self.closed = True


class EncodedRows:
    """A batch of records already encoded as JSON objects, one per row, in export order."""

    def __init__(
        self, documents: Any, times: dict[str, Any], cell_by_cell: tuple[str, ...] = ()
    ) -> None:
        self.documents = documents  # an Arrow string array
        self.times = times  # property -> Arrow array of its UTC datetimes, for bookmarks
        self.cell_by_cell = cell_by_cell  # properties the strict code converted, cell by cell

    def __len__(self) -> int:
        return len(self.documents)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """The records decoded again (numbers as int and Decimal), for checks and tests."""
        for document in self.documents.to_pylist():
            yield RECORD_DECODER.decode(document)

    def __getitem__(self, rows: slice) -> EncodedRows:
        start, stop, _ = rows.indices(len(self))
        length = max(stop - start, 0)
        return EncodedRows(
            self.documents.slice(start, length),
            {name: values.slice(start, length) for name, values in self.times.items()},
            self.cell_by_cell,
        )

    def newest(self, prop: str) -> str | None:
        """The latest value of the datetime property ``prop`` in this batch, if any."""
        values = self.times.get(prop)
        newest = None if values is None else pc.max(values).as_py()
        return newest if isinstance(newest, str) else None

    def lines(self, prefix: bytes, suffix: bytes) -> memoryview:
        """Every record between ``prefix`` and ``suffix``, as one block of bytes."""
        joined = _wrapped(self.documents, prefix.decode(), suffix.decode())
        return _concatenated(joined)


def _concatenated(strings: Any) -> memoryview:
    """The bytes of an Arrow string array's values, end to end, without a copy."""
    _, offsets_buffer, data = strings.buffers()
    if data is None or not len(strings):
        return memoryview(b"")
    offsets = memoryview(offsets_buffer).cast("i")
    return memoryview(data)[offsets[strings.offset] : offsets[strings.offset + len(strings)]]


class ColumnarDecoder:
    """Decodes one stream's CSV into ``EncodedRows``, handing what it cannot vouch for on."""

    def __init__(self, strict: RecordDecoder) -> None:
        self.strict = strict
        self.stream = strict.stream

    def batches(self, path: Path, job_id: str) -> Iterator[Batch]:
        """The records of a result zip: Arrow batches, then strict ones if Arrow gave up."""
        handed, slow_columns = 0, set[str]()
        try:
            for rows in self._arrow_batches(path, job_id):
                yield rows
                handed += len(rows)
                slow_columns.update(rows.cell_by_cell)
            return
        except _Unsure as exc:
            log.info(
                "%s: job %s's CSV is read by the strict decoder from row %d on (%s)",
                self.stream,
                job_id,
                handed + 1,
                type(exc.__cause__).__name__,
            )
        finally:
            if slow_columns:
                log.info(
                    "%s: job %s's columns %s held cells off Zoho's usual forms and were "
                    "converted cell by cell",
                    self.stream,
                    job_id,
                    sorted(slow_columns),
                )
        skip = handed
        for batch in self.strict.batches(path, job_id):
            if skip >= len(batch):
                skip -= len(batch)
                continue
            yield batch[skip:]
            skip = 0

    def _arrow_batches(self, path: Path, job_id: str) -> Iterator[EncodedRows]:
        found = self.strict.header(path, job_id)  # the strict bounds and refusals apply
        if found is None:
            return
        header, plan = found
        encoder = _RowEncoder(plan, self.strict.constants)
        with result_member(path, job_id, self.stream, "csv") as raw:
            try:
                reader = pa_csv.open_csv(
                    CarriageReturnSafeReads(raw),
                    # no read-ahead threads: less memory at the same speed (docs/performance.md)
                    read_options=pa_csv.ReadOptions(
                        block_size=block_bytes(len(header)), use_threads=False
                    ),
                    parse_options=pa_csv.ParseOptions(
                        newlines_in_values=True, ignore_empty_lines=False
                    ),
                    convert_options=pa_csv.ConvertOptions(
                        column_types={name: pa.string() for name in header},
                        strings_can_be_null=True,
                        quoted_strings_can_be_null=True,
                        null_values=[""],
                    ),
                )
                if reader.schema.names != header:
                    raise _Unsure("the header reads differently")
            except Exception as exc:
                raise _Unsure from exc
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except Exception as exc:
                    raise _Unsure from exc
                try:
                    rows = encoder.encode(batch)
                except Exception as exc:
                    raise _Unsure from exc
                yield rows


class _RowEncoder:
    """Turns Arrow batches of one CSV's string columns into JSON objects, by the plan."""

    def __init__(self, plan: Plan, constants: dict[str, int]) -> None:
        self.plan = plan
        self.constants = {name: str(int(value)) for name, value in constants.items()}
        self.keys = [RECORD_ENCODER.encode(name).decode() + ":" for _, name, _ in plan]
        self.id_column = next(index for index, name, _ in plan if name == "id")
        self.kinds: dict[str, list[int]] = {}  # kind -> positions in the plan
        for position, (_, _, kind) in enumerate(plan):
            if kind not in (KIND_ABSENT, KIND_CONSTANT):
                self.kinds.setdefault(kind, []).append(position)

    def encode(self, batch: Any) -> EncodedRows:
        """One batch of rows as JSON objects; _Unsure when the strict decoder must judge.

        The columns of one kind are checked and converted together, as one chunked array: a
        few Arrow calls per batch whatever its width. A kind whose checks fail is converted
        column by column, and a column whose checks fail, cell by cell.
        """
        if not batch.num_rows:
            return EncodedRows(pa.array([], pa.string()), {})
        if batch.column(self.id_column).null_count:
            raise _Unsure("a row without an id (or an empty line)")
        converted: dict[int, tuple[Any, Any]] = {}
        cell_by_cell: list[str] = []
        for kind, positions in self.kinds.items():
            columns = [batch.column(self.plan[position][0]) for position in positions]
            together = _converted_together(columns, kind)
            for position, column, result in zip(positions, columns, together, strict=True):
                if result is None:
                    cell_by_cell.append(self.plan[position][1])
                converted[position] = result or _cell_by_cell(column, kind)
        pieces: list[Any] = []
        times: dict[str, Any] = {}
        literal = "{"
        for position, (key, (_, name, kind)) in enumerate(zip(self.keys, self.plan, strict=True)):
            literal += key if literal == "{" else "," + key
            if kind == KIND_ABSENT:
                literal += "null"
                continue
            if kind == KIND_CONSTANT:
                literal += self.constants[name]
                continue
            text, utc = converted[position]
            pieces += [literal, text]
            literal = ""
            if utc is not None:
                times[name] = utc
        documents = pc.binary_join_element_wise(
            *pieces, literal + "}", "", null_handling="replace", null_replacement="null"
        )
        return EncodedRows(documents, times, tuple(cell_by_cell))


def _converted_together(columns: list[Any], kind: str) -> list[tuple[Any, Any] | None]:
    """Each column's JSON text and UTC datetimes, or None for a column needing the strict code.

    All the columns at once when they all pass; else one by one.
    """
    if len(columns) > 1:
        result = _safely_vectorised(pa.chunked_array(columns), kind)
        if result is not None:
            text, utc = result
            rows = len(columns[0])
            return [
                (_part(text, i, rows), None if utc is None else _part(utc, i, rows))
                for i in range(len(columns))
            ]
    return [_safely_vectorised(column, kind) for column in columns]


def _part(values: Any, index: int, rows: int) -> Any:
    """Column ``index`` of columns of ``rows`` cells put end to end (chunked or not)."""
    part = values.slice(index * rows, rows)
    return part.chunk(0) if part.num_chunks == 1 else part.combine_chunks()


def _safely_vectorised(values: Any, kind: str) -> tuple[Any, Any] | None:
    try:
        return _vectorised(values, kind)
    except pa.ArrowInvalid:  # a cast refused a cell: the strict code will say which
        return None


def _vectorised(values: Any, kind: str) -> tuple[Any, Any] | None:
    """Column(s) converted by whole-column checks, or None when a cell needs the strict code.

    ``values`` is a column or several as one chunked array; returned: the JSON text of each
    cell (null where the cell is empty) and, for datetimes, the UTC datetimes, chunked alike.
    """
    field_kind = kind_of(kind)
    conversion, shape = field_kind.arrow, field_kind.arrow_shape
    if conversion is None:
        return None  # a kind with no whole-column conversion: cell by cell, strict code
    if shape is not None and not _all(pc.match_substring_regex(values, shape)):
        return None
    if conversion == ARROW_AS_JSON:
        return values, None
    if conversion == ARROW_BOOLEAN:
        return (values, None) if _all(pc.is_in(values, _BOOLEANS)) else None
    if conversion == ARROW_DATE:
        days = pc.cast(pc.cast(values, pa.date32()), pa.int32())  # refuses Feb 30
        if days.null_count < len(days) and pc.min(days).as_py() < _FIRST_DAY:
            return None  # year 0, which Arrow takes and Python's dates lack
        return _quoted(values), None
    if conversion == ARROW_DATETIME:
        utc = _utc(values)
        return None if utc is None else (_quoted(utc), utc)
    escaped = _escaped(values)
    if escaped is None:
        return None
    if conversion == ARROW_LIST:
        untidy = field_kind.arrow_untidy
        if untidy is not None and _any(pc.match_substring_regex(values, untidy)):
            return None
        return _listed(escaped, field_kind.separator), None
    return (_quoted(escaped), None) if conversion == ARROW_TEXT else None


def _utc(column: Any) -> Any:
    """``YYYY-MM-DDTHH:MM:SS+00:00`` for each datetime, or None outside the strict range."""
    moments = pc.cast(column, pa.timestamp("s", tz="UTC"))  # refuses 24:00, Feb 30, +24:00
    if moments.null_count < len(moments):
        bounds = pc.min_max(pc.cast(moments, pa.int64()))
        if bounds["min"].as_py() < _FIRST_SECOND or bounds["max"].as_py() > _LAST_SECOND:
            return None
    # without its time zone Arrow prints a UTC moment ("2021-03-14 10:01:00") much faster
    text = pc.cast(pc.cast(moments, pa.timestamp("s")), pa.string())
    return _wrapped(pc.replace_substring(text, " ", "T"), "", "+00:00")


def _escaped(values: Any) -> Any:
    """Text escaped for JSON strings, or None when msgspec must escape it (control bytes).

    The text buffers are searched in Python, at once each; only the columns (chunks) whose text
    holds a character to escape get a replacing pass for it, all such columns in one pass: a
    multi-line notes column does not make every text column of the batch be read again, and
    twenty columns with quotes cost one call, not twenty.
    """
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    texts = [chunk.buffers()[2] for chunk in chunks]
    needing = [i for i, text in enumerate(texts) if text is not None and _NEEDS_ESCAPE(text)]
    if not needing:
        return values
    if any(_OTHER_CONTROL(texts[i]) for i in needing):
        return None
    chunks = list(chunks)
    for found, plain, replacement in _ESCAPES:  # the backslash first
        holding = [i for i in needing if found(texts[i])]
        if holding:
            together = pa.chunked_array([chunks[i] for i in holding], type=values.type)
            replaced = pc.replace_substring(together, plain, replacement)
            for i, chunk in zip(holding, replaced.chunks, strict=True):
                chunks[i] = chunk
    if isinstance(values, pa.ChunkedArray):
        return pa.chunked_array(chunks, type=values.type)
    return chunks[0]


def _wrapped(values: Any, before: str, after: str) -> Any:
    """Each value between ``before`` and ``after``; an empty cell (null) stays null.

    Two slice replacements, at the start and past the end: several times faster than a join
    of the values with two constants.
    """
    if before:
        values = pc.binary_replace_slice(values, 0, 0, before)
    if after:
        values = pc.binary_replace_slice(values, _PAST_THE_END, _PAST_THE_END, after)
    return values


def _quoted(column: Any) -> Any:
    return _wrapped(column, '"', '"')


def _listed(escaped: Any, separator: str) -> Any:
    items = pc.replace_substring(escaped, separator, '","')
    return _wrapped(items, '["', '"]')


def _all(flags: Any) -> bool:
    return pc.all(flags).as_py() is not False  # nulls (empty cells) pass


def _any(flags: Any) -> bool:
    return pc.any(flags).as_py() is True


@functools.cache
def _cell_decoder(kind: str) -> Callable[[list[str]], dict[str, Any]]:
    """The strict decoder's generated code for one cell of ``kind`` (built once per kind)."""
    return compile_row_decoder([(0, "v", kind)], raw_numbers=True)


def _cell_by_cell(column: Any, kind: str) -> tuple[Any, Any]:
    """The strict decoder's own conversion, per cell; a cell it refuses makes this _Unsure."""
    decode = _cell_decoder(kind)
    values = []
    try:
        for cell in column.to_pylist():
            values.append(None if cell is None else decode([cell])["v"])
    except Exception as exc:
        raise _Unsure("a cell the strict decoder refuses") from exc
    json_text = pa.array(
        [None if value is None else RECORD_ENCODER.encode(value).decode() for value in values],
        pa.string(),
    )
    return json_text, (pa.array(values, pa.string()) if kind == KIND_DATETIME else None)
