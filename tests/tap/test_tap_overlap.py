"""Jobs of later streams are created while earlier ones run, never more than the limit at once."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.tap_runner import discover, run_tap, select, tap_config
from zoho_bulkread_emulator import Emulator

MODULES = ["Accounts", "Calls", "Contacts", "Deals", "Events", "Products"]


def timeline(url: str) -> list[tuple[str, str]]:
    """("create", job_id) and ("download", job_id) events in the order the emulator saw them."""
    events = []
    for entry in requests.get(f"{url}/__emulator__/requests", timeout=10).json():
        if entry["method"] == "POST" and entry["path"].endswith("/read") and entry.get("job_id"):
            events.append(("create", entry["job_id"]))
        elif entry["path"].endswith("/result") and entry.get("status") == 200:
            events.append(("download", entry["path"].split("/")[-2]))
    return events


@pytest.mark.parametrize("limit", [1, 3])
def test_jobs_in_flight_never_exceed_max_concurrent_jobs(tmp_path: Path, limit: int) -> None:
    with Emulator(job_seconds=0.3, download_limit=10_000, per_page=60) as emu:
        config = tap_config(emu.url, modules=MODULES, max_concurrent_jobs=limit)
        catalog = select(discover(tmp_path, config), {m: ["Created_Time"] for m in MODULES})
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        events = timeline(emu.url)
    assert run.returncode == 0, run.stderr[-2000:]
    in_flight, peak = set(), 0
    for kind, job_id in events:
        if kind == "create":
            in_flight.add(job_id)
        else:
            in_flight.discard(job_id)
        peak = max(peak, len(in_flight))
    assert peak == limit
    streams = [m["stream"] for m in run.messages if m["type"] == "SCHEMA"]
    assert streams == MODULES  # output stays one stream at a time, in order
    order = [m["stream"] for m in run.messages if m["type"] == "RECORD"]
    assert order == sorted(order, key=MODULES.index)


def test_later_streams_jobs_are_created_before_the_first_completes(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.5, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=MODULES, max_concurrent_jobs=4)
        catalog = select(discover(tmp_path, config), {m: ["Created_Time"] for m in MODULES})
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        events = timeline(emu.url)
    assert run.returncode == 0, run.stderr[-2000:]
    assert [kind for kind, _ in events[:5]] == ["create"] * 4 + ["download"]
    assert "created ahead of its turn" in run.stderr
