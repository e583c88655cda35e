"""Run the real ``tap-zoho-bulkread`` command against an emulator and read what it printed."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tap_zoho_bulkread.zoho.auth import ZohoAuthenticator
from tap_zoho_bulkread.zoho.client import DownloadLimiter, ZohoClient

TAP = [sys.executable, "-m", "tap_zoho_bulkread.tap"]


def tap_config(url: str, **settings: Any) -> dict[str, Any]:
    """Settings pointing the tap at an emulator, with fast polling."""
    return {
        "client_id": "emulator-client-id",
        "client_secret": "emulator-client-secret",
        "refresh_token": "emulator-refresh-token",
        "accounts_url": url,
        "poll_interval_seconds": 0.05,
        "max_downloads_per_minute": 10_000,
        "retry_wait_seconds": 0.05,
        **settings,
    }


@dataclass
class TapRun:
    """What one run of the tap printed and how it ended."""

    returncode: int
    messages: list[dict[str, Any]]
    stderr: str
    stdout: str

    def records(self, stream: str | None = None) -> list[dict[str, Any]]:
        return [
            m["record"]
            for m in self.messages
            if m["type"] == "RECORD" and (stream is None or m["stream"] == stream)
        ]

    def ids(self, stream: str) -> list[str]:
        return [r["id"] for r in self.records(stream)]

    @property
    def final_state(self) -> dict[str, Any]:
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else {}

    def bookmark(self, stream: str) -> str | None:
        return self.final_state.get("bookmarks", {}).get(stream, {}).get("replication_key_value")

    def partition_bookmarks(self, stream: str) -> dict[str, str | None]:
        """Each state partition's bookmark, by the partition's ``module``."""
        partitions = self.final_state.get("bookmarks", {}).get(stream, {}).get("partitions", [])
        return {p["context"]["module"]: p.get("replication_key_value") for p in partitions}


def run_tap(
    tmp_path: Path,
    config: dict[str, Any],
    *,
    catalog: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
    discover: bool = False,
    env: dict[str, str] | None = None,
) -> TapRun:
    """Run the tap as a user would, from files, and parse its stdout."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    command = [*TAP, "--config", str(config_path)]
    if discover:
        command.append("--discover")
    if catalog is not None:
        catalog_path = tmp_path / "catalog.json"
        catalog_path.write_text(json.dumps(catalog))
        command += ["--catalog", str(catalog_path)]
    if state is not None:
        state_path = tmp_path / "state.json"
        state_path.write_text(json.dumps(state))
        command += ["--state", str(state_path)]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})}
    )
    messages = []
    if not discover:
        messages = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return TapRun(result.returncode, messages, result.stderr, result.stdout)


def command_line(tmp_path: Path, config: dict[str, Any], catalog: dict[str, Any]) -> list[str]:
    """The tap's command line from config and catalog files written to ``tmp_path``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    return [*TAP, "--config", str(tmp_path / "config.json"), "--catalog",
            str(tmp_path / "catalog.json")]  # fmt: skip


def discover(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """The catalog the tap discovers."""
    run = run_tap(tmp_path / "discover", config, discover=True)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)  # type: ignore[no-any-return]


def select(catalog: dict[str, Any], streams: dict[str, list[str] | None]) -> dict[str, Any]:
    """Select ``streams`` (all properties when None, else only those named) and nothing else."""
    chosen = {**catalog, "streams": []}
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] not in streams:
            continue
        wanted = streams[entry["tap_stream_id"]]
        metadata = []
        for original in entry["metadata"]:
            item = json.loads(json.dumps(original))
            breadcrumb = item["breadcrumb"]
            if not breadcrumb:
                item["metadata"]["selected"] = True
            elif wanted is not None and breadcrumb[-1] not in wanted:
                if item["metadata"].get("inclusion") != "automatic":
                    item["metadata"]["selected"] = False
            else:
                item["metadata"]["selected"] = True
            metadata.append(item)
        chosen["streams"].append({**entry, "metadata": metadata})
    return chosen


def faults(url: str, **settings: Any) -> None:
    """Replace the emulator's injected faults."""
    requests.post(f"{url}/__emulator__/faults", json=settings, timeout=10).raise_for_status()


def job_bodies(url: str) -> list[dict[str, Any]]:
    """Bodies of the bulk read jobs the emulator received, in order."""
    log = requests.get(f"{url}/__emulator__/requests", timeout=10).json()
    return [e["body"] for e in log if e["method"] == "POST" and e["path"].endswith("/read")]


def request_paths(url: str) -> list[str]:
    """Paths of every API call the emulator received."""
    return [e["path"] for e in requests.get(f"{url}/__emulator__/requests", timeout=10).json()]


def run_until(tmp_path: Path, config: dict, catalog: dict, stop: Any) -> list[dict[str, Any]]:
    """Run the tap and kill it (SIGKILL) as soon as ``stop(message)`` is true; return its output."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    process = subprocess.Popen(
        [
            *TAP,
            "--config",
            str(tmp_path / "config.json"),
            "--catalog",
            str(tmp_path / "catalog.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    messages = []
    assert process.stdout is not None
    for line in process.stdout:
        messages.append(json.loads(line))
        if stop(messages[-1]):
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=30)
    return messages


def last_state(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return [m["value"] for m in messages if m["type"] == "STATE"][-1]


def checkpoint_at(page: int):
    def stop(message: dict[str, Any]) -> bool:
        if message["type"] != "STATE":
            return False
        marks = message["value"].get("bookmarks", {})
        return any((b.get("zoho_export") or {}).get("page", 0) >= page for b in marks.values())

    return stop


def client_of(url: str, limiter: DownloadLimiter | None = None) -> ZohoClient:
    """The tap's own HTTP client, pointed at an emulator (in-process tests of one part)."""
    auth = ZohoAuthenticator(
        accounts_url=url,
        client_id="emulator-client-id",
        client_secret="emulator-client-secret",
        refresh_token="emulator-refresh-token",
    )
    return ZohoClient(
        auth,
        api_domain=None,
        logger=logging.getLogger("logs-test"),
        limiter=limiter,
        trusted_api_domains={url},
    )
