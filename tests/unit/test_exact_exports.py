"""Both decoders, RECORD lines and BATCH files, against exports whose truth is known.

The exports come from ``tests/zoho_exports.py``: values made first, written as Zoho writes its
CSV, with special characters placed at and around every block boundary of the Arrow reader.
Each output is parsed back and compared with the generator's own values, not with the other
decoder only. ``make fuzz`` runs the same check on many more seeds.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.helpers._batch import BatchConfig

from tap_zoho_bulkread.bulk import columnar
from tap_zoho_bulkread.bulk.columnar import ColumnarDecoder
from tap_zoho_bulkread.bulk.decode import RecordDecoder
from tap_zoho_bulkread.bulk.metadata import field_specs
from tap_zoho_bulkread.errors import ExportFileError
from tap_zoho_bulkread.writers.batch_files import BatchFileWriter
from tap_zoho_bulkread.writers.records import RecordLineWriter
from tests.zoho_exports import Export, generate

BLOCK = 16 * 1024  # the Arrow reader's block in these tests: many boundaries per export
SEEDS = int(os.environ.get("EXACT_EXPORT_SEEDS", "6"))
FIRST_SEED = int(os.environ.get("EXACT_EXPORT_FIRST_SEED", "0"))


def zipped(export: Export, path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("111.csv", export.csv)
    return path


def decoder(export: Export, fast: bool) -> RecordDecoder | ColumnarDecoder:
    specs = field_specs(export.fields, "Leads", logging.getLogger("test"))
    strict = RecordDecoder("Leads", specs, export.properties, raw_numbers=True)
    return ColumnarDecoder(strict) if fast else strict


def parsed(lines: bytes) -> list[dict[str, Any]]:
    return [json.loads(line, parse_float=Decimal) for line in lines.splitlines()]


def record_lines(export: Export, path: Path, fast: bool, monkeypatch) -> list[dict[str, Any]]:
    out = io.BytesIO()
    monkeypatch.setattr("sys.stdout", type("Out", (), {"buffer": out})())
    writer = RecordLineWriter("Leads", None)
    for batch in decoder(export, fast).batches(path, "111"):
        writer.write_many(batch)
    monkeypatch.undo()
    return [message["record"] for message in parsed(out.getvalue())]


def batch_files(export: Export, path: Path, fast: bool, root: Path) -> list[dict[str, Any]]:
    config = BatchConfig.from_dict(
        {
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": root.as_uri(), "prefix": "b-"},
            "batch_size": 777,
        }
    )
    writer = BatchFileWriter(config, "tap-zoho-bulkread", "Leads", 1)
    urls = []
    for batch in decoder(export, fast).batches(path, "111"):
        urls += writer.add(batch)
    urls += writer.close()
    records = []
    for url in urls:
        with gzip.open(Path(url.removeprefix("file://"))) as file:
            records += parsed(file.read())
    return records


def same_value(have: Any, want: Any) -> bool:
    """Equal, and of the same JSON type (a JSON number: any exact number of equal value)."""
    if isinstance(want, Decimal):
        return type(have) in (int, Decimal) and have == want
    return type(have) is type(want) and have == want


def differences(expected: list[dict[str, Any]], got: list[dict[str, Any]]) -> list[str]:
    """What differs, record by record and property by property (at most 5 lines)."""
    found = [] if len(got) == len(expected) else [f"{len(got)} records, not {len(expected)}"]
    for number, (want, have) in enumerate(zip(expected, got, strict=False), start=1):
        for name, value in want.items():
            if not same_value(have.get(name), value):
                found.append(f"record {number} {name}: {have.get(name)!r:.80} != {value!r:.80}")
        if set(have) != set(want):
            found.append(f"record {number}: properties {sorted(set(have) ^ set(want))}")
    return found[:5]


def check_seed(seed: int, tmp_path: Path, monkeypatch) -> Export:
    monkeypatch.setattr(columnar, "BLOCK_BYTES", BLOCK)
    export = generate(seed, BLOCK)
    path = zipped(export, tmp_path / f"{seed}.zip")
    outputs = {}
    for fast in (False, True):
        name = "arrow" if fast else "strict"
        outputs[f"{name} RECORD"] = record_lines(export, path, fast, monkeypatch)
        monkeypatch.setattr(columnar, "BLOCK_BYTES", BLOCK)
        outputs[f"{name} BATCH"] = batch_files(export, path, fast, tmp_path / f"{seed}-{name}")
    for label, records in outputs.items():
        assert not differences(export.records, records), (seed, label)
    return export


@pytest.mark.parametrize("seed", range(FIRST_SEED, FIRST_SEED + SEEDS))
def test_every_decoder_and_output_reads_a_generated_export_exactly(
    seed: int, tmp_path: Path, monkeypatch, caplog
) -> None:
    with caplog.at_level(logging.INFO):
        export = check_seed(seed, tmp_path, monkeypatch)
    assert export.boundaries_hit >= 5  # the generator did put specials on the boundaries
    assert "read by the strict decoder" not in caplog.text  # Arrow did the work itself


def test_the_generator_truth_is_what_the_csv_module_reads() -> None:
    """The generator's CSV holds its values: Python's csv module reads them back."""
    import csv

    export = generate(1, BLOCK, target_bytes=200_000)
    rows = list(csv.reader(io.StringIO(export.csv.decode(), newline="")))
    assert len(rows) == len(export.records) + 1
    column = rows[0].index(
        next(f["api_name"] for f in export.fields if "Textarea" in f["api_name"])
    )
    for row, record in zip(rows[1:], export.records, strict=True):
        assert row[0] == record["id"]
        assert (row[column] or None) == record[rows[0][column]]


def test_a_crlf_inside_a_note_across_arrows_real_block_boundary_keeps_its_lf(
    tmp_path: Path, monkeypatch
) -> None:
    """apache/arrow#51368: a ``\\r`` on the last byte of a real block lost the ``\\n`` after it."""
    header = "Id,Note\r\n"
    prefix = header + '1234567890123456789,"'
    boundary = columnar.block_bytes(2)  # the block the decoder reads for these two columns
    assert boundary == 512 * 1024
    note = "a" * (boundary - 1 - len(prefix)) + "\r\nsecond line"
    text = prefix + note + '"\r\n'
    assert text.encode()[boundary - 1 : boundary + 1] == b"\r\n"
    export = Export(
        fields=[{"api_name": "Note", "data_type": "textarea"}],
        csv=text.encode(),
        records=[{"id": "1234567890123456789", "Note": note}],
    )
    path = zipped(export, tmp_path / "a.zip")
    for fast in (False, True):
        assert record_lines(export, path, fast, monkeypatch) == export.records


