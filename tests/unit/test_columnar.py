"""The Arrow decoder writes byte for byte what the strict decoder writes, or hands over to it.

Every case decodes one real zip twice: with ``RecordDecoder(raw_numbers=True)`` (the strict
Python decoder) and with ``ColumnarDecoder`` (Arrow, handing what it cannot vouch for to the
strict one). The RECORD bodies written and the error raised must be identical; where the file
is ordinary, the Arrow path must have done the work itself.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import pytest

from tap_zoho_bulkread.bulk import columnar
from tap_zoho_bulkread.bulk.batches import encoded_lines
from tap_zoho_bulkread.bulk.columnar import ColumnarDecoder, EncodedRows
from tap_zoho_bulkread.bulk.decode import RecordDecoder
from tap_zoho_bulkread.bulk.metadata import field_specs
from tap_zoho_bulkread.errors import ExportFileError
from tests.unit.test_decode import ALL, HEADER, SPECS, decoded, make_zip

FIELDS = [
    {"api_name": "Created_Time", "data_type": "datetime"},
    {"api_name": "Birth_Date", "data_type": "date"},
    {"api_name": "Amount", "data_type": "currency"},
    {"api_name": "Count", "data_type": "integer"},
    {"api_name": "Active", "data_type": "boolean"},
    {"api_name": "Interests", "data_type": "multiselectpicklist"},
    {"api_name": "Tag", "data_type": "text", "json_type": "jsonarray"},
    {"api_name": "Notes", "data_type": "textarea"},
]
WIDE_SPECS = field_specs(FIELDS, "Leads", logging.getLogger("test"))
WIDE = ["id", *(f["api_name"] for f in FIELDS)]
WIDE_HEADER = ",".join(["Id", *WIDE[1:]])
ORDINARY = [
    "2021-03-14T01:59:59-08:00", "1990-02-28", "1234.50", "7", "true", "CRM;Support",
    '"VIP,Hot"', '"two\nlines, ""quoted"" \\ back\ttab\rcr"',
]  # fmt: skip


def ordinary_rows(count: int) -> list[list[str]]:
    """Rows of CSV cells (quoted where Zoho quotes), a third of them nearly empty."""
    rows = []
    for number in range(count):
        cells = list(ORDINARY)
        if number % 3 == 1:
            cells = ["" for _ in cells]  # empty cells are null
            cells[0] = "2021-03-14T03:00:00-07:00"
        if number % 5 == 2:
            cells[7] = '"Zoë café ✓ 日本"'
        rows.append([f"48765430000{number:08d}", *cells])
    return rows


def wide_zip(path: Path, rows: list[list[str]], end: str = "\n") -> Path:
    lines = [WIDE_HEADER, *(",".join(cells) for cells in rows)]
    return make_zip(path, end.join(lines) + end)


def written(decoder: RecordDecoder | ColumnarDecoder, path: Path) -> tuple[bytes, str | None]:
    """The JSON lines a writer gets from ``decoder``, and the error that ended them."""
    out = []
    try:
        for batch in decoder.batches(path, "111"):
            out.append(bytes(encoded_lines(batch, b"", b"\n")))
    except ExportFileError as exc:
        return b"".join(out), str(exc)
    return b"".join(out), None


def decoders(
    specs: list = WIDE_SPECS, selected: list[str] = WIDE
) -> tuple[RecordDecoder, ColumnarDecoder]:
    strict = RecordDecoder("Leads", specs, selected, raw_numbers=True)
    return strict, ColumnarDecoder(RecordDecoder("Leads", specs, selected, raw_numbers=True))


def both(path: Path, **kwargs) -> tuple[bytes, str | None]:
    strict, fast = decoders(**kwargs)
    expected = written(strict, path)
    assert written(fast, path) == expected
    return expected


def test_an_ordinary_export_is_decoded_by_arrow_alone_byte_for_byte(tmp_path: Path) -> None:
    path = wide_zip(tmp_path / "a.zip", ordinary_rows(3000), "\r\n")
    lines, error = both(path)
    assert error is None and lines.count(b"\n") == 3000
    assert b'"Created_Time":"2021-03-14T09:59:59+00:00"' in lines
    assert b'"Amount":1234.50,"Count":7,"Active":true' in lines
    assert b'"Tag":["VIP","Hot"]' in lines and b'"Interests":["CRM","Support"]' in lines
    assert b'"Notes":"two\\nlines, \\"quoted\\" \\\\ back\\ttab\\rcr"' in lines
    _, fast = decoders()
    batches = list(fast.batches(path, "111"))
    assert all(isinstance(b, EncodedRows) and not b.cell_by_cell for b in batches)


def test_records_bookmarks_and_slices_of_arrow_batches(tmp_path: Path) -> None:
    path = wide_zip(tmp_path / "a.zip", ordinary_rows(10))
    strict, fast = decoders()
    expected = list(decoded(RecordDecoder("Leads", WIDE_SPECS, WIDE), path, "111"))
    (batch,) = list(fast.batches(path, "111"))
    assert isinstance(batch, EncodedRows)
    assert list(batch) == expected  # decoded again: Decimal and int as the SDK path has them
    assert batch.newest("Created_Time") == max(r["Created_Time"] for r in expected)
    assert batch.newest("Notes") is None  # only datetimes are kept for bookmarks
    tail = batch[7:]
    assert list(tail) == expected[7:] and len(tail) == 3
    assert bytes(encoded_lines(tail, b"<", b">")) == encoded_lines(
        list(decoded(strict, path, "111"))[7:], b"<", b">"
    )
    assert len(batch[10:]) == 0 and bytes(batch[10:].lines(b"<", b">")) == b""


# Valid cells off the common path, and whether whole-column checks take them (else the column
# goes cell by cell through the strict decoder's code).
ODD_BUT_VALID = [
    ("Created_Time", "2021-03-14T10:01:00Z", False),
    ("Created_Time", "2021-03-14T10:01:00.250+05:30", False),
    ("Created_Time", "2021-03-14T10:01:00+05:30", True),
    ("Created_Time", "0999-03-14T10:01:00+00:00", False),
    ("Birth_Date", "20240131", False),
    ("Amount", "007.50", False),
    ("Amount", ".5", False),
    ("Amount", "5.", False),
    ("Amount", "-0", True),
    ("Amount", "1E+5", True),
    ("Count", "007", False),
    ("Count", "-0", True),
    ("Count", "123456789012345678901234567890", True),
    ("Tag", '"Renewal 2024,VIP"', True),
    ("Tag", '"VIP, Hot"', False),
    ("Tag", '"VIP,\u3000Hot"', False),
    ("Tag", '"VIP\t,Hot"', False),
    ("Tag", '",VIP,,Hot,"', False),
    ("Interests", '"a;;b;"', True),
    ("Notes", '"bell\x07 nul\x00 esc\x1b form\x0c"', False),
    ("Notes", '"\u2028 line separator, \x7f delete"', True),
]


@pytest.mark.parametrize(("column", "cell", "whole_column"), ODD_BUT_VALID)
def test_odd_but_valid_cells_are_written_as_the_strict_decoder_writes_them(
    tmp_path: Path, column: str, cell: str, whole_column: bool
) -> None:
    rows = ordinary_rows(50)
    rows[40][WIDE.index(column)] = cell
    path = wide_zip(tmp_path / "a.zip", rows)
    lines, error = both(path)
    assert error is None and lines.count(b"\n") == 50
    _, fast = decoders()
    (batch,) = list(fast.batches(path, "111"))  # Arrow kept the file
    assert isinstance(batch, EncodedRows)
    assert batch.cell_by_cell == (() if whole_column else (column,))


BAD_CELLS = [
    ("Created_Time", "2024-03-10T10:99:99+01:00"),
    ("Created_Time", "2024-03-10T25:00:00+01:00"),
    ("Created_Time", "2024-03-10T24:00:00+01:00"),
    ("Created_Time", "2024-02-30T10:00:00+01:00"),
    ("Created_Time", "2024-03-10T23:59:60+01:00"),
    ("Created_Time", "2024-03-10T10:00:00+24:00"),
    ("Created_Time", "2024-03-10T10:00:00"),
    ("Created_Time", "0000-03-10T10:00:00+00:00"),
    ("Created_Time", "0001-01-01T00:30:00+01:00"),
    ("Created_Time", "9999-12-31T23:00:00-05:00"),
    ("Birth_Date", "2023-02-29"),
    ("Birth_Date", "0000-01-01"),
    ("Amount", "NaN"),
    ("Amount", "Infinity"),
    ("Amount", "1_000"),
    ("Amount", " 5 "),
    ("Amount", "0x10"),
    ("Count", "+5"),
    ("Count", "٣"),
    ("Count", "1.5"),
    ("Active", "True"),
    ("Active", "1"),
]


@pytest.mark.parametrize(("column", "cell"), BAD_CELLS)
def test_a_bad_cell_is_refused_with_the_strict_message_after_the_same_records(
    tmp_path: Path, column: str, cell: str
) -> None:
    rows = ordinary_rows(3000)
    rows[2500][WIDE.index(column)] = cell
    path = wide_zip(tmp_path / "a.zip", rows)
    _, error = both(path)
    assert error is not None and f"in {column}, which is not a valid" in error


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("short row", f"{HEADER}\n1,2021-03-14T01:59:59-08:00\n"),
        ("long row", f"{HEADER}\n1,2021-03-14T01:59:59-08:00,1,2,3,true,a,b,c,4,x,true,extra\n"),
        ("blank line", f"{HEADER}\n1,,,,,,,,,,,\n\n2,,,,,,,,,,,\n"),
        ("row without id", f"{HEADER}\n,,,,,,,,,,,\n"),
        ("CR line ends", f"{HEADER}\r1,,1.5,,,,,,,,,\r2,,,,,,,,,,,\r"),
        ("no final line end", f"{HEADER}\r\n1,,1.5,,,,,,,,,"),
        ("byte order mark", f"\ufeff{HEADER}\r\n1,,1.5,,,,,,,,,\r\n"),
        ("quote inside a cell", f'{HEADER}\n1,,,,,,,,a"b,,,\n'),
        ("text after a closing quote", f'{HEADER}\n1,,,,,,,,"ab"c,,,\n'),
        ("unterminated quote", f'{HEADER}\n1,,,,,,,,"never closed\n'),
        ("header only", f"{HEADER}\r\n"),
        ("empty file", ""),
        ("column named twice", "Id,Amount,Amount\n1,2,3\n"),
        ("selected column missing", "Id,Amount\n1,2\n"),
    ],
)
def test_odd_files_end_as_the_strict_decoder_ends_them(
    tmp_path: Path, name: str, body: str
) -> None:
    path = make_zip(tmp_path / "a.zip", body)
    both(path, specs=SPECS, selected=ALL)


def test_a_blank_line_is_refused_alike_when_the_id_is_not_the_first_column(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", "Amount,Id\n1.5,1\n\n2,2\n")
    _, error = both(path, specs=SPECS, selected=["id", "Amount"])
    assert error is not None and "columns" in error


def test_text_that_is_not_utf8_is_refused_even_in_a_column_not_selected(tmp_path: Path) -> None:
    good = f"{HEADER}\n1,,1.5,,,,,,,,,\n".encode()
    for bad in (b"2,,1.5,,,,,,\xff\xfe,,,\n", b"2,,1.5,,,,,,,,\xff,\n"):
        path = tmp_path / "a.zip"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("111.csv", good + bad)
        _, error = both(path, specs=SPECS, selected=["id", "Amount"])
        assert error is not None and "not UTF-8" in error


def test_a_truncated_zip_is_refused_as_the_strict_decoder_refuses_it(tmp_path: Path) -> None:
    whole = wide_zip(tmp_path / "a.zip", ordinary_rows(20000)).read_bytes()
    path = tmp_path / "cut.zip"
    path.write_bytes(whole[: len(whole) // 2] + whole[-200:])
    _, error = both(path)
    assert error is not None


def test_a_row_longer_than_a_block_is_handed_to_the_strict_decoder_from_that_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 64 * 1024)
    rows = ordinary_rows(3000)
    rows[2000][WIDE.index("Notes")] = '"' + "long text, " * 20_000 + '"'
    path = wide_zip(tmp_path / "a.zip", rows)
    with caplog.at_level(logging.INFO):
        lines, error = both(path)
    assert error is None and lines.count(b"\n") == 3000
    handed = [r.getMessage() for r in caplog.records if "strict decoder" in r.getMessage()]
    assert handed and all("from row 1" not in m for m in handed), handed


POOLS = {
    "Created_Time": ["2021-03-14T01:59:59-08:00", "2021-11-07T01:30:00-07:00", "2021-03-14T10:01:00Z", "2024-02-29T23:59:59+05:45", "1999-12-31T23:00:00-01:00"],
    "Birth_Date": ["1990-02-28", "2024-02-29", "19900228"],
    "Amount": ["1234.50", "0", "-0.001", "1e3", "007", ".5", "12345678901234567890.123456789"],
    "Count": ["7", "-12", "007", "0", "99999999999999999999"],
    "Active": ["true", "false"],
    "Interests": ["CRM", "CRM;Support", ";", "a;;b", 'say "hi";x'],
    "Tag": ["VIP", "VIP,Hot", "Renewal 2024,VIP", " VIP , Hot ", ",x,", "a\u00a0,b"],
    "Notes": ["plain", 'a "quoted" word', "two\nlines", "cr\rlf\r\n", "tab\there", "back\\slash", "nul\x00", "Zoë ✓ 日本 \U0001f600", "\u2028", ",;\"'"],
}  # fmt: skip
INVALID = {"Created_Time": "2021-02-30T10:00:00+00:00", "Amount": "1,5", "Count": "1.0", "Active": "yes", "Birth_Date": "2021-13-01"}  # fmt: skip


def csv_cell(text: str, rng) -> str:
    if rng.random() < 0.3 or any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


@pytest.mark.parametrize("seed", range(40))
def test_random_exports_decode_alike(tmp_path: Path, seed: int) -> None:
    import random

    rng = random.Random(seed)
    rows = []
    for number in range(rng.choice([1, 5, 300, 2500])):
        cells = [f"48765430000{number:08d}"]
        for name in WIDE[1:]:
            if rng.random() < 0.4:
                cells.append(rng.choice(["", '""']))
            elif seed % 4 == 3 and name in INVALID and rng.random() < 0.001:
                cells.append(INVALID[name])
            else:
                pool = POOLS[name] if seed % 2 else POOLS[name][:2]  # odd cells, or usual ones
                cells.append(csv_cell(rng.choice(pool), rng))
        rows.append(cells)
    path = wide_zip(tmp_path / "a.zip", rows, rng.choice(["\n", "\r\n"]))
    both(path)
