"""Zoho's ICS export of Events -> one record per VEVENT, parsed by the icalendar library.

The file is read one VEVENT at a time (never whole): its time zones are parsed first, then
each VEVENT on its own. What the library reads leniently (a bad date, a missing UID) is refused
here, as a CSV cell would be.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import IO, Any

import icalendar
from icalendar.parser import Contentlines
from icalendar.prop import vDDDTypes

from tap_zoho_bulkread.bulk.result_zip import DAMAGED_ZIP, damaged_zip, result_member
from tap_zoho_bulkread.errors import ExportFileError
from tap_zoho_bulkread.times import zoho_datetime

MAX_LINE_BYTES = 1024 * 1024
MAX_EVENT_BYTES = 4 * 1024 * 1024
MAX_TIMEZONE_BYTES = 1024 * 1024
MAX_ATTENDEES = 5000
MAX_TIMEZONES = 1000
FOLD_OCTETS = 75
MAX_EVENTS_PER_PAGE = 20_000  # Zoho's page of an ICS export
MAX_LINES_BETWEEN = 1000  # calendar properties between components: a handful in a real file

NULLABLE_STRING = {"type": ["string", "null"]}
EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Zoho Events as ICS (file_type ics): one row per VEVENT. A recurring event "
    "is one row with rrule; an edited occurrence is a row of its own with recurrence_id.",
    "properties": {
        "id": {"type": ["string"], "description": "uid, plus '/' and recurrence_id if any"},
        "uid": {"type": ["string"]},
        "recurrence_id": {
            **NULLABLE_STRING,
            "description": "The occurrence an edited instance replaces (UTC, or a date)",
        },
        "summary": NULLABLE_STRING,
        "description": NULLABLE_STRING,
        "location": NULLABLE_STRING,
        "start": {**NULLABLE_STRING, "description": "UTC datetime, or a date (all-day)"},
        "end": {**NULLABLE_STRING, "description": "UTC datetime, or a date (all-day; exclusive)"},
        "all_day": {"type": ["boolean", "null"]},
        "rrule": {**NULLABLE_STRING, "description": "The recurrence rule, as in the file"},
        "organizer": {**NULLABLE_STRING, "description": "The organizer's email address"},
        "attendees": {"type": ["array", "null"], "items": {"type": "string"}},
        "status": NULLABLE_STRING,
        "sequence": {"type": ["integer", "null"]},
        "created": {"type": ["string", "null"], "format": "date-time"},
        "last_modified": {"type": ["string", "null"], "format": "date-time"},
        "vevent": {**NULLABLE_STRING, "description": "The VEVENT as Zoho wrote it (folded)"},
    },
}


def ics_records(
    path: Path, job_id: str, stream: str, count: int | None = None
) -> Iterator[dict[str, Any]]:
    """Yield a record per VEVENT of the ICS file in a downloaded result zip.

    A first pass reads the VTIMEZONEs wherever they stand in the file (RFC 5545 allows any
    order), a second the VEVENTs. ``count`` (the job's record count) bounds the events that are
    not edited occurrences; all VEVENTs together are bounded by Zoho's 20,000 a page.
    """
    for read in (_register_time_zones, _events):
        with result_member(path, job_id, stream, "ics") as raw:
            reader = _ComponentReader(raw, f"{stream}: job {job_id}'s ICS")
            try:
                yield from read(reader, count)
            except DAMAGED_ZIP:
                raise damaged_zip(stream, job_id, f"near line {reader.line}") from None
            except UnicodeDecodeError:
                raise ExportFileError(
                    f"{reader.where} is not UTF-8 near line {reader.line}; the export is "
                    "damaged. Run the sync again."
                ) from None
            except ValueError as exc:
                raise ExportFileError(
                    f"{reader.where} cannot be read near line {reader.line} ({str(exc)[:120]}); "
                    "the export is damaged. Run the sync again."
                ) from None


def _register_time_zones(reader: _ComponentReader, count: int | None) -> Iterator[Any]:
    """Pass 1: every VTIMEZONE, parsed as a calendar of its own (the library keeps it)."""
    del count
    for zones, (_, text) in enumerate(reader.components("VTIMEZONE"), start=1):
        if zones > MAX_TIMEZONES:
            raise ExportFileError(f"{reader.where} defines over {MAX_TIMEZONES} time zones")
        icalendar.Calendar.from_ical(b"BEGIN:VCALENDAR\r\n" + unfolded(text) + b"END:VCALENDAR\r\n")
    yield from ()


def _events(reader: _ComponentReader, count: int | None) -> Iterator[dict[str, Any]]:
    """Pass 2: a record per VEVENT, bounded by the job's count and Zoho's page."""
    masters = 0
    for events, (_, text) in enumerate(reader.components("VEVENT"), start=1):
        record = event_record(text, f"{reader.where} (line {reader.line})")
        masters += record["recurrence_id"] is None
        bound = (
            f"the job's count ({count})" if count is not None and masters > count
            else f"Zoho's {MAX_EVENTS_PER_PAGE} a page" if events > MAX_EVENTS_PER_PAGE
            else None
        )  # fmt: skip
        if bound:
            raise ExportFileError(
                f"{reader.where} holds more events than {bound}; the export is not what Zoho "
                "sends. Run the sync again."
            )
        yield record


FOLD = re.compile(rb"\r?\n[ \t]")  # RFC 5545 3.1: a line break and one space or tab


def unfolded(text: bytes) -> bytes:
    """A component's lines unfolded on octets, before any decoding.

    RFC 5545 3.1: a fold may split a multi-byte UTF-8 character.
    """
    return FOLD.sub(b"", text)


def folded(text: str) -> str:
    """Content lines folded at 75 octets on character boundaries, as RFC 5545 writers do."""
    out = []
    for line in text.split("\r\n"):
        chunk, size = "", 0
        for char in line:
            width = len(char.encode())
            if size + width > FOLD_OCTETS:
                out.append(chunk)
                chunk, size = " ", 1
            chunk += char
            size += width
        out.append(chunk)
    return "\r\n".join(out)


class _ComponentReader:
    """The top-level components of a VCALENDAR, as raw (folded) text, each bounded in size."""

    def __init__(self, raw: IO[bytes], where: str) -> None:
        self.raw, self.where, self.line = raw, where, 0

    def _lines(self) -> Iterator[bytes]:
        while True:
            line = self.raw.readline(MAX_LINE_BYTES + 1)
            if not line:
                return
            self.line += 1
            if len(line) > MAX_LINE_BYTES:
                raise ExportFileError(
                    f"{self.where} has a line over {MAX_LINE_BYTES // 2**20} MiB near line "
                    f"{self.line}; no real export holds one. Run the sync again."
                )
            yield line

    def components(self, wanted: str) -> Iterator[tuple[str, bytes]]:
        """Yield (name, text) of each ``wanted`` component inside the VCALENDAR."""
        lines = self._lines()
        first = next(lines, b"").lstrip(b"\xef\xbb\xbf").rstrip(b"\r\n")
        if first.upper() != b"BEGIN:VCALENDAR":
            raise ExportFileError(
                f"{self.where} does not start with BEGIN:VCALENDAR; it is not an iCalendar "
                "file. Run the sync again."
            )
        parts: list[bytes] = []
        name, size, ended, between = "", 0, False, 0
        for line in lines:
            bare = line.rstrip(b"\r\n").upper()
            if not name:
                if bare.startswith(b"BEGIN:"):
                    name, parts, size = bare[6:].decode("ascii", "replace"), [line], len(line)
                    between = 0
                elif bare == b"END:VCALENDAR":
                    ended = True
                    break
                else:
                    between += 1
                    if between > MAX_LINES_BETWEEN:  # blank lines by the million: a bomb
                        raise ExportFileError(
                            f"{self.where} has over {MAX_LINES_BETWEEN} lines outside any "
                            f"component near line {self.line}; no real export holds them. Run "
                            "the sync again."
                        )
                continue
            parts.append(line)
            size += len(line)
            limit = MAX_TIMEZONE_BYTES if name == "VTIMEZONE" else MAX_EVENT_BYTES
            if size > limit:
                raise ExportFileError(
                    f"{self.where} has a {name[:20]} over {limit // 2**20} MiB near line "
                    f"{self.line}; no real export holds one. Run the sync again."
                )
            if bare == f"END:{name}".encode():
                if name == wanted:
                    yield name, b"".join(parts)
                name, parts = "", []
        if name or not ended:
            raise ExportFileError(
                f"{self.where} breaks off at line {self.line} before END:VCALENDAR; the "
                "export is incomplete. Run the sync again."
            )


def _moment_text(value: date) -> str:
    """A date as ISO text; a datetime in UTC (a floating one, with no zone, taken as UTC)."""
    return zoho_datetime(value) if isinstance(value, datetime) else value.isoformat()


def utc_of_local(local: datetime, zone: tzinfo) -> datetime:
    """The UTC moment of a wall-clock time in ``zone``, by RFC 5545 3.3.5.

    A time that occurs twice (an overlap) is its first occurrence; a time that does not occur
    (a gap) is read with the offset from before the gap. Both are the offset in effect before
    the transition, whichever way the zone is defined (Olson name or VTIMEZONE).
    """
    naive = local.replace(tzinfo=None)
    candidates = []
    for probe in (naive - timedelta(days=1), naive, naive + timedelta(days=1)):
        offset = zone.utcoffset(probe)
        if offset is None:
            continue
        moment = (naive - offset).replace(tzinfo=timezone.utc)
        if moment.astimezone(zone).replace(tzinfo=None) == naive:
            candidates.append(moment)
    if candidates:
        return min(candidates)
    before = zone.utcoffset(naive - timedelta(days=1))  # in a gap: the offset before it
    return (naive - (before or timedelta(0))).replace(tzinfo=timezone.utc)


def _resolved(prop: Any, name: str, where: str) -> date:
    """A DTSTART-like value as a date, or a datetime in UTC; an unknown TZID is refused."""
    value = prop.dt if isinstance(prop, vDDDTypes) else None
    if not isinstance(value, date):
        raise ExportFileError(f"{where}: {name} is not a date or a date-time ({str(prop)[:40]!r})")
    if not isinstance(value, datetime):
        return value
    tzid = prop.params.get("TZID")
    if value.tzinfo is None:
        if tzid:
            raise ExportFileError(
                f"{where}: {name} names the time zone {str(tzid)[:60]!r}, which is neither a "
                "known zone nor defined by a VTIMEZONE in the file; its times cannot be read. "
                "Run the sync again; if it repeats, report it to Zoho."
            )
        return value.replace(tzinfo=timezone.utc)  # floating: taken as UTC (documented)
    return utc_of_local(value, value.tzinfo)


def _moment(event: icalendar.Event, name: str, where: str) -> str | None:
    prop = event.get(name)
    return None if prop is None else _moment_text(_resolved(prop, name, where))


def _end(event: icalendar.Event, start: date | None, where: str) -> str | None:
    """DTEND; else DTSTART + DURATION; else RFC 5545 3.6.1's end (a day later, or the start).

    DURATION's days and weeks follow the calendar (wall-clock days), its hours, minutes and
    seconds are elapsed time (RFC 5545 3.3.6).
    """
    if event.get("DTEND") is not None:
        return _moment(event, "DTEND", where)
    if start is None:
        return None
    duration = event.get("DURATION")
    if duration is None:
        return _moment_text(start + timedelta(days=1) if not isinstance(start, datetime) else start)
    span = duration.dt if hasattr(duration, "dt") else None
    if not isinstance(span, timedelta):
        raise ExportFileError(f"{where}: DURATION is not a duration ({str(duration)[:40]!r})")
    if not isinstance(start, datetime):
        return _moment_text(start + timedelta(days=span.days))
    days, elapsed = timedelta(days=span.days), span - timedelta(days=span.days)
    local = event.get("DTSTART").dt
    if isinstance(local, datetime) and local.tzinfo is not None:
        start = utc_of_local(local.replace(tzinfo=None) + days, local.tzinfo)
    else:
        start = start + days
    return _moment_text(start + elapsed)


def _text(event: icalendar.Event, name: str) -> str | None:
    value = event.get(name)
    return None if value is None else str(value)


def _email(address: Any) -> str:
    text = str(address)
    return text[7:] if text.lower().startswith("mailto:") else text


def event_record(text: bytes, where: str) -> dict[str, Any]:
    """The record of one VEVENT's text; a value the library could not read is refused."""
    plain = unfolded(text)
    event = icalendar.Event.from_ical(plain)
    if not isinstance(event, icalendar.Event):
        raise ExportFileError(f"{where}: a VEVENT could not be read")
    if event.errors:
        prop, problem = event.errors[0]
        raise ExportFileError(
            f"{where}: the VEVENT's {str(prop)[:30]} cannot be read ({str(problem)[:80]}); the "
            "export is damaged. Run the sync again."
        )
    uid = _text(event, "UID")
    if not uid:
        raise ExportFileError(f"{where}: a VEVENT has no UID; the export is damaged.")
    start_prop = event.get("DTSTART")
    start_value = None if start_prop is None else _resolved(start_prop, "DTSTART", where)
    start = None if start_value is None else _moment_text(start_value)
    end = _end(event, start_value, where)
    recurrence_id = _moment(event, "RECURRENCE-ID", where)
    attendees = event.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else [attendees] if attendees else []
    if len(attendees) > MAX_ATTENDEES:
        raise ExportFileError(f"{where}: a VEVENT lists over {MAX_ATTENDEES} attendees")
    try:
        vevent = text.decode()
    except UnicodeDecodeError:  # a fold split a character: the VEVENT folded again, whole
        vevent = folded(plain.decode())
    rrules = _raw_values(vevent, "RRULE") if event.get("RRULE") is not None else []
    sequence = event.get("SEQUENCE")
    organizer = event.get("ORGANIZER")
    return {
        "id": uid if recurrence_id is None else f"{uid}/{recurrence_id}",
        "uid": uid,
        "recurrence_id": recurrence_id,
        "summary": _text(event, "SUMMARY"),
        "description": _text(event, "DESCRIPTION"),
        "location": _text(event, "LOCATION"),
        "start": start,
        "end": end,
        "all_day": None if start is None else "T" not in start,
        "rrule": "\n".join(rrules) or None,
        "organizer": None if organizer is None else _email(organizer),
        "attendees": [_email(a) for a in attendees],
        "status": _text(event, "STATUS"),
        "sequence": int(sequence) if sequence is not None else None,
        "created": _moment(event, "CREATED", where),
        "last_modified": _moment(event, "LAST-MODIFIED", where),
        "vevent": vevent,
    }


def _raw_values(text: str, name: str) -> list[str]:
    """The values of property ``name`` as written (the library would reorder an RRULE's parts)."""
    found = []
    for line in Contentlines.from_ical(text):  # type: ignore[no-untyped-call]
        if line[: len(name) + 1].upper() in (f"{name}:", f"{name};"):
            found.append(str(line.parts()[2]))
    return found