def exported(tmp_path: Path, fields: list[dict[str, Any]], rows: list[list[str]]) -> Export:
    """An export of hand-written cells (as they stand in the CSV, quoted or not)."""
    header = ",".join(["Id", *(f["api_name"] for f in fields)])
    text = "\r\n".join([header, *(",".join(cells) for cells in rows)]) + "\r\n"
    return Export(fields=fields, csv=text.encode(), records=[])


def outcomes(export: Export, path: Path, monkeypatch) -> list[tuple[int, str | None]]:
    """For each decoder: how many records it wrote, and the error that stopped it."""
    results = []
    for fast in (False, True):
        try:
            results.append((len(record_lines(export, path, fast, monkeypatch)), None))
        except ExportFileError as exc:
            monkeypatch.undo()
            results.append((-1, str(exc)))
    return results


NOTES = [{"api_name": f"Note_{n}", "data_type": "textarea"} for n in range(10)]


def test_a_row_of_long_texts_full_of_commas_decodes_in_both_decoders(tmp_path, monkeypatch) -> None:
    """263 KiB of quoted text: its commas are not cells (the bound counted them and refused)."""
    cells = ["4876543000000000001", *(['"' + "a@b.co, " * 3750 + '"'] * 9), "x"]
    export = exported(tmp_path, NOTES, [cells, ["4876543000000000002", *[""] * 10]])
    path = zipped(export, tmp_path / "a.zip")
    assert outcomes(export, path, monkeypatch) == [(2, None), (2, None)]
    records = record_lines(export, path, True, monkeypatch)
    assert records[0]["Note_0"] == "a@b.co, " * 3750 and records[0]["Note_9"] == "x"


