"""Query API reads of different modules overlap, within the concurrency limit Zoho sets.

The emulator takes a moment to answer each records API and Query API call (as Zoho does) and
answers 429 past the calls Zoho answers at once on the org's edition (Kaizen #35: 5 on Free, 10
on Standard). Eight modules changed since their bookmark are read through the Query API: with
``max_concurrent_queries`` unset the tap reads the edition from ``GET /crm/v8/org`` and their
checks and reads run at the same time, never past the limit, and every changed record arrives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.tap_runner import TapRun, discover, job_bodies, run_tap, select, tap_config
from tests.zoho_client import ground_truth
from zoho_bulkread_emulator import Emulator
from zoho_bulkread_emulator.state import DEFAULT_SCOPES

pytestmark = pytest.mark.slow

MODULES = ["Leads", "Contacts", "Accounts", "Deals", "Tasks", "Calls", "Events", "Products"]
BOOKMARK = "2025-06-01T00:00:00+00:00"
REFUSED_BY_COQL = {"nearby_distance__s", "Record_Image"}  # such a selection takes a bulk job


def state_of() -> dict[str, Any]:
    return {
        "bookmarks": {
            module: {
                "replication_key": "Modified_Time",
                "replication_key_value": BOOKMARK,
                "zoho_last_export_began": "2025-06-01T12:00:00+00:00",
            }
            for module in MODULES
        }
    }


def changed(url: str, module: str) -> set[str]:
    """The ids the module holds at or after the bookmark: what the run must read (truth)."""
    return {row["id"] for row in ground_truth(url, module) if row["Modified_Time"] >= BOOKMARK}


@pytest.mark.parametrize(
    ("edition", "limit", "at_once", "least", "most"),
    [
        ("free", 5, None, 3, 5),  # the Free edition: 4 ahead and the module being written
        ("trial", 5, None, 3, 5),  # evaluating Enterprise is paid_type free: taken as Free
        ("standard", 10, None, 6, 10),
        ("standard", 10, 0, 1, 1),  # 0: each module at its turn
    ],
)
def test_query_api_reads_overlap_within_the_editions_concurrency_limit(
    tmp_path: Path, edition: str, limit: int, at_once: int | None, least: int, most: int
) -> None:
    more = {} if at_once is None else {"max_concurrent_queries": at_once}
    options = {"max_concurrent_calls": limit, "edition": edition}
    run, log, peak = eight_modules_changed(tmp_path, options, more)
    assert least <= peak <= most, peak
    asked_org = [e for e in log if e["path"] == "/crm/v8/org"]
    assert len(asked_org) == (1 if at_once is None else 0)
    said = "Zoho CRM edition free: up to 4" if limit == 5 else "edition standard: up to 9"
    assert (said in run.stderr) == (at_once is None), run.stderr[-2000:]


def test_an_org_whose_edition_cannot_be_read_is_read_as_the_free_edition(tmp_path: Path) -> None:
    """Without the scope ZohoCRM.org.READ: one line that says so, and 4 modules ahead at most."""
    scopes = tuple(s for s in DEFAULT_SCOPES if s != "ZohoCRM.org.READ")
    options = {"max_concurrent_calls": 10, "edition": "ultimate", "scopes": scopes}
    run, _, peak = eight_modules_changed(tmp_path, options, {})
    assert peak <= 5, peak
    lines = [line for line in run.stderr.splitlines() if "edition could not be read" in line]
    assert len(lines) == 1 and "OAUTH_SCOPE_MISMATCH" in lines[0], lines


def eight_modules_changed(
    tmp_path: Path, options: dict[str, Any], more: dict[str, Any]
) -> tuple[TapRun, list[dict[str, Any]], int]:
    """The eight modules read from their bookmark: the run, the emulator's log, its peak calls.

    Every module went through the Query API, no call got 429, and every changed record came.
    """
    with Emulator(rest_seconds=0.15, download_limit=10_000, **options) as org:
        config = tap_config(org.url, modules=MODULES, replication_key="Modified_Time", **more)
        found = discover(tmp_path / "discover", config)
        wanted = {
            entry["tap_stream_id"]: [
                p for p in entry["schema"]["properties"] if p not in REFUSED_BY_COQL
            ]
            for entry in found["streams"]
            if entry["tap_stream_id"] in MODULES
        }
        run = run_tap(tmp_path / "run", config, catalog=select(found, wanted), state=state_of())

        assert run.returncode == 0, run.stderr[-3000:]
        assert job_bodies(org.url) == []  # every module through the Query API
        log = requests.get(f"{org.url}/__emulator__/requests", timeout=10).json()
        assert [e for e in log if e.get("status") == 429] == []
        peak = requests.get(f"{org.url}/__emulator__/health", timeout=10).json()["peak_calls"]
        for module in MODULES:
            expected = changed(org.url, module)
            assert expected, module  # the data has changes in every module's window
            assert {r["id"] for r in run.records(module)} == expected, module
        return run, log, peak
