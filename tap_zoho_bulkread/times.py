"""Times, one place: parse a setting's datetime, write one as the tap does, turn Zoho's to UTC.

Every datetime the tap writes (records, bookmarks, criteria values) is
``YYYY-MM-DDTHH:MM:SS+00:00``: singer-sdk compares bookmarks as strings, and one canonical form
keeps that correct even when an export mixes daylight-saving offsets.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

# "THH:" -> HH, and every valid "MM:SS": small enough to stay in the CPU's cache
_HOURS = {f"T{h:02d}:": h for h in range(24)}
_MINUTES_SECONDS = frozenset(f"{m:02d}:{s:02d}" for m in range(60) for s in range(60))
_T_HOURS = tuple(f"T{h % 24:02d}" for h in range(48))  # "T00" to "T23", twice over
# A UTC offset at the end of a datetime; ISO 8601 and Zoho keep to hours 00-14, minutes 00-59.
_OFFSET = re.compile(r"[+-]([0-9]{2}):?([0-9]{2})(?::?[0-9]{2}(?:[.,][0-9]+)?)?$").search
MAX_OFFSET_HOURS, MAX_OFFSET_MINUTES = 14, 59


# (local date + offset) -> the UTC "YYYY-MM-DDTHH" of each of that day's 24 local hours.
_UTC_HOURS: dict[str, tuple[str, ...]] = {}


def utc_datetime(text: str) -> str:
    """An ISO 8601 datetime with an offset -> ``YYYY-MM-DDTHH:MM:SS+00:00`` (UTC).

    Strict: what ``datetime.fromisoformat`` refuses, or a value without an offset, raises
    ValueError, cached or not. singer-sdk compares bookmarks as strings; one canonical form keeps
    that correct even when the export mixes daylight-saving offsets.
    """
    # Zoho writes 2021-03-14T03:01:00-07:00; with a whole-hour offset only the date and hour
    # change. A (local day, offset) seen once is valid, so a value sharing it needs only its
    # "T" and time of day checked before the lookup. Cached keys are 16 characters long: only
    # a 25-character text can match one.
    hours = _UTC_HOURS.get(text[:10] + text[19:])
    if hours is not None:
        hour = _HOURS.get(text[10:14])
        if hour is not None and text[14:19] in _MINUTES_SECONDS:
            return f"{hours[hour]}{text[13:19]}+00:00"
    converted = _to_utc(text)
    if len(text) == 25 and text[10] == "T" and text[19] in "+-" and text[22:] == ":00":
        hours = _day_in_utc(text[:10], text[19:])
        if hours is not None:
            _UTC_HOURS[text[:10] + text[19:]] = hours
    return converted


def _day_in_utc(day: str, offset: str) -> tuple[str, ...] | None:
    """The UTC ``YYYY-MM-DDTHH`` of each local hour of ``day`` at a whole-hour ``offset``.

    None where one of them falls outside years 1 to 9999 (each value is then converted alone).
    """
    try:
        start = datetime.fromisoformat(f"{day}T00:00:00{offset}").astimezone(timezone.utc)
        next_day = (start + timedelta(days=1)).date().isoformat()
    except OverflowError:
        return None
    first_day, first_hour = start.date().isoformat(), start.hour
    return tuple(
        (first_day if hour < 24 else next_day) + _T_HOURS[hour]
        for hour in range(first_hour, first_hour + 24)
    )


def _to_utc(text: str) -> str:
    if not text.isascii():
        raise ValueError(f"not an ISO 8601 datetime: {text!r:.40}")
    moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    if moment.tzinfo is None:
        raise ValueError(f"datetime without an offset: {text!r:.40}")
    offset = _OFFSET(text)
    if offset and (int(offset[1]) > MAX_OFFSET_HOURS or int(offset[2]) > MAX_OFFSET_MINUTES):
        raise ValueError(f"UTC offset outside -14:59 to +14:59: {text!r:.40}")
    try:
        return moment.astimezone(timezone.utc).isoformat()
    except OverflowError:  # 0001-01-01T00:30:00+01:00, 9999-12-31T23:00:00-05:00
        raise ValueError(f"datetime outside years 1 to 9999 in UTC: {text!r:.40}") from None


def zoho_datetime(moment: datetime) -> str:
    """A datetime as the tap writes it: UTC, second precision (floored), a naive one taken as UTC.

    The form of criteria values, and of every datetime a record carries.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def parse_datetime(text: str) -> datetime:
    """An ISO 8601 date or datetime (``Z`` or an offset; no offset means UTC); ValueError if not."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
