"""A run ends with a summary a person reads; METRIC JSON lines only when asked for."""

from __future__ import annotations

import re
from pathlib import Path

from tap_zoho_bulkread.summary import plural
from tests.tap_runner import discover, run_tap, select, tap_config
from tests.zoho_client import ground_truth
from zoho_bulkread_emulator import Emulator


def test_a_sync_ends_with_a_summary_per_stream_and_totals_and_no_metric_lines(
    tmp_path: Path,
) -> None:
    with Emulator(job_seconds=0.0, per_page=100, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=["Calls", "Leads"])
        catalog = select(
            discover(tmp_path, config),
            {"Calls": None, "Leads": ["Last_Name"], "Users": None, "Deleted_Records": None},
        )
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        calls = len(ground_truth(emu.url, "Calls"))
        leads = len(ground_truth(emu.url, "Leads"))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "METRIC" not in run.stderr
    summary = [line.split("| ", 3)[-1] for line in run.stderr.splitlines() if "Summary:" in line]
    pages = -(-calls // 100), -(-leads // 100)  # Zoho's pages of 100 (the emulator's per_page)
    assert re.fullmatch(
        rf"Summary: Calls: {calls} records from {pages[0]} pages in [\d.]+s", summary[0]
    )
    assert any(
        re.fullmatch(rf"Summary: Leads: {leads} records from {pages[1]} pages in [\d.]+s", s)
        for s in summary
    )
    assert any(re.fullmatch(r"Summary: Users: 5 records in [\d.]+s", s) for s in summary)
    total = calls + leads + 5
    assert re.fullmatch(
        rf"Summary: {total} records from 4 streams in [\d.]+s; {sum(pages)} downloads, "
        r"[\d.]+s waited for Zoho's download limit",
        summary[-1],
    )
    assert "Deleted_Records: 0 deletions of Calls read in" in run.stderr


def test_log_metrics_brings_the_sdks_metric_lines_back(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.0, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=["Calls"], log_metrics=True)
        run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), {"Calls": None}))
    assert run.returncode == 0
    assert '"metric":"record_count","value":250' in run.stderr.replace(" ", "")


def test_counts_read_with_their_noun_in_the_right_number() -> None:
    assert [plural(0, "page"), plural(1, "page"), plural(2, "page")] == [
        "0 pages",
        "1 page",
        "2 pages",
    ]
    assert plural(1, "minute") == "1 minute"


def test_a_job_that_exported_nothing_is_not_downloaded(tmp_path: Path) -> None:
    """A COMPLETED job with count 0 and no more records: no download (of Zoho's 10 a minute)."""
    import requests

    with Emulator(job_seconds=0.0, download_limit=10_000) as emu:
        config = tap_config(
            emu.url, modules=["Calls"], start_date="2999-01-01T00:00:00Z", query_api_max_records=0
        )  # a first run with a start_date and a small module would count through COQL
        run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), {"Calls": None}))
        paths = [
            e["path"] for e in requests.get(f"{emu.url}/__emulator__/requests", timeout=10).json()
        ]
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.records("Calls") == []
    assert any(p.endswith("/read") for p in paths) and not any(p.endswith("/result") for p in paths)
    assert "exported no records; nothing to download" in run.stderr
    assert "Summary: 0 records from 1 stream" in run.stderr and "0 downloads" in run.stderr
