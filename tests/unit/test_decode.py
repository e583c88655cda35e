"""Decoding real zip files of Zoho CSV into typed records."""

from __future__ import annotations

import json
import logging
import zipfile
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tap_zoho_bulkread.bulk.decode import RecordDecoder
from tap_zoho_bulkread.bulk.metadata import field_specs
from tap_zoho_bulkread.errors import ExportFileError
from tap_zoho_bulkread.times import utc_datetime

FIELDS = [
    {"api_name": "Created_Time", "data_type": "datetime"},
    {"api_name": "Amount", "data_type": "currency"},
    {"api_name": "Rate", "data_type": "decimal"},
    {"api_name": "Count", "data_type": "integer"},
    {"api_name": "Active", "data_type": "boolean"},
    {"api_name": "Interests", "data_type": "multiselectpicklist"},
    {"api_name": "Tag", "data_type": "text", "json_type": "jsonarray"},
    {"api_name": "Notes", "data_type": "textarea"},
    {"api_name": "Big", "data_type": "bigint"},
    {"api_name": "Mystery", "data_type": "hologram"},
]
HEADER = "Id,Created_Time,Amount,Rate,Count,Active,Interests,Tag,Notes,Big,Mystery,Locked__s"
SPECS = field_specs(FIELDS, "Leads", logging.getLogger("test"))
ALL = ["id", *(f["api_name"] for f in FIELDS)]


def decoded(decoder: RecordDecoder, path: Path, job_id: str) -> list[dict[str, Any]]:
    """Every record of a result zip, one after the other (the tap reads them in batches)."""
    return [record for batch in decoder.batches(path, job_id) for record in batch]


def make_zip(
    path: Path, body: str, name: str = "111.csv", extra: dict[str, str] | None = None
) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, body.encode())
        for other, text in (extra or {}).items():
            archive.writestr(other, text)
    return path


def test_rows_become_typed_records(tmp_path: Path) -> None:
    body = (
        HEADER + "\r\n"
        '4876543000000000001,2021-03-14T01:59:59-08:00,1234.50,0.123456789,7,false,CRM;Support,"VIP,Hot","two\nlines, ""quoted""",123456789012345678,x,true\r\n'
        "4876543000000000002,2021-03-14T03:00:00-07:00,,,,,,,,,,\r\n"
    )
    records = list(
        decoded(RecordDecoder("Leads", SPECS, ALL), make_zip(tmp_path / "a.zip", body), "111")
    )
    first, second = records
    assert first == {
        "id": "4876543000000000001",
        "Created_Time": "2021-03-14T09:59:59+00:00",
        "Amount": Decimal("1234.50"),
        "Rate": Decimal("0.123456789"),
        "Count": 7,
        "Active": False,
        "Interests": ["CRM", "Support"],
        "Tag": ["VIP", "Hot"],
        "Notes": 'two\nlines, "quoted"',
        "Big": "123456789012345678",
        "Mystery": "x",
    }
    assert second["Created_Time"] == "2021-03-14T10:00:00+00:00"  # one second later, across DST
    assert all(second[name] is None for name in ALL if name not in ("id", "Created_Time"))


def test_unselected_and_unknown_columns_are_dropped(tmp_path: Path) -> None:
    body = HEADER + "\r\n1,2021-01-01T00:00:00+00:00,1,1,1,true,,,,,,true\r\n"
    records = list(
        decoded(
            RecordDecoder("Leads", SPECS, ["id", "Count"]),
            make_zip(tmp_path / "a.zip", body),
            "111",
        )
    )
    assert records == [{"id": "1", "Count": 1}]


def test_missing_selected_column_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ExportFileError, match=r"no column for \['Count'\]"):
        list(
            decoded(
                RecordDecoder("Leads", SPECS, ["id", "Count"]),
                make_zip(tmp_path / "a.zip", "Id\r\n1\r\n"),
                "111",
            )
        )


@pytest.mark.parametrize(
    ("name", "extra", "message"),
    [
        ("111.csv", {"222.csv": "Id\r\n"}, "holds 2 files"),
        ("../111.csv", None, "not a plain CSV name"),
        ("dir/111.csv", None, "not a plain CSV name"),
    ],
)
def test_unexpected_zip_contents_are_refused(tmp_path: Path, name, extra, message) -> None:
    path = make_zip(tmp_path / "a.zip", "Id\r\n1\r\n", name, extra)
    with pytest.raises(ExportFileError, match=message):
        list(decoded(RecordDecoder("Leads", SPECS, ["id"]), path, "111"))


