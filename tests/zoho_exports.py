"""A seeded generator of Zoho-shaped bulk read exports, with its own truth.

Each export is built from Python values (exact ``Decimal``s, aware datetimes, text, lists),
written as Zoho writes its CSV (UTF-8, comma separated, quotes only where needed, ``""``
inside quotes, CRLF between records, LF or CRLF inside multi-line values), and returned with
the records a client must read from it: what Zoho's documents say each field type means,
computed here without any of the tap's code.

Special characters (``\\r``, ``\\n``, ``"``, ``,``, multi-byte UTF-8, a record's own CRLF) are
placed deliberately at and around every multiple of ``block_bytes``, where a reader that
parses the file block by block splits it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

# Zoho's field types (fields metadata ``data_type``) -> how the generator makes a value.
FIELD_TYPES = [
    "text", "textarea", "email", "phone", "website", "picklist", "autonumber", "formula",
    "bigint", "lookup", "ownerlookup", "userlookup", "integer", "double", "currency",
    "percent", "decimal", "boolean", "date", "datetime", "multiselectpicklist", "Tag",
]  # fmt: skip
# Offsets of real time zones, daylight saving included: Zoho writes the org's local time.
OFFSETS = [
    "-12:00", "-09:30", "-08:00", "-07:00", "-03:00", "+00:00", "+01:00", "+05:30",
    "+05:45", "+08:45", "+09:30", "+12:45", "+13:00", "+14:00",
]  # fmt: skip
SPECIALS = ["\r\n", "\n", "\r", '"', ",", "é", "日", "😀", "\t", "\\"]
CLUSTER = ["\r\n", '"', ",", "é", "\r", "😀", "\n", "日", "\r\n\r\n", '",', ",\r"]
WORDS = ["Acme", "Zoë", "café", "Initech", "Straße", "東京", "naïve", "O'Brien", "x", "y"]
RECORD_END = "\r\n"


@dataclass
class Export:
    """A CSV export and what a client must read from it."""

    fields: list[dict[str, Any]]  # Zoho's fields metadata for the module
    csv: bytes
    records: list[dict[str, Any]]  # property -> expected value, ``id`` first
    boundaries_hit: int = 0
    specials: dict[str, int] = field(default_factory=dict)

    @property
    def properties(self) -> list[str]:
        """The stream's property names, as the records name them."""
        return ["id", *(f["api_name"] for f in self.fields)]


def field_metadata(name: str, kind: str) -> dict[str, Any]:
    """The fields-metadata entry Zoho sends for a field of ``kind``."""
    if kind == "Tag":
        return {"api_name": "Tag", "data_type": "text", "json_type": "jsonarray"}
    return {"api_name": name, "data_type": kind}


def _text(rng: random.Random, multiline: bool) -> str:
    parts = []
    for _ in range(rng.randint(1, 6)):
        parts.append(rng.choice(WORDS))
        special = rng.choice(SPECIALS)
        if not multiline and special in ("\r\n", "\n", "\r"):
            special = " "
        parts.append(special)
    return "".join(parts).strip() or "x"


def _decimal(rng: random.Random) -> Decimal:
    places = rng.choice([0, 1, 2, 2, 2, 3, 9])
    digits = rng.randint(1, 16)
    unscaled = rng.randint(0, 10**digits - 1) * rng.choice([1, -1])
    return Decimal(unscaled).scaleb(-places)


def _option(rng: random.Random) -> str:
    return rng.choice(["Web", "Trade Show", "Cold, call", 'The "big" one', "Zoë", "日本", "a b"])


def value_for(kind: str, rng: random.Random) -> tuple[str, Any]:
    """A non-empty CSV cell text of ``kind`` and the value a client must read from it."""
    if kind in ("bigint", "lookup", "ownerlookup", "userlookup"):
        text = str(rng.randint(10**17, 10**19 - 1))  # ids beyond 2^53 stay text
        return text, text
    if kind == "integer":
        number = rng.randint(-(2**31), 2**31 - 1)
        return str(number), number
    if kind in ("double", "currency", "percent", "decimal"):
        number = _decimal(rng)
        text = format(number, "f")
        if text.startswith("-") and Decimal(text) == 0:
            text = text[1:]
        return text, Decimal(text)
    if kind == "boolean":
        flag = rng.random() < 0.5
        return ("true" if flag else "false"), flag
    if kind == "date":
        day = date(1900, 1, 1) + timedelta(days=rng.randint(0, 73000))
        return day.isoformat(), day.isoformat()
    if kind == "datetime":
        offset_text = rng.choice(OFFSETS)
        sign, hours, minutes = offset_text[0], int(offset_text[1:3]), int(offset_text[4:6])
        offset = timedelta(hours=hours, minutes=minutes) * (-1 if sign == "-" else 1)
        instant = datetime(2000, 1, 1, tzinfo=timezone.utc) + timedelta(
            seconds=rng.randint(0, 40 * 365 * 86400)
        )
        local = instant.astimezone(timezone(offset)).replace(tzinfo=None)
        text = local.isoformat(timespec="seconds") + offset_text
        return text, instant.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    if kind == "multiselectpicklist":
        options = list(dict.fromkeys(_option(rng) for _ in range(rng.randint(1, 3))))
        return ";".join(options), options
    if kind == "Tag":
        tags = list(dict.fromkeys(rng.choice(["VIP", "Hot lead", "Zoë", "日本", "q\"x"])
                                  for _ in range(rng.randint(1, 3))))  # fmt: skip
        return ",".join(tags), tags
    if kind == "textarea":
        text = _text(rng, multiline=True)
        return text, text
    text = _text(rng, multiline=False)
    return text, text


