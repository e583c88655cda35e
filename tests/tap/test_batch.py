"""BATCH messages from the tap's own decoder: the same records and state as RECORD mode."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.tap_runner import TapRun, discover, run_tap, select, tap_config
from zoho_bulkread_emulator import Emulator

STREAMS = {
    "Leads": None,
    "Calls": ["Subject", "Call_Start_Time"],
    "Price_Tiers": None,
    "Users": None,
}
PER_PAGE = 300


def batch_config(root: Path, size: int) -> dict[str, Any]:
    return {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": root.as_uri(), "prefix": "zoho-"},
        "batch_size": size,
    }


def batch_records(run: TapRun, stream: str) -> list[dict[str, Any]]:
    """The records of a stream's BATCH files, in the order they were announced."""
    records = []
    for message in run.messages:
        if message["type"] == "BATCH" and message["stream"] == stream:
            assert message["encoding"] == {"format": "jsonl", "compression": "gzip"}
            records += [json.loads(line) for line in batch_records_of(message)]
    return records


def without_version(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], set[int]]:
    """The records without zoho_table_version, and the versions they carried."""
    versions = {r["zoho_table_version"] for r in records if "zoho_table_version" in r}
    return [{k: v for k, v in r.items() if k != "zoho_table_version"} for r in records], versions


def bookmarks(run: TapRun) -> dict[str, Any]:
    return {
        name: {k: v for k, v in mark.items() if k == "replication_key_value"}
        for name, mark in run.final_state["bookmarks"].items()
    }


def test_batch_files_hold_exactly_the_records_of_record_mode(tmp_path: Path) -> None:
    records = {("crm", "Leads"): 1000, ("crm", "Price_Tiers"): 500}
    with Emulator(
        job_seconds=0.0, per_page=PER_PAGE, records=records, download_limit=10_000
    ) as emu:
        config = tap_config(emu.url, modules=["Leads", "Calls", "Price_Tiers", "Products"])
        catalog = select(discover(tmp_path, config), STREAMS)
        plain = run_tap(tmp_path / "record", config, catalog=catalog)
        batched_config = {**config, "batch_config": batch_config(tmp_path / "files", 250)}
        batched = run_tap(tmp_path / "batch", batched_config, catalog=catalog)
    assert plain.returncode == 0 and batched.returncode == 0, batched.stderr[-3000:]
    for stream in STREAMS:
        in_files, files_versions = without_version(batch_records(batched, stream))
        in_lines, lines_versions = without_version(plain.records(stream))
        assert in_files == in_lines, stream  # values, types, order
        assert not batched.records(stream)
        # a full-table stream's rows all carry their run's table version (each run its own)
        if stream in ("Price_Tiers", "Users"):
            assert len(files_versions) == len(lines_versions) == 1
            assert files_versions != lines_versions
        else:
            assert files_versions == lines_versions == set()
    assert bookmarks(batched) == bookmarks(plain)
    assert "zoho_export" not in json.dumps(batched.final_state)
    # written in place: the storage root holds the announced files and nothing else
    announced = [urlsplit(url).path for m in batched.messages if m["type"] == "BATCH" for url in m["manifest"]]  # fmt: skip
    assert sorted(str(p) for p in (tmp_path / "files").iterdir()) == sorted(announced)
    # a file per 250 records and one more at each page's end: 1000 Leads in pages of 300
    sizes = [len(batch_records_of(m)) for m in batched.messages if m.get("stream") == "Leads" and m["type"] == "BATCH"]  # fmt: skip
    assert sizes == [250, 50, 250, 50, 250, 50, 100]
    # no ACTIVATE_VERSION for BATCH loads: targets leave such rows without a table version
    assert "ACTIVATE_VERSION" in {m["type"] for m in plain.messages}
    assert "ACTIVATE_VERSION" not in {m["type"] for m in batched.messages}


def batch_records_of(message: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for url in message["manifest"]:
        with gzip.open(urlsplit(url).path, "rt", encoding="utf-8") as text:
            lines += text.read().splitlines()
    return lines


def test_a_checkpoint_never_passes_a_record_not_yet_in_an_announced_file(tmp_path: Path) -> None:
    with Emulator(
        job_seconds=0.0, per_page=PER_PAGE, records={("crm", "Leads"): 1000}, download_limit=10_000
    ) as emu:
        config = tap_config(emu.url, modules=["Leads"], batch_config=batch_config(tmp_path, 10_000))
        catalog = select(discover(tmp_path, config), {"Leads": ["Last_Name"]})
        run = run_tap(tmp_path / "run", config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    announced, checked = 0, 0
    for message in run.messages:
        if message["type"] == "BATCH":
            announced += len(batch_records_of(message))
        elif message["type"] == "STATE":
            export = message["value"]["bookmarks"].get("Leads", {}).get("zoho_export")
            if export:
                assert announced >= (export["page"] - 1) * PER_PAGE, (announced, export)
                checked += 1
    assert checked >= 4 and announced == 1000


def test_an_encoding_the_tap_does_not_write_is_one_line(tmp_path: Path) -> None:
    settings = batch_config(tmp_path, 100)
    settings["encoding"] = {"format": "parquet", "compression": "gzip"}
    run = run_tap(tmp_path, tap_config("http://127.0.0.1:9", batch_config=settings))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "batch_config.encoding parquet/gzip is not supported" in run.stderr
    assert "STATE" not in run.stdout