def test_a_truncated_zip_is_refused(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", HEADER + "\r\n")
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(ExportFileError, match="not a valid zip"):
        list(decoded(RecordDecoder("Leads", SPECS, ["id"]), path, "111"))


def test_a_bad_value_names_row_column_and_type(tmp_path: Path) -> None:
    body = HEADER + "\r\n1,2021-01-01T00:00:00+00:00,1,1,seven,true,,,,,,\r\n"
    with pytest.raises(
        ExportFileError,
        match=r"record 1 \(CSV line 2\) .* 'seven' in Count, which is not a valid integer",
    ):
        list(decoded(RecordDecoder("Leads", SPECS, ALL), make_zip(tmp_path / "a.zip", body), "111"))


def test_unknown_zoho_type_is_a_string_with_a_warning(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        specs = field_specs(
            [{"api_name": "X", "data_type": "hologram"}], "Leads", logging.getLogger("t")
        )
    assert specs[0].kind == "string"
    assert "unknown Zoho type 'hologram'" in caplog.text


def test_utc_datetime_is_canonical() -> None:
    assert utc_datetime("2024-11-03T01:30:00-07:00") == "2024-11-03T08:30:00+00:00"
    assert utc_datetime("2024-11-03T01:30:00-08:00") == "2024-11-03T09:30:00+00:00"
    assert utc_datetime("2024-11-03T09:30:00+00:00") == "2024-11-03T09:30:00+00:00"


@pytest.mark.parametrize(
    "day", ["0001-01-01", "2024-02-29", "2024-03-10", "2024-12-31", "9999-12-31"]
)
@pytest.mark.parametrize("offset", ["-12:00", "-07:00", "+00:00", "+05:00", "+14:00"])
def test_every_hour_of_a_day_reads_as_pythons_datetime_says_first_and_cached(day, offset) -> None:
    """The first value of a (day, offset) is converted in full, the next ones by the day's cache;
    both agree with datetime.astimezone, and a value near the calendar's ends is never refused
    because another hour of its day falls outside it."""
    for hour in range(24):
        for minute_second in ("00:00", "59:59"):
            text = f"{day}T{hour:02d}:{minute_second}{offset}"
            try:
                expected: str | None = (
                    datetime.fromisoformat(text).astimezone(timezone.utc).isoformat()
                )
            except OverflowError:
                expected = None
            for _ in range(2):
                if expected is None:
                    with pytest.raises(ValueError, match="outside years 1 to 9999"):
                        utc_datetime(text)
                else:
                    assert utc_datetime(text) == expected, text


def test_nul_bytes_and_very_long_fields_are_kept(tmp_path: Path) -> None:
    long_text = "x" * 300_000
    body = "Id,Notes\r\n" + f'1,"a\x00b"\r\n2,"{long_text}"\r\n'
    records = list(
        decoded(
            RecordDecoder("Leads", SPECS, ["id", "Notes"]),
            make_zip(tmp_path / "a.zip", body),
            "111",
        )
    )
    assert records == [{"id": "1", "Notes": "a\x00b"}, {"id": "2", "Notes": long_text}]


def test_a_csv_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("111.csv", b"Id,Notes\r\n1,caf\xe9\r\n")
    with pytest.raises(ExportFileError, match="not UTF-8"):
        list(decoded(RecordDecoder("Leads", SPECS, ["id", "Notes"]), path, "111"))


def test_a_csv_not_utf8_on_its_first_line_says_line_1_not_line_0(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("111.csv", b"Id,Not\xe9s\r\n1,a\r\n")
    with pytest.raises(ExportFileError, match="not UTF-8 near line 1;"):
        list(decoded(RecordDecoder("Leads", SPECS, ["id"]), path, "111"))


@pytest.mark.parametrize(
    "cells",
    [("1234.50", "7"), ("-0.000000001", "-0"), ("1e5", "007"), (".5", "-12"), ("5.", "0"),
     ("12E-3", "123456789012345678901234567890"), ("0.123456789", "")],
)  # fmt: skip
def test_raw_numbers_write_the_same_json_as_decoded_numbers(tmp_path: Path, cells) -> None:
    from tap_zoho_bulkread.bulk.batches import RECORD_ENCODER

    amount, count = cells
    body = f"Id,Amount,Count\r\n4876543000000000001,{amount},{count}\r\n"
    path = make_zip(tmp_path / "a.zip", body)
    selected = ["id", "Amount", "Count"]
    plain = list(decoded(RecordDecoder("Leads", SPECS, selected), path, "111"))
    raw = list(decoded(RecordDecoder("Leads", SPECS, selected, raw_numbers=True), path, "111"))

    def written(record: dict) -> dict:
        return json.loads(RECORD_ENCODER.encode(record), parse_float=Decimal)  # type: ignore[no-any-return]

    assert [written(r) for r in raw] == [written(r) for r in plain]
    assert written(raw[0])["Amount"] == Decimal(amount)  # exact, as Zoho wrote it


@pytest.mark.parametrize("column", ["Amount", "Count"])
@pytest.mark.parametrize(
    "bad", ["NaN", "1_000", " 5", "0x10", "++1", "1e", "٣", "1.2.3", "²", "5.5.", "1 ", "9-"]
)
def test_raw_numbers_refuse_what_decoded_numbers_refuse(
    tmp_path: Path, column: str, bad: str
) -> None:
    body = f"Id,{column}\r\n4876543000000000001,{bad}\r\n"
    path = make_zip(tmp_path / "a.zip", body)
    kind = "number" if column == "Amount" else "integer"
    for raw_numbers in (False, True):
        decoder = RecordDecoder("Leads", SPECS, ["id", column], raw_numbers=raw_numbers)
        with pytest.raises(ExportFileError, match=f"not a valid {kind}"):
            list(decoded(decoder, path, "111"))
