"""Logs a data engineer can follow: a heartbeat while a job waits, page progress, one line a retry."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from tap_zoho_bulkread.bulk import polling
from tap_zoho_bulkread.bulk.jobs import BulkReader
from tap_zoho_bulkread.bulk.ledger import JobSettings
from tap_zoho_bulkread.zoho.client import DownloadLimiter
from tests.tap_runner import client_of, discover, faults, run_tap, select, tap_config
from tests.zoho_client import ZohoTestClient
from zoho_bulkread_emulator import Emulator


def test_a_waiting_job_logs_a_heartbeat_with_its_state_and_minutes(
    caplog, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(polling, "HEARTBEAT_SECONDS", 0.4)  # a minute in production
    with Emulator(job_seconds=1.5) as emu:
        settings = JobSettings("crm", "v8", poll_interval_seconds=0.1, job_timeout_seconds=60)
        reader = BulkReader(client_of(emu.url), settings, logging.getLogger("logs-test"), tmp_path)
        body = {"query": {"module": {"api_name": "Calls"}, "fields": ["Subject"], "page": 1}}
        job_id = reader.create(body, "Calls")
        with caplog.at_level(logging.INFO):
            reader.wait(job_id, "Calls")
    heartbeats = [r.getMessage() for r in caplog.records if "still" in r.getMessage()]
    assert len(heartbeats) >= 2
    assert all(
        re.fullmatch(rf"Calls: job {job_id} is still IN PROGRESS after \d+ minutes", h)
        for h in heartbeats
    )


def test_each_page_logs_its_number_the_pages_to_come_and_a_running_total(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.0, per_page=100, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=["Calls"])
        run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), {"Calls": None}))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Calls: created bulk read job" in run.stderr and "for page 2" in run.stderr
    assert "page_token" not in run.stderr
    assert "Skipping parse of env var settings" not in run.stderr  # said every run, means nothing
    progress = re.findall(
        r"Calls: page (\d+) of (at least \d+|\d+) emitted: (\d+) records in [\d.]+s, (\d+) records so far",
        run.stderr,
    )
    assert progress == [
        ("1", "at least 2", "100", "100"),
        ("2", "at least 3", "100", "200"),
        ("3", "3", "50", "250"),
    ]


def test_a_download_429_is_logged_once(caplog, tmp_path: Path) -> None:
    with Emulator(job_seconds=0.0, download_limit=1, download_window_seconds=0.5) as emu:
        zoho = ZohoTestClient(emu.url)
        job_id = zoho.create_job({"query": {"module": "Calls", "fields": ["Subject"]}}).json()[
            "data"
        ][0]["details"]["id"]
        url = zoho.wait(job_id)["result"]["download_url"]
        zoho.download(url)  # the emulator's one download of this window
        client = client_of(emu.url, DownloadLimiter(limit=100, window=0.5))
        with caplog.at_level(logging.INFO):
            size = client.download(url, tmp_path / "result.zip")
    assert size > 0
    lines = [
        r.getMessage()
        for r in caplog.records
        # "HTTP 429", not "429": a loopback port such as :42903 holds those digits too
        if "HTTP 429" in r.getMessage() or "downloads a minute" in r.getMessage()
    ]
    assert len(lines) == 1, lines
    assert "download limit reached (HTTP 429)" in lines[0]


@pytest.mark.parametrize("bursts", [2])
def test_every_429_on_api_calls_is_one_warning_line(tmp_path: Path, bursts: int) -> None:
    with Emulator(job_seconds=0.05, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=["Calls"])
        catalog = select(discover(tmp_path, config), {"Calls": None})
        faults(emu.url, burst_429=bursts, retry_after_seconds=0.1)
        run = run_tap(tmp_path / "run", config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [line for line in run.stderr.splitlines() if "HTTP 429" in line]
    assert len(lines) == bursts, lines
    assert all("| WARNING" in line and "retrying in 0.1s" in line for line in lines)
