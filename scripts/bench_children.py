"""`make bench` part 6: what child data equal to Zoho costs on a realistic org.

200,000 Quotes with 1,000,000 line items (Quoted_Items), 10-second jobs. Two runs each way:
the first run, then an incremental run after 10 line items were edited, 5 removed and 3 new
quotes with 3 line items added. The default (child streams FULL_TABLE: every line item again,
so edits and removals arrive) side by side with the child stream incremental on Created_Time
(`module_settings.Quoted_Items.replication_key`: cheaper, but edits and removals never arrive).
Printed per run: wall time, records, bulk jobs, downloads, REST calls, and what the tap wrote.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
MODULES = ["Quotes", "Quoted_Items"]


def write_catalog(tap: list[str], path: Path, chosen: Callable[[str], bool]) -> None:
    """Discover with the ``tap`` command and write its catalog with the ``chosen`` streams."""
    catalog = json.loads(
        subprocess.run([*tap, "--discover"], capture_output=True, text=True, check=True).stdout
    )
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            entry["metadata"]["selected"] = chosen(stream["tap_stream_id"])
    path.write_text(json.dumps(catalog))


def _admin(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/__emulator__/{path}", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=600) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


def _requests(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/__emulator__/requests", timeout=600) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


def _change_line_items(url: str) -> None:
    _admin(url, "mutate", {"module": "Quoted_Items", "update": 10})
    _admin(url, "delete", {"module": "Quoted_Items", "count": 5})
    _admin(url, "mutate", {"module": "Quotes", "create": 3})
    _admin(url, "mutate", {"module": "Quoted_Items", "create": 3})


def _run(tap: list[str], work: Path, state: dict[str, Any]) -> tuple[float, int, int, dict]:
    """One sync to a file; wall seconds, records, bytes written, and the final state."""
    (work / "state.json").write_text(json.dumps(state))
    output = work / "out.jsonl"
    started = time.monotonic()
    with output.open("wb") as sink:
        done = subprocess.run(
            [*tap, "--catalog", str(work / "catalog.json"),
             *(["--state", str(work / "state.json")] if state else [])],
            stdout=sink, stderr=subprocess.PIPE, text=True, check=False,
        )  # fmt: skip
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"tap failed:\n{done.stderr[-3000:]}")
    records, final = 0, state
    with output.open("rb") as lines:
        for line in lines:
            if line.startswith(b'{"type":"RECORD"'):
                records += 1
            elif b'"STATE"' in line[:40]:
                final = json.loads(line)["value"]
    return wall, records, output.stat().st_size, final


def children_benchmark(work: Path, quotes: int, line_items: int, job_seconds: float) -> None:
    """Print the table of runs, full-table child against incremental child."""
    print(
        f"\n6. Child data: {quotes:,} Quotes, {line_items:,} Quoted_Items, {job_seconds:g}-second "
        "jobs; after the first run 10 line items edited, 5 removed, 3 quotes + 3 items added",
        flush=True,
    )
    print(
        f"   {'Quoted_Items':<14}{'run':<13}{'wall':>8}{'records':>11}{'jobs':>6}"
        f"{'downloads':>11}{'REST':>6}{'written':>10}"
    )
    for mode, settings in (
        ("FULL_TABLE", {}),
        ("incremental", {"module_settings": {"Quoted_Items": {"replication_key": "Created_Time"}}}),
    ):
        process = subprocess.Popen(
            [str(BIN / "zoho-bulkread-emulator"), "--port", "0", "--job-seconds", str(job_seconds),
             "--records", f"Quotes={quotes}", "--records", f"Quoted_Items={line_items}",
             "--download-limit", "100"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip().removeprefix("listening on ")
            config = {
                "client_id": "emulator-client-id", "client_secret": "emulator-client-secret",
                "refresh_token": "emulator-refresh-token", "accounts_url": url,
                "modules": MODULES, "poll_interval_seconds": 1, **settings,
            }  # fmt: skip
            (work / "config.json").write_text(json.dumps(config))
            tap = [str(BIN / "tap-zoho-bulkread"), "--config", str(work / "config.json")]
            write_catalog(tap, work / "catalog.json", lambda stream: stream in MODULES)
            state: dict[str, Any] = {}
            for label in ("first", "incremental"):
                if state:
                    _change_line_items(url)
                before = len(_requests(url))
                wall, records, written, state = _run(tap, work, state)
                log = _requests(url)[before:]
                jobs = sum(1 for e in log if e["method"] == "POST" and e["path"].endswith("/read"))
                downloads = sum(1 for e in log if e["path"].endswith("/result"))
                rest = sum(1 for e in log if "/bulk/" not in e["path"] and "oauth" not in e["path"])
                print(
                    f"   {mode:<14}{label:<13}{wall:>7.1f}s{records:>11,}{jobs:>6}{downloads:>11}"
                    f"{rest:>6}{written / 2**20:>8.0f}MB",
                    flush=True,
                )
        finally:
            process.terminate()
            process.wait(timeout=30)
