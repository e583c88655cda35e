"""A downloaded zip -> its one CSV member -> typed records, row by row, never all in memory."""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path, PurePosixPath
from typing import Any

from tap_zoho_bulkread.errors import ExportFileError
from tap_zoho_bulkread.metadata import (
    KIND_BOOLEAN,
    KIND_DATETIME,
    KIND_INTEGER,
    KIND_MULTI,
    KIND_NUMBER,
    KIND_TAGS,
    FieldSpec,
)

# Zoho's multi-line fields hold up to 32,000 characters, rich text more; csv's default
# limit (128 KiB) would refuse a legitimate export.
csv.field_size_limit(64 * 1024 * 1024)
BOOLEANS = {"true": True, "false": False}


# (local date + offset) -> the UTC "YYYY-MM-DDTHH" of each of that day's 24 local hours.
_UTC_HOURS: dict[str, tuple[str, ...]] = {}


def utc_datetime(text: str) -> str:
    """Any ISO 8601 datetime with an offset -> ``YYYY-MM-DDTHH:MM:SS+00:00`` (UTC).

    singer-sdk compares bookmarks as strings; one canonical form keeps that correct even when
    the export mixes daylight-saving offsets.
    """
    # Zoho writes 2021-03-14T03:01:00-07:00; with a whole-hour offset only the date and hour
    # change, so they are looked up per (local day, offset) and minutes and seconds kept.
    hours = _UTC_HOURS.get(text[:10] + text[19:])
    if hours is not None and len(text) == 25 and text[10] == "T":
        return hours[int(text[11:13])] + text[13:19] + "+00:00"
    converted = _to_utc(text)
    if len(text) == 25 and text[10] == "T" and text[19] in "+-" and text[22:] == ":00":
        day, offset = text[:10], text[19:]
        _UTC_HOURS[day + offset] = tuple(
            _to_utc(f"{day}T{hour:02d}:00:00{offset}")[:13] for hour in range(24)
        )
    return converted


def _to_utc(text: str) -> str:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def _tags(text: str) -> list[str]:
    tags = text.split(",")
    if " " in text:
        tags = [tag.strip() for tag in tags]
    return [tag for tag in tags if tag] if "" in tags else tags


# How each kind turns a non-empty cell ``v`` into a value, as an expression of generated code.
_EXPRESSIONS = {
    KIND_INTEGER: "int({v})",
    KIND_NUMBER: "Decimal({v})",
    KIND_BOOLEAN: "BOOLEANS[{v}]",
    KIND_DATETIME: "utc_datetime({v})",
    KIND_MULTI: "{v}.split(';')",
    KIND_TAGS: "_tags({v})",
}


def compile_row_decoder(plan: list[tuple[int, str, str]]) -> Callable[[list[str]], dict[str, Any]]:
    """Build, once per file, one function turning a CSV row into a record.

    Generated code saves a Python call per cell. Column names enter it only as ``repr()``
    string literals and columns only as integers, so nothing from Zoho can become code.
    """
    items = []
    for index, name, kind in plan:
        cell = f"r[{index}]"
        expression = _EXPRESSIONS.get(kind)
        value = (
            f"{cell} or None"
            if expression is None
            else f"{expression.format(v=cell)} if {cell} else None"
        )
        items.append(f"{name!r}: {value}")
    source = (
        "def decode_row(r, Decimal=Decimal, BOOLEANS=BOOLEANS, utc_datetime=utc_datetime,"
        " _tags=_tags):\n    return {" + ", ".join(items) + "}\n"
    )
    namespace: dict[str, Any] = {
        "Decimal": Decimal,
        "BOOLEANS": BOOLEANS,
        "utc_datetime": utc_datetime,
        "_tags": _tags,
    }
    exec(compile(source, "<zoho row decoder>", "exec"), namespace)  # noqa: S102
    return namespace["decode_row"]  # type: ignore[no-any-return]


