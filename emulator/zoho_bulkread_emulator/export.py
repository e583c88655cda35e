"""Writing a job's result the way Zoho does: a zip holding one ``{job_id}.csv`` (or ``.ics``)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from zoho_bulkread_emulator.criteria import Column
from zoho_bulkread_emulator.ics import calendar_events, write_calendar
from zoho_bulkread_emulator.org import Field
from zoho_bulkread_emulator.records import ModuleData, format_datetime


def cell_formatter(item: Field, zone: ZoneInfo) -> Callable[[Any], str]:
    """Return the function that writes one value of ``item`` as a CSV cell."""
    if item.value_type == "datetime":
        return lambda v: "" if v is None else format_datetime(v, zone)
    if item.value_type == "boolean":
        return lambda v: "" if v is None else ("true" if v else "false")
    separator = "," if item.api_name == "Tag" else ";"

    def plain(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, list):
            return separator.join(value)
        return str(value)

    return plain


def write_csv_zip(
    path: Path,
    job_id: str,
    columns: tuple[Column, ...],
    indices: Iterable[int],
    zone: ZoneInfo,
) -> None:
    """Write the matching records to ``path`` as a zip with one ``{job_id}.csv``.

    UTF-8 without BOM, comma separated, minimal quoting, CRLF between records.
    """
    readers = [(column.read, cell_formatter(column.field, zone)) for column in columns]
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open(f"{job_id}.csv", "w", force_zip64=True) as member,
        io.TextIOWrapper(member, encoding="utf-8", newline="") as text,
    ):
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow([column.header for column in columns])
        writer.writerows([fmt(read(index)) for read, fmt in readers] for index in indices)


def write_ics_zip(
    path: Path, job_id: str, data: ModuleData, indices: Iterable[int], zone: ZoneInfo
) -> None:
    """Write Events as an iCalendar file ``{job_id}.ics`` inside a zip."""
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open(f"{job_id}.ics", "w", force_zip64=True) as member,
        io.BufferedWriter(member) as out,
    ):
        write_calendar(out, calendar_events(data, indices, zone), zone)
