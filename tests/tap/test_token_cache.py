"""The access token is shared across runs through a private cache file, never the secrets."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest
import requests

from tests.hostile_zoho import HostileZoho
from tests.tap_runner import discover, faults, request_paths, run_tap, tap_config
from zoho_bulkread_emulator import Emulator


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


def plant(path: Path, entry: dict | str, mode: int = 0o600) -> None:
    """A cache file the tap did not write (a planted or damaged one)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(entry if isinstance(entry, str) else json.dumps(entry))
    path.chmod(mode)


def live(token: str = "1000.planted.token") -> dict:
    return {"access_token": token, "api_domain": None, "expires_at": time.time() + 3000}


def one_clean_run(run) -> None:
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr


def test_a_wrong_client_secret_is_refused_even_while_a_token_is_cached(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.0) as emu:
        discover(tmp_path / "good", tap_config(emu.url))  # a token is now cached
        typo = tap_config(emu.url, client_secret="emulator-client-secreT")
        run = run_tap(tmp_path / "typo", typo, discover=True)
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if "ERROR" in line]
    assert errors and "client secret" in errors[-1] and "Traceback" not in run.stderr
    assert "emulator-client-secreT" not in run.stderr


@pytest.mark.parametrize(
    ("planted", "mode", "why"),
    [
        (live(), 0o644, "mode 0644, not 0600"),  # readable by others: never trusted
        ({**live(), "expires_at": float("nan")}, 0o600, "wrong type or range"),
        ({**live(), "expires_at": float("inf")}, 0o600, "wrong type or range"),
        ({**live(), "expires_at": "soon"}, 0o600, "wrong type or range"),
        (live("1000.a\r\nX-Evil: 1"), 0o600, "wrong type or range"),
        (live("1000.t€ken"), 0o600, "wrong type or range"),
        ("[" * 100_000, 0o600, "not the JSON"),
    ],
)
def test_an_untrusted_cache_file_is_ignored_once_and_replaced(
    tmp_path: Path, planted, mode: int, why: str
) -> None:
    with Emulator(job_seconds=0.0) as emu:
        config = tap_config(emu.url)
        discover(tmp_path / "first", config)
        (path,) = cache_files()
        plant(path, planted, mode)
        run = run_tap(tmp_path / "second", config, discover=True)
        refreshes = token_requests(emu.url)
    one_clean_run(run)
    assert refreshes == 2  # the planted token was not used: a fresh one was asked for
    warnings = [line for line in run.stderr.splitlines() if "cached Zoho access token" in line]
    assert len(warnings) == 1 and why in warnings[0], warnings
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["access_token"].startswith("1000.")
    assert "planted" not in path.read_text() and "X-Evil" not in run.stderr


def test_a_link_in_place_of_the_cache_file_is_not_followed(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.0) as emu:
        config = tap_config(emu.url)
        discover(tmp_path / "first", config)
        (path,) = cache_files()
        elsewhere = tmp_path / "elsewhere.json"
        plant(elsewhere, live())
        path.unlink()
        path.symlink_to(elsewhere)
        run = run_tap(tmp_path / "second", config, discover=True)
        refreshes = token_requests(emu.url)
    one_clean_run(run)
    assert refreshes == 2
    assert "planted" in elsewhere.read_text()  # left alone
    assert "a link or a file the tap cannot open" in run.stderr


def test_a_fifo_in_place_of_the_cache_file_does_not_hang_the_tap(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.0) as emu:
        config = tap_config(emu.url)
        discover(tmp_path / "first", config)
        (path,) = cache_files()
        path.unlink()
        os.mkfifo(path, 0o600)
        run = run_tap(tmp_path / "second", config, discover=True)
    one_clean_run(run)
    assert "not a regular file of this user" in run.stderr


@pytest.mark.parametrize("token", ["1000.t€ken", "1000.a\r\nb", "1000 a", ""])
def test_an_access_token_no_header_can_carry_is_refused_before_it_is_cached(
    tmp_path: Path, token: str
) -> None:
    with HostileZoho() as zoho:
        zoho.token_answer = {**zoho.good_token(), "access_token": token}
        run = run_tap(tmp_path, tap_config(zoho.url), discover=True)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr[-2000:]
    errors = [line for line in run.stderr.splitlines() if "| ERROR" in line or "ERROR" in line]
    assert any("without a usable access_token" in line for line in errors), errors
    assert cache_files() == []