class RecordDecoder:
    """Decodes the CSV of one stream into records holding only the selected properties."""

    def __init__(
        self,
        stream: str,
        specs: list[FieldSpec],
        selected: list[str],
        *,
        renamed: dict[str, str] | None = None,
    ) -> None:
        self.stream = stream
        self.selected = selected
        self.kinds = {spec.name: spec.kind for spec in specs}
        self.renamed = {"Id": "id", **(renamed or {})}  # CSV column -> property

    def _plan(self, header: list[str]) -> list[tuple[int, str, str]]:
        plan = []
        for index, column in enumerate(header):
            name = self.renamed.get(column, column)
            if name in self.selected:
                plan.append((index, name, self.kinds.get(name, "string")))
        missing = set(self.selected) - {name for _, name, _ in plan}
        if missing:
            raise ExportFileError(
                f"{self.stream}: the export has no column for {sorted(missing)}; the field may "
                "have been renamed or deleted in Zoho. Run discovery again and update the catalog."
            )
        return plan

    def records(self, path: Path, job_id: str) -> Iterator[dict[str, Any]]:
        """Yield the typed records of a downloaded result zip, one row at a time."""
        for batch in self.batches(path, job_id):
            yield from batch

    def batches(self, path: Path, job_id: str, size: int = 2000) -> Iterator[list[dict[str, Any]]]:
        """Yield the typed records of a downloaded result zip, ``size`` rows at a time."""
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise ExportFileError(
                f"{self.stream}: the result of job {job_id} is not a valid zip file; run the "
                "sync again to download it anew."
            ) from None
        with archive:
            member = self._member(archive, job_id)
            with (
                archive.open(member) as raw,
                io.TextIOWrapper(raw, encoding="utf-8", newline="") as text,
            ):
                reader = csv.reader(text)
                try:
                    yield from self._read(reader, job_id, size)
                except csv.Error as exc:
                    raise ExportFileError(
                        f"{self.stream}: line {reader.line_num} of job {job_id}'s CSV cannot be "
                        f"read ({exc}); the export is damaged. Run the sync again."
                    ) from None
                except (zipfile.BadZipFile, zlib.error, EOFError):
                    raise ExportFileError(
                        f"{self.stream}: the result of job {job_id} is a damaged zip (it breaks "
                        f"off near line {reader.line_num}). Run the sync again."
                    ) from None
                except UnicodeDecodeError:
                    raise ExportFileError(
                        f"{self.stream}: job {job_id}'s CSV is not UTF-8 near line "
                        f"{reader.line_num}; the export is damaged. Run the sync again."
                    ) from None

    def _read(self, reader: Any, job_id: str, size: int) -> Iterator[list[dict[str, Any]]]:
        header = next(reader, None)
        if header is None:
            return
        plan = self._plan(header)
        decode_row = compile_row_decoder(plan)
        width = len(header)
        batch: list[dict[str, Any]] = []
        for row in reader:
            if len(row) != width:
                raise ExportFileError(
                    f"{self.stream}: row {reader.line_num} of job {job_id} has "
                    f"{len(row)} columns, the header {width}"
                )
            try:
                batch.append(decode_row(row))
            except (ValueError, KeyError, InvalidOperation) as exc:
                raise ExportFileError(self._bad_value(row, plan, reader.line_num, job_id)) from exc
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _member(self, archive: zipfile.ZipFile, job_id: str) -> str:
        names = archive.namelist()
        if len(names) != 1:
            raise ExportFileError(
                f"{self.stream}: the result of job {job_id} holds {len(names)} files, "
                "Zoho sends exactly one CSV"
            )
        name = names[0]
        if PurePosixPath(name).name != name or "\\" in name or not name.endswith(".csv"):
            raise ExportFileError(
                f"{self.stream}: the result of job {job_id} holds {name!r}, not a plain CSV name"
            )
        return name

    def _bad_value(
        self, row: list[str], plan: list[tuple[int, str, str]], line: int, job_id: str
    ) -> str:
        # the same generated code, one column at a time, finds the cell at fault
        for column in plan:
            index, name, _ = column
            try:
                compile_row_decoder([column])(row)
            except (ValueError, KeyError, InvalidOperation):
                return (
                    f"{self.stream}: row {line} of job {job_id} has {row[index]!r:.60} in "
                    f"{name}, which is not a valid {self.kinds.get(name, 'string')}"
                )
        return f"{self.stream}: row {line} of job {job_id} could not be decoded"
