"""Tokens that expire or are revoked mid-run, missing scopes, and bad settings."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest
import requests

from tests.tap_runner import TAP, discover, faults, request_paths, run_tap, select, tap_config
from zoho_bulkread_emulator import Emulator

CALLS_ONLY = {"Calls": ["Subject"]}


def token_requests(url: str) -> int:
    return sum(1 for path in request_paths(url) if path == "/oauth/v2/token")


def test_short_lived_tokens_are_refreshed_before_they_expire(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.05, download_limit=10_000) as emu:
        config = tap_config(emu.url)
        faults(emu.url, token_seconds=3)
        catalog = select(discover(tmp_path, config), CALLS_ONLY)
        faults(emu.url, token_seconds=3, slow_job_seconds=6)
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        refreshes = token_requests(emu.url)
        rejected = [
            e
            for e in requests.get(f"{emu.url}/__emulator__/requests", timeout=10).json()
            if e.get("status") == 401
        ]
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(run.records("Calls")) == 250
    assert refreshes >= 3  # discovery's token, then at least two more during the slow job
    assert rejected == []


def test_a_revoked_token_is_refreshed_once_and_the_run_goes_on(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.05, download_limit=10_000) as emu:
        config = tap_config(emu.url)
        catalog = select(discover(tmp_path, config), CALLS_ONLY)
        faults(emu.url, slow_job_seconds=5)
        timer = threading.Timer(
            2.0,
            lambda: faults(emu.url, revoke_tokens=True),
        )
        timer.start()
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        timer.join()
        log = requests.get(f"{emu.url}/__emulator__/requests", timeout=10).json()
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(run.records("Calls")) == 250
    assert [e["status"] for e in log].count(401) == 1
    assert "refreshing it once" in run.stderr


def test_missing_module_scope_names_the_scope_to_add(tmp_path: Path) -> None:
    scopes = ("ZohoCRM.bulk.read", "ZohoCRM.settings.ALL", "ZohoCRM.modules.Contacts.READ")
    with Emulator(job_seconds=0.05, scopes=scopes) as emu:
        config = tap_config(emu.url)
        run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), CALLS_ONLY))
    assert run.returncode == 1
    assert "ZohoCRM.modules.Calls.READ" in run.stderr
    assert "Traceback" not in run.stderr


def test_wrong_refresh_token_fails_clearly_without_leaking_it(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.05) as emu:
        run = run_tap(
            tmp_path,
            tap_config(emu.url, refresh_token="1000.wrong-refresh-token-value"),
            discover=True,
        )
    assert run.returncode == 1
    assert "invalid_code" in run.stderr and "refresh_token" in run.stderr
    assert "wrong-refresh-token-value" not in run.stderr + run.stdout
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"api_version": "v9"}, "api_version 'v9' is not a crm bulk read version"),
        ({"product": "bigin", "api_version": "v8"}, "use one of v1, v2"),
        ({"modules": ["Leads", "Notes"]}, "['Notes'] cannot be exported by bulk read"),
        ({"module_settings": {"Nope": {}}}, "module_settings names ['Nope']"),
        (
            {
                "module_settings": {
                    "Leads": {
                        "criteria": {
                            "api_name": "Lead_Source",
                            "comparator": "in",
                            "value": list(range(30)),
                        }
                    }
                }
            },
            "Zoho allows 20",
        ),
        ({"module_settings": {"Leads": {"lookup_fields": ["Owner"]}}}, "is not a dot field"),
        (
            {"module_settings": {"Leads": {"lookup_fields": ["Nope.last_name"]}}},
            "'Nope' is not a field of Leads",
        ),
        (
            {"module_settings": {"Leads": {"lookup_fields": ["Email.x"]}}},
            "'Email' is not a lookup field of Leads",
        ),
    ],
)
def test_bad_settings_fail_before_any_job_with_the_setting_named(
    tmp_path: Path, settings: dict, message: str
) -> None:
    with Emulator(job_seconds=0.05) as emu:
        run = run_tap(tmp_path, tap_config(emu.url, **settings), discover=True)
        jobs = [p for p in request_paths(emu.url) if "/bulk/" in p]
    assert run.returncode == 1
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert jobs == []


def test_missing_required_setting_is_refused(tmp_path: Path) -> None:
    config = tap_config("http://127.0.0.1:9")
    del config["client_secret"]
    run = run_tap(tmp_path, config, discover=True)
    assert run.returncode != 0
    assert "client_secret" in run.stderr


def test_job_timeout_names_the_job_and_its_state(tmp_path: Path) -> None:
    with Emulator(job_seconds=5) as emu:
        config = tap_config(emu.url, job_timeout_seconds=1)
        run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), CALLS_ONLY))
    assert run.returncode == 1
    assert "was still IN PROGRESS after" in run.stderr and "job_timeout_seconds" in run.stderr


def test_tap_cli_about_lists_every_setting() -> None:
    result = subprocess.run(
        [*TAP, "--about", "--format=markdown"], capture_output=True, text=True, check=True
    )
    for name in (
        "client_id",
        "data_center",
        "environment",
        "accounts_url",
        "api_domain",
        "product",
        "api_version",
        "start_date",
        "modules",
        "replication_key",
        "module_settings",
        "max_concurrent_jobs",
        "poll_interval_seconds",
        "job_timeout_seconds",
    ):
        assert f"| {name} |" in result.stdout, name


def test_a_transiently_failed_job_is_created_again(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.05, download_limit=10_000) as emu:
        config = tap_config(emu.url)
        catalog = select(discover(tmp_path, config), CALLS_ONLY)
        faults(emu.url, fail_next_job={"Calls": "INTERNAL_ERROR"})
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        creations = [p for p in request_paths(emu.url) if p == "/crm/bulk/v8/read"]
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(run.records("Calls")) == 250
    assert len(creations) == 2
    assert "creating the job for page 1 again" in run.stderr
