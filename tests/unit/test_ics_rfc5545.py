"""Events as RFC 5545 says, each case a hand-written file whose expected values are computed
here from the event's own terms (zoneinfo for Olson zones, the VTIMEZONE's rules by hand),
never from a parse of the text by the code under test."""

from __future__ import annotations

import zipfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tap_zoho_bulkread.bulk.ics import ics_records
from tap_zoho_bulkread.errors import ExportFileError

UTC = timezone.utc
JOB = "4876543000002001001"

CUSTOM_IST = (
    "BEGIN:VTIMEZONE\r\nTZID:Custom IST\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
    "TZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
)
CUSTOM_PACIFIC = (  # the US rules since 2007, under a name no Olson database knows
    "BEGIN:VTIMEZONE\r\nTZID:Custom Pacific\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:20070311T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\n"
    "TZOFFSETFROM:-0800\r\nTZOFFSETTO:-0700\r\nEND:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\nDTSTART:20071104T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\n"
    "TZOFFSETFROM:-0700\r\nTZOFFSETTO:-0800\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
)


def event(uid: str, *lines: str) -> str:
    return (
        "BEGIN:VEVENT\r\n"
        + f"UID:{uid}\r\n"
        + "".join(f"{x}\r\n" for x in lines)
        + "END:VEVENT\r\n"
    )


def records(tmp_path: Path, body: bytes | str, count: int | None = None) -> list[dict]:
    data = body.encode() if isinstance(body, str) else body
    path = tmp_path / "page.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            f"{JOB}.ics", b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + data + b"END:VCALENDAR\r\n"
        )
    return list(ics_records(path, JOB, "Events_ICS", count))


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def test_a_fold_inside_a_multibyte_character_is_joined_before_decoding(tmp_path: Path) -> None:
    """RFC 5545 3.1: folding is on octets and may split a character (here é, C3 A9)."""
    summary = "x" * 66 + "équipe"
    line = ("SUMMARY:" + summary).encode()
    cut = line.index("é".encode()) + 1  # between the two octets of é
    folded = line[:cut] + b"\r\n " + line[cut:]
    body = (
        b"BEGIN:VEVENT\r\nUID:f1\r\nDTSTART:20260601T090000Z\r\n" + folded + b"\r\nEND:VEVENT\r\n"
    )
    (record,) = records(tmp_path, body)
    assert record["summary"] == summary
    assert summary in record["vevent"].replace("\r\n ", "")  # refolded on characters


def test_a_vtimezone_after_the_events_that_use_it_is_applied(tmp_path: Path) -> None:
    body = (
        event(
            "ist-1",
            "DTSTART;TZID=Custom IST:20260601T093000",
            "DTEND;TZID=Custom IST:20260601T103000",
        )
        + event(
            "ist-1",
            "RECURRENCE-ID;TZID=Custom IST:20260608T093000",
            "DTSTART;TZID=Custom IST:20260608T110000",
        )
        + CUSTOM_IST
    )
    first, edited = records(tmp_path, body)
    ist = timezone(timedelta(hours=5, minutes=30))
    assert first["start"] == utc(datetime(2026, 6, 1, 9, 30, tzinfo=ist))  # 04:00Z, not 09:30Z
    assert first["end"] == utc(datetime(2026, 6, 1, 10, 30, tzinfo=ist))
    assert edited["recurrence_id"] == utc(datetime(2026, 6, 8, 9, 30, tzinfo=ist))
    assert edited["id"] == "ist-1/" + utc(datetime(2026, 6, 8, 9, 30, tzinfo=ist))


def test_a_time_in_the_gap_of_a_vtimezone_zone_takes_the_offset_before_the_gap(
    tmp_path: Path,
) -> None:
    """RFC 5545 3.3.5: 02:30 on 2026-03-08 does not exist in US Pacific; read at -08:00."""
    body = CUSTOM_PACIFIC + event("gap", "DTSTART;TZID=Custom Pacific:20260308T023000")
    (record,) = records(tmp_path, body)
    assert record["start"] == utc(datetime(2026, 3, 8, 2, 30, tzinfo=timezone(timedelta(hours=-8))))
    # the same rule as zoneinfo's for the Olson zone with the same rules (fold=0)
    la = datetime(2026, 3, 8, 2, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert record["start"] == utc(la) == "2026-03-08T10:30:00+00:00"


def test_a_time_in_the_overlap_is_its_first_occurrence(tmp_path: Path) -> None:
    body = CUSTOM_PACIFIC + event("overlap", "DTSTART;TZID=Custom Pacific:20261101T013000")
    (record,) = records(tmp_path, body)
    assert record["start"] == utc(
        datetime(2026, 11, 1, 1, 30, tzinfo=timezone(timedelta(hours=-7)))
    )


@pytest.mark.parametrize(
    ("local", "duration", "expected"),
    [
        ("20261101T003000", "PT2H", "2026-11-01T09:30:00+00:00"),  # across the fall-back hour
        ("20260308T013000", "PT2H", "2026-03-08T11:30:00+00:00"),  # across the spring gap
        ("20260307T100000", "P1D", "2026-03-08T17:00:00+00:00"),  # a calendar day: 10:00 PDT
        ("20260307T100000", "P1DT1H", "2026-03-08T18:00:00+00:00"),
    ],
)
def test_duration_days_follow_the_calendar_and_hours_are_elapsed_time(
    tmp_path: Path, local: str, duration: str, expected: str
) -> None:
    la = ZoneInfo("America/Los_Angeles")
    start = datetime.strptime(local, "%Y%m%dT%H%M%S")
    days, hours = {"PT2H": (0, 2), "P1D": (1, 0), "P1DT1H": (1, 1)}[duration]
    # the calendar days on the wall clock (zoneinfo), then the hours as elapsed UTC time
    wall = (start + timedelta(days=days)).replace(tzinfo=la)
    assert utc(wall.astimezone(UTC) + timedelta(hours=hours)) == expected
    body = event("d", f"DTSTART;TZID=America/Los_Angeles:{local}", f"DURATION:{duration}")
    (record,) = records(tmp_path, body)
    assert record["end"] == expected


def test_an_unknown_tzid_is_refused_naming_the_zone(tmp_path: Path) -> None:
    body = event("mars", "DTSTART;TZID=Mars/Olympus_Mons:20240101T100000")
    with pytest.raises(ExportFileError, match="'Mars/Olympus_Mons', which is neither a known zone"):
        records(tmp_path, body)


def test_more_events_than_the_jobs_count_are_refused(tmp_path: Path) -> None:
    body = "".join(event(f"e{n}", "DTSTART:20260601T090000Z") for n in range(5))
    assert len(records(tmp_path, body, count=5)) == 5
    with pytest.raises(ExportFileError, match=r"more events than the job's count \(4\)"):
        records(tmp_path, body, count=4)


def test_an_event_without_end_ends_as_rfc_5545_says(tmp_path: Path) -> None:
    """3.6.1: a date DTSTART lasts one day; a date-time one ends at its start."""
    body = event("all-day", "DTSTART;VALUE=DATE:20260601") + event(
        "moment", "DTSTART:20260601T090000Z"
    )
    day, moment = records(tmp_path, body)
    assert day["end"] == (date(2026, 6, 1) + timedelta(days=1)).isoformat()
    assert moment["end"] == moment["start"] == "2026-06-01T09:00:00+00:00"