def test_two_hundred_fields_of_32000_characters_decode_in_both_decoders(
    tmp_path, monkeypatch
) -> None:
    """The largest row Zoho writes: 200 multi-line texts of 32,000 characters (~6.4 MB)."""
    fields = [{"api_name": f"Text_{n}", "data_type": "textarea"} for n in range(200)]
    piece = 'line, with "quotes",\r\nand, commas;\n'
    text = (piece * (32000 // len(piece) + 1))[:32000]
    cell = '"' + text.replace('"', '""') + '"'
    export = exported(tmp_path, fields, [["4876543000000000001", *[cell] * 200]] * 2)
    path = zipped(export, tmp_path / "a.zip")
    for fast in (False, True):
        records = record_lines(export, path, fast, monkeypatch)
        assert len(records) == 2 and all(r[f"Text_{n}"] == text for r in records for n in (0, 199))


def test_a_row_of_more_than_5000_real_cells_is_still_refused_by_both(tmp_path, monkeypatch) -> None:
    fields = [{"api_name": "Note", "data_type": "textarea"}]
    export = exported(tmp_path, fields, [["4876543000000000001", *["v" * 60] * 5001]])
    results = outcomes(export, zipped(export, tmp_path / "a.zip"), monkeypatch)
    assert results[0] == results[1] and results[0][0] == -1
    assert "row over 64 MiB or 5000 cells" in str(results[0][1])


def test_a_header_of_more_than_5000_columns_is_refused_by_both(tmp_path, monkeypatch) -> None:
    fields = [{"api_name": f"F{n}", "data_type": "text"} for n in range(5001)]
    export = exported(tmp_path, fields, [["4876543000000000001", *[""] * 5001]])
    results = outcomes(export, zipped(export, tmp_path / "a.zip"), monkeypatch)
    assert results[0] == results[1] and "5002 columns, over 5000" in str(results[0][1])


TIMES = [{"api_name": "Created_Time", "data_type": "datetime"}]


@pytest.mark.parametrize(
    ("offset", "utc"),
    [("+14:00", "2024-03-09T20:00:00+00:00"), ("-12:00", "2024-03-10T22:00:00+00:00"),
     ("+05:45", "2024-03-10T04:15:00+00:00"), ("+14:59", "2024-03-09T19:01:00+00:00")],
)  # fmt: skip
def test_offsets_zoho_can_write_are_read_alike(offset, utc, tmp_path, monkeypatch) -> None:
    export = exported(tmp_path, TIMES, [["1", f"2024-03-10T10:00:00{offset}"]] * 3)
    path = zipped(export, tmp_path / "a.zip")
    for fast in (False, True):
        assert record_lines(export, path, fast, monkeypatch)[0]["Created_Time"] == utc


@pytest.mark.parametrize("offset", ["+05:99", "+15:00", "-15:00", "+24:00", "+05:60"])
def test_an_impossible_offset_is_refused_by_both_in_one_line(offset, tmp_path, monkeypatch) -> None:
    good = ["1", "2024-03-10T10:00:00+05:00"]  # fills the datetime cache for the day
    export = exported(tmp_path, TIMES, [good, good, ["2", f"2024-03-10T10:00:00{offset}"]])
    results = outcomes(export, zipped(export, tmp_path / "a.zip"), monkeypatch)
    assert results[0] == results[1], results
    assert results[0] == (
        -1,
        f"Leads: record 3 (CSV line 4) of job 111 has '2024-03-10T10:00:00{offset}' in "
        "Created_Time, which is not a valid datetime",
    )


def test_a_refusal_names_the_record_and_its_first_csv_line_alike_in_both(
    tmp_path, monkeypatch
) -> None:
    """Multi-line cells before it: the record number is not the CSV line number."""
    fields = [*TIMES, {"api_name": "Note", "data_type": "textarea"}]
    rows = [
        ["1", "2024-03-10T10:00:00+05:00", '"one\r\ntwo\r\nthree"'],
        ["2", "2024-03-10T10:00:00+05:00", '"four\nfive"'],
        ["3", "2024-02-30T10:00:00+05:00", '"six\r\nseven"'],
    ]
    export = exported(tmp_path, fields, rows)
    results = outcomes(export, zipped(export, tmp_path / "a.zip"), monkeypatch)
    assert results[0] == results[1], results
    assert "record 3 (CSV line 7) of job 111 has '2024-02-30T10:00:00+05:00'" in str(results[0][1])
    rows[2] = ["3", "2024-03-10T10:00:00+05:00"]  # a row one cell short
    export = exported(tmp_path, fields, rows)
    results = outcomes(export, zipped(export, tmp_path / "b.zip"), monkeypatch)
    assert results[0] == results[1], results
    assert results[0][1] == "Leads: record 3 (CSV line 7) of job 111 has 2 columns, the header 3"


def test_a_block_of_nothing_but_carriage_returns_goes_to_the_strict_decoder_intact(
    tmp_path, monkeypatch, caplog
) -> None:
    monkeypatch.setattr(columnar, "BLOCK_BYTES", BLOCK)
    note = "start" + "\r" * (3 * BLOCK) + "\nend"
    cell = '"' + note + '"'
    export = exported(tmp_path, NOTES[:1], [["1", "x"], ["2", cell], ["3", "y"]])
    path = zipped(export, tmp_path / "a.zip")
    with caplog.at_level(logging.INFO):
        for fast in (False, True):
            assert [r["Note_0"] for r in record_lines(export, path, fast, monkeypatch)] == [
                "x",
                note,
                "y",
            ]
            monkeypatch.setattr(columnar, "BLOCK_BYTES", BLOCK)
    assert "read by the strict decoder from row 1 on" in caplog.text
