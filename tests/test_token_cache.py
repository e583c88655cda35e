"""The access token is shared across runs through a private cache file, never the secrets."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import requests

from tap_zoho_bulkread.emulator import Emulator
from tests.tap_runner import discover, faults, request_paths, run_tap, tap_config


def token_requests(url: str) -> int:
    return sum(1 for path in request_paths(url) if path == "/oauth/v2/token")


def cache_files() -> list[Path]:
    return list((Path(os.environ["XDG_CACHE_HOME"]) / "tap-zoho-bulkread").glob("token-*.json"))


def test_ten_discoveries_in_a_row_make_one_token_refresh(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.0) as emu:  # Zoho's limit: 10 refreshes per 10 minutes
        config = tap_config(emu.url)
        catalogs = [discover(tmp_path / str(n), config) for n in range(10)]
        refreshes = token_requests(emu.url)
    assert refreshes == 1
    assert all(catalog == catalogs[0] for catalog in catalogs)


def test_the_cache_file_is_private_and_holds_no_secret(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.0) as emu:
        discover(tmp_path, tap_config(emu.url))
    (path,) = cache_files()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert "emulator-client-secret" not in text and "emulator-refresh-token" not in text
    assert "emulator-client-id" not in path.name and "emulator-refresh-token" not in path.name
    assert json.loads(text)["access_token"].startswith("1000.")


def test_token_cache_false_refreshes_every_run(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.0) as emu:
        config = tap_config(emu.url, token_cache=False)
        for n in range(3):
            discover(tmp_path / str(n), config)
        refreshes = token_requests(emu.url)
    assert refreshes == 3
    assert cache_files() == []


def test_a_cached_token_zoho_no_longer_accepts_is_dropped_and_refreshed_once(
    tmp_path: Path,
) -> None:
    with Emulator(job_seconds=0.0) as emu:
        config = tap_config(emu.url)
        discover(tmp_path / "first", config)
        faults(emu.url, revoke_tokens=True)
        second = run_tap(tmp_path / "second", config, discover=True)
        third = run_tap(tmp_path / "third", config, discover=True)
        statuses = [
            e["status"] for e in requests.get(f"{emu.url}/__emulator__/requests", timeout=10).json()
        ]
        refreshes = token_requests(emu.url)
    assert second.returncode == 0 and third.returncode == 0, second.stderr[-2000:]
    assert statuses.count(401) == 1
    assert refreshes == 2
