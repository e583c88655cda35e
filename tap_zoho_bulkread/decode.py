"""A downloaded zip -> its one CSV member -> typed records, row by row, never all in memory."""

from __future__ import annotations

import csv
import io
import zipfile
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

Decoder = Callable[[str], Any]
BOOLEANS = {"true": True, "false": False}


def utc_datetime(text: str) -> str:
    """Any ISO 8601 datetime with an offset -> ``YYYY-MM-DDTHH:MM:SS+00:00`` (UTC).

    singer-sdk compares bookmarks as strings; one canonical form keeps that correct even when
    the export mixes daylight-saving offsets.
    """
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def _boolean(text: str) -> bool:
    return BOOLEANS[text]


def _multi(text: str) -> list[str]:
    return text.split(";")


def _tags(text: str) -> list[str]:
    return [tag.strip() for tag in text.split(",") if tag.strip()]


DECODERS: dict[str, Decoder] = {
    KIND_INTEGER: int,
    KIND_NUMBER: Decimal,
    KIND_BOOLEAN: _boolean,
    KIND_DATETIME: utc_datetime,
    KIND_MULTI: _multi,
    KIND_TAGS: _tags,
}


def _identity(text: str) -> str:
    return text


class RecordDecoder:
    """Decodes the CSV of one stream into records holding only the selected properties."""

    def __init__(self, stream: str, specs: list[FieldSpec], selected: list[str]) -> None:
        self.stream = stream
        self.selected = selected
        self.kinds = {spec.name: spec.kind for spec in specs}
        self.decoders: dict[str, Decoder] = {
            spec.name: DECODERS.get(spec.kind, _identity) for spec in specs
        }
        self.decoders["id"] = _identity

    def _plan(self, header: list[str]) -> list[tuple[int, str, Decoder]]:
        plan = []
        for index, column in enumerate(header):
            name = "id" if column in ("Id", "id") else column
            if name in self.selected:
                plan.append((index, name, self.decoders.get(name, _identity)))
        missing = set(self.selected) - {name for _, name, _ in plan}
        if missing:
            raise ExportFileError(
                f"{self.stream}: the export has no column for {sorted(missing)}; the field may "
                "have been renamed or deleted in Zoho. Run discovery again and update the catalog."
            )
        return plan

    def records(self, path: Path, job_id: str) -> Iterator[dict[str, Any]]:
        """Yield the typed records of a downloaded result zip, one row at a time."""
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
                header = next(reader, None)
                if header is None:
                    return
                plan = self._plan(header)
                width = len(header)
                for line, row in enumerate(reader, start=2):
                    if len(row) != width:
                        raise ExportFileError(
                            f"{self.stream}: row {line} of job {job_id} has {len(row)} columns, "
                            f"the header {width}"
                        )
                    try:
                        yield {
                            name: None if row[index] == "" else decode(row[index])
                            for index, name, decode in plan
                        }
                    except (ValueError, KeyError, InvalidOperation) as exc:
                        raise ExportFileError(self._bad_value(row, plan, line, job_id)) from exc

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
        self, row: list[str], plan: list[tuple[int, str, Decoder]], line: int, job_id: str
    ) -> str:
        for index, name, decode in plan:
            try:
                if row[index] != "":
                    decode(row[index])
            except (ValueError, KeyError, InvalidOperation):
                return (
                    f"{self.stream}: row {line} of job {job_id} has {row[index]!r:.60} in "
                    f"{name}, which is not a valid {self.kinds.get(name, 'string')}"
                )
        return f"{self.stream}: row {line} of job {job_id} could not be decoded"
