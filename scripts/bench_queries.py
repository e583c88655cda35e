"""`make bench` part 7: Query API reads of several modules overlap, within Zoho's limits.

Eight modules, each with 2,000 records changed since its bookmark, read through the Query API
(no bulk read job), against one module alone, in one run of this script. The emulator takes
``--rest-seconds`` to answer each records API and Query API call, as Zoho takes its own time
(a client whose calls wait on each other pays it once per call), names the Standard edition in
``GET /crm/v8/org`` and answers 429 past its 10 calls at once (Kaizen #35). Timed: the default
``max_concurrent_queries`` (unset: from the edition, 9 modules ahead of the one being written
on Standard), 4 (what the Free edition's 5 allows), and 0 (one module at a time).
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench_children import write_catalog

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
MODULES = ["Leads", "Contacts", "Accounts", "Deals", "Tasks", "Calls", "Events", "Products"]
REFUSED_BY_COQL = {"nearby_distance__s", "Record_Image"}  # such a selection takes a bulk job
CHANGED = 2000  # the most one Query API call returns: the largest change read that way


def _post(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/__emulator__/{path}", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=600) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


def _get(url: str, path: str) -> Any:
    with urllib.request.urlopen(f"{url}/__emulator__/{path}", timeout=600) as answer:
        return json.loads(answer.read())


def _timed_run(emulator: Any, work: Path, modules: list[str], at_once: int | None) -> float:
    """One run of ``modules``, each with CHANGED records since its bookmark; its wall time."""
    more = {} if at_once is None else {"max_concurrent_queries": at_once}
    config = {
        "client_id": "emulator-client-id", "client_secret": "emulator-client-secret",
        "refresh_token": "emulator-refresh-token", "accounts_url": emulator.url,
        "modules": modules, "replication_key": "Modified_Time", "token_cache": False, **more,
    }  # fmt: skip
    name = f"queries-{len(modules)}-{at_once}"
    (work / f"{name}.json").write_text(json.dumps(config))
    tap = [str(BIN / "tap-zoho-bulkread"), "--config", str(work / f"{name}.json")]
    catalog = work / f"{name}-catalog.json"
    write_catalog(tap, catalog, lambda stream: stream in modules)
    chosen = json.loads(catalog.read_text())
    for stream in chosen["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"][-1:] and entry["breadcrumb"][-1] in REFUSED_BY_COQL:
                entry["metadata"]["selected"] = False
    catalog.write_text(json.dumps(chosen))
    bookmark = (datetime.now(timezone.utc) - timedelta(seconds=2)).isoformat(timespec="seconds")
    state = {
        "bookmarks": {
            module: {"replication_key": "Modified_Time", "replication_key_value": bookmark,
                     "zoho_last_export_began": bookmark}
            for module in modules
        }
    }  # fmt: skip
    for module in modules:
        _post(emulator.url, "mutate", {"module": module, "create": CHANGED})
    (work / f"{name}-state.json").write_text(json.dumps(state))
    started = time.monotonic()
    done = subprocess.run(
        [*tap, "--catalog", str(catalog), "--state", str(work / f"{name}-state.json")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"tap failed:\n{done.stderr[-3000:]}")
    records = sum(1 for line in done.stdout.splitlines() if line.startswith('{"type":"RECORD"'))
    jobs = [e for e in _get(emulator.url, "requests") if e["path"].endswith("/read")]
    if records < CHANGED * len(modules) or jobs:
        raise SystemExit(f"expected {CHANGED:,} records a module and no job: {records}, {jobs}")
    return wall


def query_overlap_benchmark(work: Path, emulator_process: Any, answer_seconds: float) -> None:
    """Print 8 modules against one through the Query API, at three settings side by side."""
    print(
        f"\n7. Query API reads overlapped: {CHANGED:,} changed records a module, each API answer "
        f"after {answer_seconds:g}s, the Standard edition: 429 past 10 calls at once"
    )
    print(f"   {'max_concurrent_queries':<28}{'1 module':>10}{'8 modules':>11}{'8 / 1':>8}")
    for label, at_once in (("unset (default): 9", None), ("4 (Free)", 4), ("0 (one at a time)", 0)):
        walls = []
        for modules in (MODULES[:1], MODULES):
            options = (
                "--rest-seconds", str(answer_seconds), "--max-concurrent-calls", "10",
                "--edition", "standard",
            )  # fmt: skip
            with emulator_process(*options) as emulator:
                walls.append(_timed_run(emulator, work, modules, at_once))
        one, eight = walls
        target = ""
        if at_once is None:
            target = "  (target <= 1.5x)" + ("  << MISSES ITS TARGET" if eight / one > 1.5 else "")
        print(f"   {label:<28}{one:>9.1f}s{eight:>10.1f}s{eight / one:>7.2f}x{target}", flush=True)
