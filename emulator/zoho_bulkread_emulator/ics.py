"""Events as Zoho's ICS export writes them, and the same events as ground truth.

Each Events record becomes one VEVENT; a recurring record is squashed into one VEVENT with an
RRULE, and an edited occurrence of it follows as its own VEVENT with RECURRENCE-ID. The text is
written by hand, byte for byte as RFC 5545 asks (CRLF, lines folded at 75 octets, between
characters or inside one as 3.1 allows, backslash, semicolon, comma and newlines escaped), so
that a client's parser meets what a real file holds; only VTIMEZONE comes from the icalendar
library. Pages vary as real writers do: the VTIMEZONE before or after the events, the zone by
its Olson name or by a name only the VTIMEZONE defines, DTEND or DURATION.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Timezone

from zoho_bulkread_emulator.org import USERS
from zoho_bulkread_emulator.records import MASK, ModuleData

ICS_KEY = 0x1C5  # mixes the ICS choices into the record hash
ICS_PER_PAGE = 20_000  # Zoho's limit for an ICS export, against 200,000 rows of CSV
RULES = (  # (RRULE, days between occurrences)
    ("FREQ=WEEKLY;COUNT=6", 7),
    ("FREQ=DAILY;INTERVAL=2;COUNT=4", 2),
    ("FREQ=WEEKLY;INTERVAL=2;UNTIL=20301231T235959Z", 14),
)
USER_EMAILS = {user.id: user for user in USERS}


@dataclass(frozen=True)
class CalendarEvent:
    """One VEVENT: a single event, a recurring series, or an edited occurrence of a series."""

    uid: str
    start: datetime | date  # datetimes are timezone-aware
    end: datetime | date
    summary: str
    description: str | None
    location: str | None
    organizer: tuple[str, str]  # (name, email)
    attendees: tuple[tuple[str, str], ...]
    last_modified: int
    created: int
    rrule: str | None = None
    recurrence_id: datetime | date | None = None
    status: str = "CONFIRMED"
    sequence: int = 0

    def truth(self) -> dict[str, Any]:
        """What a client should read from this VEVENT (datetimes in UTC, dates as dates)."""
        return {
            "uid": self.uid,
            "recurrence_id": _truth_time(self.recurrence_id),
            "summary": self.summary,
            "description": self.description,
            "location": self.location,
            "start": _truth_time(self.start),
            "end": _truth_time(self.end),
            "all_day": not isinstance(self.start, datetime),
            "rrule": self.rrule,
            "organizer": self.organizer[1],
            "attendees": [email for _, email in self.attendees],
            "status": self.status,
            "sequence": self.sequence,
            "created": _truth_time(_utc(self.created)),
            "last_modified": _truth_time(_utc(self.last_modified)),
        }


def _utc(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, timezone.utc)


def _truth_time(moment: datetime | date | None) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, datetime):
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return moment.isoformat()


def calendar_events(
    data: ModuleData, indices: Iterable[int], zone: ZoneInfo
) -> Iterator[CalendarEvent]:
    """The VEVENTs of the Events records at ``indices``, edited occurrences after their series."""
    fields = data.module.field_index
    read = {name: data.reader(fields[name]) for name in fields}
    for index in indices:
        h = hash((data.seed_key, index, ICS_KEY)) & MASK  # ints only: not salted per process
        start_epoch = read["Start_DateTime"](index)
        end_epoch = max(start_epoch, read["End_DateTime"](index) or start_epoch)
        end_epoch = min(end_epoch, start_epoch + 6 * 3600)
        start: datetime | date = datetime.fromtimestamp(start_epoch, zone)
        end: datetime | date = datetime.fromtimestamp(end_epoch, zone)
        if read["All_day"](index):
            start = start.date()  # type: ignore[union-attr]
            end = start + timedelta(days=1 + h % 2)
        owner = USER_EMAILS.get(read["Owner"](index) or "", USERS[0])
        attendees = tuple(
            (user.full_name, user.email)
            for bit, user in enumerate(USERS)
            if (h >> (8 + bit)) & 1 and user is not owner
        )
        venue = read["Venue"](index)
        location = venue
        if venue and h % 5 == 0:
            location = f"Salle de réunion «{venue}», bâtiment {h % 9} \\ étage {h % 4} — café"
        rule = RULES[(h >> 20) % len(RULES)] if (h >> 16) % 5 == 0 else None
        event = CalendarEvent(
            uid=f"{data.id_of(index)}@zoho.com",
            start=start,
            end=end,
            summary=str(read["Event_Title"](index)),
            description=_lines(read["Description"](index)),
            location=location,
            organizer=(owner.full_name, owner.email),
            attendees=attendees,
            last_modified=data.modified_time(index),
            created=data.created_time(index),
            rrule=rule[0] if rule else None,
            status="TENTATIVE" if h % 7 == 0 else "CONFIRMED",
        )
        yield event
        if rule and (h >> 24) % 2 == 0:
            step = timedelta(days=rule[1])
            moved = timedelta(hours=2 if isinstance(start, datetime) else 0)
            yield replace(
                event,
                start=start + step + moved,
                end=end + step + moved,
                summary=f"{event.summary} (moved)",
                rrule=None,
                recurrence_id=start + step,
                status="CONFIRMED",
                sequence=1,
            )


def _lines(text: str | None) -> str | None:
    """Text as an ICS value can hold it: line breaks are plain newlines."""
    return None if text is None else text.replace("\r\n", "\n").replace("\r", "\n")


def escape_text(value: str) -> str:
    """An iCalendar TEXT value: backslash, semicolon, comma and newlines escaped."""
    escaped = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return escaped.replace("\n", "\\n")


def fold(line: str, *, on_octets: bool = False) -> bytes:
    """A content line as UTF-8, folded so no physical line exceeds 75 octets (CRLF excluded).

    Folds fall between characters, or, ``on_octets``, at exactly 75 octets even inside a
    multi-byte character, which RFC 5545 3.1 allows and some writers do.
    """
    raw = line.encode()
    if len(raw) <= 75:
        return raw + b"\r\n"
    pieces, start, limit = [], 0, 75
    while start < len(raw):
        end = min(start + limit, len(raw))
        while not on_octets and end < len(raw) and raw[end] & 0xC0 == 0x80:
            end -= 1
        pieces.append(raw[start:end])
        start, limit = end, 74  # continuation lines start with a space
    return b"\r\n ".join(pieces) + b"\r\n"


def _ics_time(moment: datetime | date, zone: ZoneInfo, name: str, tzid: str = "") -> str:
    if not isinstance(moment, datetime):
        return f"{name};VALUE=DATE:{moment.strftime('%Y%m%d')}"
    local = moment.astimezone(zone)
    return f"{name};TZID={tzid or zone.key}:{local.strftime('%Y%m%dT%H%M%S')}"


def _elapsed(start: datetime | date, end: datetime | date) -> timedelta:
    """The time elapsed between two aware datetimes (in UTC: not their wall-clock difference)."""
    assert isinstance(start, datetime) and isinstance(end, datetime)
    return end.astimezone(timezone.utc) - start.astimezone(timezone.utc)


def _duration(span: timedelta) -> str:
    """An RFC 5545 DURATION of elapsed time: ``PT7H30M``."""
    minutes, seconds = divmod(int(span.total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    return f"PT{hours}H{minutes}M{seconds}S"


def _utc_text(epoch_seconds: int) -> str:
    return _utc(epoch_seconds).strftime("%Y%m%dT%H%M%SZ")


def vevent_lines(event: CalendarEvent, zone: ZoneInfo, tzid: str = "") -> list[str]:
    """The content lines of one VEVENT, unfolded.

    A timed event whose uid hashes odd ends by DURATION (elapsed time, which differs from the
    wall-clock difference across a daylight-saving change) instead of DTEND.
    """
    by_duration = isinstance(event.start, datetime) and zlib.crc32(event.uid.encode()) % 2 == 1
    assert isinstance(event.end, datetime) or not by_duration
    lines = [
        "BEGIN:VEVENT",
        f"UID:{event.uid}",
        f"DTSTAMP:{_utc_text(event.last_modified)}",
        _ics_time(event.start, zone, "DTSTART", tzid),
        f"DURATION:{_duration(_elapsed(event.start, event.end))}"
        if by_duration
        else _ics_time(event.end, zone, "DTEND", tzid),
    ]
    if event.recurrence_id is not None:
        lines.append(_ics_time(event.recurrence_id, zone, "RECURRENCE-ID", tzid))
    if event.rrule:
        lines.append(f"RRULE:{event.rrule}")
    lines.append(f"SUMMARY:{escape_text(event.summary)}")
    if event.description is not None:
        lines.append(f"DESCRIPTION:{escape_text(event.description)}")
    if event.location is not None:
        lines.append(f"LOCATION:{escape_text(event.location)}")
    name, email = event.organizer
    lines.append(f'ORGANIZER;CN="{name}":mailto:{email}')
    lines += [
        f'ATTENDEE;CN="{name}";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{email}'
        for name, email in event.attendees
    ]
    lines += [
        f"STATUS:{event.status}",
        f"SEQUENCE:{event.sequence}",
        f"CREATED:{_utc_text(event.created)}",
        f"LAST-MODIFIED:{_utc_text(event.last_modified)}",
        "END:VEVENT",
    ]
    return lines


def timezone_block(zone: ZoneInfo, tzid: str = "") -> bytes:
    """The VTIMEZONE of the org's zone for the years the records span (folded, CRLF).

    With ``tzid``, the zone goes by that name, which no Olson database knows: a reader must
    take its offsets and daylight-saving rules from this VTIMEZONE.
    """
    component = Timezone.from_tzinfo(zone, first_date=date(2017, 1, 1), last_date=date(2032, 1, 1))
    if tzid:
        component["TZID"] = tzid
    return bytes(component.to_ical())


def write_calendar(out: Any, events: Iterable[CalendarEvent], zone: ZoneInfo) -> None:
    """Write a VCALENDAR holding ``events`` to the binary stream ``out``.

    How the file is written varies by page, as real writers vary (the truth never does): folds
    between characters or on octets, the VTIMEZONE before or after the events, the zone by its
    Olson name or by a name only the VTIMEZONE defines.
    """
    page = list(events)
    variant = zlib.crc32(page[0].uid.encode()) if page else 0
    on_octets, zone_last, custom = bool(variant & 1), bool(variant & 2), bool(variant & 4)
    tzid = f"Zoho Org Time ({zone.key})" if custom else ""
    for line in ("BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Zoho Corporation//Zoho CRM//EN",
                 "CALSCALE:GREGORIAN", "METHOD:PUBLISH"):  # fmt: skip
        out.write(fold(line))
    if not zone_last:
        out.write(timezone_block(zone, tzid))
    for event in page:
        for line in vevent_lines(event, zone, tzid):
            out.write(fold(line, on_octets=on_octets))
    if zone_last:
        out.write(timezone_block(zone, tzid))
    out.write(fold("END:VCALENDAR"))
