"""Query API reads of different modules overlap, within the concurrency limit Zoho sets.

The emulator takes a moment to answer each records API and Query API call (as Zoho does) and
answers 429 past 5 calls at once (Zoho's limit on the Free edition, Kaizen #93). Eight modules
changed since their bookmark are read through the Query API: with the default
``max_concurrent_queries`` their checks and reads run at the same time, never past the limit,
and every changed record arrives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.tap_runner import discover, job_bodies, run_tap, select, tap_config
from tests.zoho_client import ground_truth
from zoho_bulkread_emulator import Emulator

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


@pytest.mark.parametrize(("at_once", "overlapped"), [(None, True), (0, False)])
def test_query_api_reads_overlap_within_the_concurrency_limit(
    tmp_path: Path, at_once: int | None, overlapped: bool
) -> None:
    with Emulator(rest_seconds=0.15, max_concurrent_calls=5, download_limit=10_000) as org:
        more = {} if at_once is None else {"max_concurrent_queries": at_once}
        config = tap_config(org.url, modules=MODULES, replication_key="Modified_Time", **more)
        found = discover(tmp_path / "discover", config)
        wanted = {
            entry["tap_stream_id"]: [
                p for p in entry["schema"]["properties"] if p not in REFUSED_BY_COQL
            ]
            for entry in found["streams"]
            if entry["tap_stream_id"] in MODULES
        }
        catalog = select(found, wanted)

        run = run_tap(tmp_path / "run", config, catalog=catalog, state=state_of())

        assert run.returncode == 0, run.stderr[-3000:]
        assert job_bodies(org.url) == []  # every module through the Query API
        log = requests.get(f"{org.url}/__emulator__/requests", timeout=10).json()
        assert [e for e in log if e.get("status") == 429] == []
        peak = requests.get(f"{org.url}/__emulator__/health", timeout=10).json()["peak_calls"]
        assert (peak >= 3) if overlapped else (peak == 1), peak
        for module in MODULES:
            expected = changed(org.url, module)
            assert expected, module  # the data has changes in every module's window
            assert {r["id"] for r in run.records(module)} == expected, module