def csv_cell(text: str) -> str:
    """A cell as Zoho writes it: quoted only when it must be."""
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _across_boundary(
    rng: random.Random,
    cells: list[str],
    record: dict[str, Any],
    names: list[str],
    notes: list[str],
    size: int,
    boundary: int,
    specials: dict[str, int],
) -> int:
    """Pad a note of this row so that a special lands at ``boundary`` + a small shift."""
    shift = rng.randint(-8, 8)
    word = rng.choice(WORDS)
    for note in rng.sample(notes, k=len(notes)):
        index = names.index(note) + 1
        if rng.random() < 0.3:  # the record separator's \r at the boundary + shift
            cells[index] = word + "\n"
            pad = boundary + shift - (size + len(_line(cells).encode()) - 2)
            text = "p" * pad + word + "\n"
            cluster = ""
        else:
            cluster = "".join(rng.sample(CLUSTER, k=rng.randint(3, len(CLUSTER)))) + "\n"
            start = size + len(_line(cells[:index]).encode())  # after the comma and the quote
            pad = boundary + shift - start
            text = "p" * pad + cluster + word
        if pad >= 0:
            cells[index] = text
            record[note] = text
            for special in SPECIALS:
                if special in cluster:
                    specials[special] = specials.get(special, 0) + 1
            return 1
        cells[index] = _cell_text(record[note])
    return 0


def _cell_text(value: Any) -> str:
    return "" if value is None else str(value)


def _line(cells: list[str]) -> str:
    return ",".join(csv_cell(c) for c in cells) + RECORD_END


def generate(seed: int, block_bytes: int, *, target_bytes: int | None = None) -> Export:
    """An export of about ``target_bytes`` (default: 12 blocks), deterministic per seed."""
    rng = random.Random(seed)
    wide = rng.random() < 0.5
    kinds = list(FIELD_TYPES)
    if wide:  # wide and sparse: every type, many columns, most cells empty
        kinds += [rng.choice(FIELD_TYPES[:-1]) for _ in range(rng.randint(60, 180))]
        fill = rng.uniform(0.05, 0.3)
    else:  # narrow and dense
        fill = rng.uniform(0.8, 1.0)
    rng.shuffle(kinds)
    names, fields = [], []
    for number, kind in enumerate(kinds):
        name = "Tag" if kind == "Tag" else f"{kind.capitalize()}_{number}"
        if name in names:
            continue
        names.append(name)
        fields.append(field_metadata(name, kind))
    kind_of = {f["api_name"]: ("Tag" if f["api_name"] == "Tag" else f["data_type"]) for f in fields}
    notes = [n for n in names if kind_of[n] == "textarea"]
    header = ",".join(["Id", *names]) + RECORD_END
    out = [header.encode()]
    size = len(out[0])
    records: list[dict[str, Any]] = []
    target = target_bytes or 12 * block_bytes
    next_boundary = block_bytes
    hits = 0
    specials: dict[str, int] = {}
    record_id = 4876543000000000000 + rng.randint(0, 10**9)
    while size < target:
        record_id += rng.randint(1, 99)
        cells, record = [str(record_id)], {"id": str(record_id)}
        for name in names:
            if rng.random() < fill:
                text, expected = value_for(kind_of[name], rng)
            else:
                text, expected = "", None
            cells.append(text)
            record[name] = expected
        line = _line(cells)
        row_bytes = len(line.encode())
        if notes and size + 3 * row_bytes >= next_boundary - 8:
            # the boundary is near: a note puts specials, or the record's own CRLF, at and
            # around it
            hits += _across_boundary(
                rng, cells, record, names, notes, size, next_boundary, specials
            )
            line = _line(cells)
            row_bytes = len(line.encode())
        out.append(line.encode())
        records.append(record)
        size += row_bytes
        while next_boundary <= size:
            next_boundary += block_bytes
    return Export(fields, b"".join(out), records, hits, specials)
