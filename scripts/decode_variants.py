"""Decode one export in one process with and without raw numbers, interleaved, beside the raw client.

    .venv/bin/python scripts/decode_variants.py Wide_Records 50000
    .venv/bin/python scripts/decode_variants.py --sparse 50000   # 190 columns, most empty

Downloads one export of ``module`` from an emulator (its own process), then times, best of
``--rounds`` and interleaved so that the machine's noise hits all alike: the raw csv+msgspec
client of `make bench`, the tap's RecordDecoder with Decimal/int numbers, and with ``raw_numbers``
(the strict decoder the tap's own writers use without pyarrow), and the Arrow decoder (what they
use with the ``fast`` extra). RECORD lines go to /dev/null. With ``--gzip``
it also times gzip levels 1, 6 and 9 (BATCH files' batch_compression_level) on the records'
JSON lines.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import logging
import random
import time
import zipfile
from pathlib import Path
from tempfile import TemporaryDirectory

from bench import EmulatorProcess, download_export, raw_baseline

from tap_zoho_bulkread.bulk.batches import RECORD_ENCODER
from tap_zoho_bulkread.bulk.columnar import ColumnarDecoder, encoded_lines
from tap_zoho_bulkread.bulk.decode import RecordDecoder
from tap_zoho_bulkread.bulk.metadata import field_specs
from zoho_bulkread_emulator.org import build_org

PREFIX = b'{"type":"RECORD","stream":"Leads","record":'
SUFFIX = b',"time_extracted":"2026-11-23T21:30:02.058442Z"}\n'


def decode_seconds(decoder: RecordDecoder | ColumnarDecoder, path: Path) -> float:
    """Wall time to decode the zip and write its RECORD lines to /dev/null."""
    started = time.perf_counter()
    with open("/dev/null", "wb") as sink:
        for batch in decoder.batches(path, "1"):
            sink.write(encoded_lines(batch, PREFIX, SUFFIX))
    return time.perf_counter() - started


SPARSE_TYPES = (
    ["datetime"] * 12 + ["currency"] * 12 + ["decimal"] * 8 + ["integer"] * 10
    + ["boolean"] * 15 + ["date"] * 10 + ["multiselectpicklist"] * 3 + ["text"] * 119
)  # fmt: skip


def sparse_export(work: Path, rows: int) -> tuple[Path, list[dict[str, str]]]:
    """A zip shaped like a real org's wide module: 190 columns, most cells empty.

    A dozen datetimes (Created_Time and Modified_Time always set, the others one row in four),
    other cells filled one time in seven, text sometimes quoted or on two lines.
    """
    rng = random.Random(7)
    entries = [
        {"api_name": f"Field_{i:03d}", "data_type": kind} for i, kind in enumerate(SPARSE_TYPES)
    ]
    entries[0]["api_name"], entries[1]["api_name"] = "Created_Time", "Modified_Time"
    samples = {
        "currency": lambda: f"{rng.uniform(0, 1e5):.2f}",
        "decimal": lambda: f"{rng.uniform(0, 10):.4f}",
        "integer": lambda: str(rng.randrange(100_000)),
        "boolean": lambda: rng.choice(["true", "false"]),
        "date": lambda: f"20{rng.randrange(10, 26)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
        "datetime": lambda: f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00-0{rng.choice([7, 8])}:00",
        "multiselectpicklist": lambda: rng.choice(["A", "A;B", "B;C;D"]),
        "text": lambda: rng.choice(["Acme", "Initech, Inc.", 'The "Hooli" Company', "two\nlines", "Zoë"]),
    }  # fmt: skip
    text = io.StringIO()
    out = csv.writer(text, lineterminator="\r\n")
    out.writerow(["Id", *(e["api_name"] for e in entries)])
    for row in range(rows):
        cells = [str(4876543000000000000 + row)]
        for position, entry in enumerate(entries):
            chance = 1 if position < 2 else 4 if entry["data_type"] == "datetime" else 7
            filled = rng.randrange(chance) == 0
            cells.append(samples[entry["data_type"]]() if filled else "")
        out.writerow(cells)
    path = work / "sparse.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("1.csv", text.getvalue())
    return path, entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("module", nargs="?", default="Wide_Records")
    parser.add_argument("rows", nargs="?", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gzip", action="store_true", help="also time gzip levels 1, 6, 9")
    parser.add_argument(
        "--sparse",
        action="store_true",
        help="a generated real-shaped export instead (module unused)",
    )
    args = parser.parse_args()
    with TemporaryDirectory() as folder:
        work = Path(folder)
        if args.sparse:
            args.module = "sparse"
            path, entries = sparse_export(work, args.rows)
        else:
            entries = [
                item.metadata("1") for item in build_org().modules["crm"][args.module].fields
            ]
        specs = field_specs(entries, args.module, logging.getLogger("variants"))
        fields = [spec.name for spec in specs][:200]  # 200 at most, or Zoho exports every field
        if not args.sparse:
            with EmulatorProcess(
                "--job-seconds", "0", "--records", f"{args.module}={args.rows}"
            ) as emu:
                path = download_export(emu.url, fields, work, args.module)
        labels = ("raw client", "tap, Decimal", "tap, raw", "tap, Arrow")
        best = dict.fromkeys(labels, float("inf"))
        for _ in range(args.rounds):
            best["raw client"] = min(best["raw client"], raw_baseline(path, 1)[0])
            for label, raw in (("tap, Decimal", False), ("tap, raw", True)):
                decoder = RecordDecoder(args.module, specs, ["id", *fields], raw_numbers=raw)
                best[label] = min(best[label], decode_seconds(decoder, path))
            strict = RecordDecoder(args.module, specs, ["id", *fields], raw_numbers=True)
            arrow = decode_seconds(ColumnarDecoder(strict), path)
            best["tap, Arrow"] = min(best["tap, Arrow"], arrow)
        if args.gzip:
            decoder = RecordDecoder(args.module, specs, ["id", *fields], raw_numbers=True)
            lines = b"".join(
                b"\n".join(map(RECORD_ENCODER.encode, batch)) + b"\n"
                for batch in decoder.batches(path, "1")
            )
            print(f"gzip of {len(lines) / 1e6:.0f} MB of JSON lines:")
            for level in (1, 6, 9):
                started = time.perf_counter()
                size = len(gzip.compress(lines, compresslevel=level))
                elapsed = time.perf_counter() - started
                print(f"   level {level}: {elapsed:5.2f}s  {size / 1e6:6.1f} MB")
    base = best["raw client"]
    print(f"{args.module}: {args.rows:,} rows, {len(fields) + 1} columns, best of {args.rounds}")
    for label, seconds in best.items():
        print(f"   {label:<14} {seconds:6.2f}s  {seconds / base:5.2f}x the raw client")


if __name__ == "__main__":
    main()
