"""Downloads are paced so that Zoho's limit is never hit, however Zoho counts its window.

Zoho allows 10 downloads a minute and does not say whether the minute rolls, starts with the
first download, or follows the clock; it counts a download when the request arrives, a little
after the tap sent it. The emulator counts each way, with a seeded delay before it counts each
download (the network); the tap's client (in process, over loopback) must never get a 429.
Scaled down: 3 downloads per 1.5 s window.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
import requests

from tap_zoho_bulkread.zoho.client import DownloadLimiter
from tests.tap_runner import client_of
from tests.zoho_client import ZohoTestClient
from zoho_bulkread_emulator import Emulator

LIMIT, WINDOW = 3, 1.5


def statuses(url: str) -> list[int]:
    log = requests.get(f"{url}/__emulator__/requests", timeout=10).json()
    return [e.get("status") for e in log if e["path"].endswith("/result")]


@pytest.mark.parametrize("kind", ["anchored", "rolling", "clock"])
def test_no_download_is_refused_whatever_the_window_kind(kind: str, tmp_path: Path) -> None:
    with Emulator(
        job_seconds=0.0,
        download_limit=LIMIT,
        download_window_seconds=WINDOW,
        download_window_kind=kind,
    ) as emu:
        requests.post(
            f"{emu.url}/__emulator__/faults",
            json={"seed": 7, "download_arrival_jitter_seconds": 0.3},
            timeout=10,
        ).raise_for_status()
        zoho = ZohoTestClient(emu.url)
        job = zoho.create_job({"query": {"module": "Calls", "fields": ["Subject"]}}).json()
        url = zoho.wait(job["data"][0]["details"]["id"])["result"]["download_url"]
        client = client_of(emu.url, DownloadLimiter(limit=LIMIT, window=WINDOW, margin=0.05))
        sizes: list[int] = []

        def download(worker: int) -> None:
            for number in range(4):
                sizes.append(client.download(url, tmp_path / f"{worker}-{number}.zip"))

        workers = [threading.Thread(target=download, args=(n,)) for n in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        seen = statuses(emu.url)
    assert len(sizes) == 8 and all(size > 0 for size in sizes)
    assert seen == [200] * 8, seen  # not one 429


def test_a_429_that_comes_anyway_says_how_long_it_waits_and_waits_that(
    caplog, tmp_path: Path
) -> None:
    with Emulator(job_seconds=0.0, download_limit=1, download_window_seconds=1.0) as emu:
        zoho = ZohoTestClient(emu.url)
        job = zoho.create_job({"query": {"module": "Calls", "fields": ["Subject"]}}).json()
        url = zoho.wait(job["data"][0]["details"]["id"])["result"]["download_url"]
        zoho.download(url)  # another client took this window's one download
        client = client_of(emu.url, DownloadLimiter(limit=100, window=1.0))
        with caplog.at_level(logging.INFO):
            client.download(url, tmp_path / "a.zip")
        seen = statuses(emu.url)
    lines = [r.getMessage() for r in caplog.records if "HTTP 429" in r.getMessage()]
    assert len(lines) == 1 and "reopens in 1.0s" in lines[0] and "retrying in 1.0s" in lines[0]
    assert seen == [200, 429, 200]  # it waited the whole window: no second 429
