"""Every user mistake ends in one clear line, a non-zero exit, no traceback and no state change."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.tap_runner import TapRun, discover, run_tap, select, tap_config
from zoho_bulkread_emulator import Emulator


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(job_seconds=0.0, max_token_refreshes=1000, download_limit=100_000) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def leads_catalog(emu: Emulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    config = tap_config(emu.url, modules=["Leads"])
    return select(discover(tmp_path_factory.mktemp("catalog"), config), {"Leads": None})


def error_lines(run: TapRun) -> list[str]:
    return [line for line in run.stderr.splitlines() if "| ERROR" in line]


def assert_refused(run: TapRun, *expected: str) -> str:
    """Exit 1, exactly one ERROR line holding every expected text, no traceback, no STATE."""
    assert run.returncode == 1, run.stderr[-2000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    lines = error_lines(run)
    assert len(lines) == 1, lines
    for text in expected:
        assert text in lines[0], lines[0]
    assert '"type":"STATE"' not in run.stdout.replace(" ", "")
    return lines[0]


BAD_SETTINGS = [
    pytest.param(
        {"start_date": "yesterday"}, ["start_date", "'yesterday'", "2024-01-31"], id="start_date"
    ),
    pytest.param({"data_center": "usa"}, ["data_center", "'usa'", "'eu'"], id="data_center"),
    pytest.param({"product": "Bigin"}, ["product", "'Bigin'", "'bigin'"], id="product"),
    pytest.param({"api_version": "v9"}, ["api_version", "v2, v3"], id="api_version"),
    pytest.param(
        {"client_id": None},
        ["client_id is missing", "TAP_ZOHO_BULKREAD_CLIENT_ID"],
        id="no-client-id",
    ),
    pytest.param(
        {"module_settings": {"Leads": {"replication_keys": "Modified_Time"}}},
        ["module_settings.Leads", "'replication_keys'", "replication_key, lookup_fields"],
        id="module-settings-key",
    ),
    pytest.param({"modules": []}, ["modules is an empty list"], id="no-modules"),
    pytest.param(
        {"strat_date": "2024-01-01"},
        ["Unknown setting 'strat_date'", "did you mean start_date?"],
        id="misspelled-setting",
    ),
    pytest.param(
        {"replication_keys": "Modified_Time"},
        ["'replication_keys'", "did you mean replication_key?"],
        id="misspelled-replication-key",
    ),
    pytest.param(
        {"max_concurrent_jobs": 0}, ["max_concurrent_jobs is 0", "1 or more"], id="no-jobs"
    ),
    pytest.param({"poll_interval_seconds": 0}, ["poll_interval_seconds", "above 0"], id="no-poll"),
    pytest.param(
        {"module_settings": {"Leads": {"lookup_fields": ["Owner last_name"]}}},
        ["lookup_fields", "Owner.last_name"],
        id="dot-field",
    ),
    pytest.param(  # what Meltano passes for a setting declared without kind: object
        {"stream_maps": '{"Leads": {"Email": "__NULL__"}}'},
        ["stream_maps arrived as the text", "kind: object"],
        id="stream-maps-as-text",
    ),
    pytest.param(
        {"modules": '["Leads"]'}, ["modules arrived as the text", "kind: array"], id="modules-text"
    ),
]


def without_nones(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if value is not None}


@pytest.mark.parametrize(("settings", "expected"), BAD_SETTINGS)
@pytest.mark.parametrize("mode", ["discover", "sync"])
def test_a_bad_setting_is_one_clear_line_in_both_modes(
    emu, leads_catalog, tmp_path: Path, settings: dict, expected: list[str], mode: str
) -> None:
    config = without_nones(tap_config(emu.url, **{"modules": ["Leads"], **settings}))
    if mode == "discover":
        run = run_tap(tmp_path, config, discover=True)
    else:
        run = run_tap(tmp_path, config, catalog=leads_catalog)
    assert_refused(run, *expected)


STATE_FILES = [
    pytest.param("", ["is empty"], id="empty"),
    pytest.param("{not json", ["is not JSON"], id="not-json"),
    pytest.param('["Leads"]', ["must hold a JSON object"], id="a-list"),
    pytest.param(
        '{"bookmarks": {"Leads": "x"}}',
        ["bookmark of Leads must be an object"],
        id="string-bookmark",
    ),
    pytest.param(
        '{"bookmarks": {"Leads": {"replication_key": "Created_Time", "replication_key_value": "garbage"}}}',
        ["bookmark of Leads is 'garbage', not a datetime"],
        id="garbage-value",
    ),
]


@pytest.mark.parametrize(("text", "expected"), STATE_FILES)
def test_a_state_file_the_tap_cannot_use_is_refused(
    emu, leads_catalog, tmp_path: Path, text: str, expected: list[str]
) -> None:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "bad-state.json").write_text(text)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(tap_config(emu.url, modules=["Leads"])))
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(leads_catalog))
    import subprocess

    from tests.tap_runner import TAP

    result = subprocess.run(
        [*TAP, "--config", str(config_path), "--catalog", str(catalog_path), "--state",
         str(tmp_path / "bad-state.json")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    run = TapRun(result.returncode, [], result.stderr, result.stdout)
    assert_refused(run, "bad-state.json", *expected)


def test_a_catalog_file_that_is_not_json_is_refused(emu, tmp_path: Path) -> None:
    import subprocess

    from tests.tap_runner import TAP

    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "catalog.json").write_text("{\n  streams: [")
    (tmp_path / "config.json").write_text(json.dumps(tap_config(emu.url)))
    result = subprocess.run(
        [*TAP, "--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert_refused(
        TapRun(result.returncode, [], result.stderr, result.stdout), "catalog", "not JSON"
    )


def test_meltano_state_get_output_is_accepted_as_state(emu, leads_catalog, tmp_path: Path) -> None:
    # bulk_only: the export from the bookmark shows the bookmark was read (by default an
    # unchanged module makes no job: tests/tap/test_freshness.py)
    config = tap_config(emu.url, modules=["Leads"], bulk_only=True)
    first = run_tap(tmp_path / "first", config, catalog=leads_catalog)
    assert first.returncode == 0, first.stderr[-2000:]
    wrapped = {"singer_state": first.final_state}  # what `meltano state get` prints
    second = run_tap(tmp_path / "second", config, catalog=leads_catalog, state=wrapped)
    assert second.returncode == 0, second.stderr[-2000:]
    bookmark = first.bookmark("Leads")
    assert bookmark is not None
    assert 0 < len(second.records("Leads")) < len(first.records("Leads"))
    assert all(r["Created_Time"] >= bookmark for r in second.records("Leads"))


def test_a_catalog_with_nothing_selected_says_so(emu, leads_catalog, tmp_path: Path) -> None:
    nothing = select(leads_catalog, {})
    nothing["streams"] = [
        {**entry, "metadata": [
            {**m, "metadata": {**m["metadata"], "selected": False}} for m in entry["metadata"]
        ]}
        for entry in leads_catalog["streams"]
    ]  # fmt: skip
    run = run_tap(tmp_path, tap_config(emu.url, modules=["Leads"]), catalog=nothing)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.records() == []
    warnings = [line for line in run.stderr.splitlines() if "| WARNING" in line]
    assert any("No stream is selected" in line and "meltano select" in line for line in warnings)


def test_a_clean_run_logs_no_warning_that_contradicts_resuming(
    emu, leads_catalog, tmp_path
) -> None:
    run = run_tap(
        tmp_path,
        tap_config(emu.url, modules=["Leads"]),
        catalog=leads_catalog,
        state={"bookmarks": {}},
        env={"PYTHONWARNINGS": "always::ResourceWarning"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "resumable" not in run.stderr
    assert "ResourceWarning" not in run.stderr
    assert not [line for line in run.stderr.splitlines() if re.search(r"\| (WARNING|ERROR)", line)]
    assert all("Note" not in json.dumps(m["value"]) for m in run.messages if m["type"] == "STATE")


def test_a_failing_export_logs_one_error_line_not_the_sdks_unhandled_error(
    emu, leads_catalog, tmp_path: Path
) -> None:
    import requests

    requests.post(
        f"{emu.url}/__emulator__/faults",
        json={"fail_next_job": {"Leads": "INVALID_QUERY"}},
        timeout=10,
    ).raise_for_status()
    run = run_tap(tmp_path, tap_config(emu.url, modules=["Leads"]), catalog=leads_catalog)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "unhandled error" not in run.stderr
    (line,) = error_lines(run)
    assert "INVALID_QUERY" in line and "Leads" in line


def test_a_start_date_in_the_future_is_one_warning(emu, leads_catalog, tmp_path: Path) -> None:
    config = tap_config(emu.url, modules=["Leads"], start_date="2999-01-01T00:00:00Z")
    run = run_tap(tmp_path, config, catalog=leads_catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    warnings = [line for line in run.stderr.splitlines() if "start_date" in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0] and "in the future" in warnings[0]
    assert run.records("Leads") == []


def raw_tap(*args: str):
    import subprocess

    from tests.tap_runner import TAP

    result = subprocess.run([*TAP, *args], capture_output=True, text=True, timeout=120)
    return TapRun(result.returncode, [], result.stderr, result.stdout)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, ["config file", "does not exist"]),
        ("{not json", ["config file", "is not JSON"]),
        ('["a"]', ["config file", "JSON object"]),
    ],
    ids=["missing", "not-json", "not-an-object"],
)
def test_a_config_file_that_is_missing_or_not_json_is_one_line(
    tmp_path: Path, content: str | None, expected: list[str]
) -> None:
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    for mode in (["--discover"], []):
        run = raw_tap("--config", str(path), *mode)
        assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr[-2000:]
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, lines
        assert all(text in lines[0] for text in expected), lines[0]


def test_a_batch_folder_that_cannot_be_created_stops_before_any_api_call(
    emu, leads_catalog, tmp_path: Path
) -> None:
    import requests

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": (blocker / "batches").as_uri()},
    }
    before = len(requests.get(f"{emu.url}/__emulator__/requests", timeout=10).json())
    config = tap_config(emu.url, modules=["Leads"], batch_config=settings)
    run = run_tap(tmp_path / "run", config, catalog=leads_catalog)
    after = len(requests.get(f"{emu.url}/__emulator__/requests", timeout=10).json())
    assert_refused(run, "batch_config.storage.root", "a-file is not a folder")
    assert after == before  # no token, no job, no download


@pytest.mark.parametrize(
    ("accounts_url", "cause"),
    [
        ("http://127.0.0.1:9", "the connection was refused"),
        ("http://no-such-host.invalid", "DNS: the host name does not resolve"),
    ],
    ids=["refused", "dns"],
)
def test_an_unreachable_accounts_server_is_one_line_naming_host_and_cause(
    tmp_path: Path, accounts_url: str, cause: str
) -> None:
    import time

    config = tap_config(accounts_url)
    started = time.monotonic()
    run = run_tap(tmp_path, config, discover=True)
    elapsed = time.monotonic() - started
    line = assert_refused(run, "Cannot reach the Zoho accounts server", cause)
    assert accounts_url.split("//")[1] in line and "3 tries" in line
    assert "urllib3" not in run.stderr and "checkpoint" not in run.stderr
    assert len([x for x in run.stderr.splitlines() if "Token refresh failed" in x]) == 2
    assert elapsed < 60, elapsed  # about a minute at most; here two short waits


def test_under_meltano_a_state_the_tap_cannot_use_names_meltanos_state_commands(
    emu, leads_catalog, tmp_path: Path
) -> None:
    """Meltano writes its state to a new file each run: the line names `meltano state`."""
    import os
    import subprocess

    from tests.tap_runner import TAP

    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "state.json").write_text("{not json")
    (tmp_path / "config.json").write_text(json.dumps(tap_config(emu.url, modules=["Leads"])))
    (tmp_path / "catalog.json").write_text(json.dumps(leads_catalog))
    result = subprocess.run(
        [*TAP, "--config", str(tmp_path / "config.json"), "--catalog",
         str(tmp_path / "catalog.json"), "--state", str(tmp_path / "state.json")],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "MELTANO_EXTRACTOR_NAME": "tap-zoho-bulkread"},
    )  # fmt: skip
    run = TapRun(result.returncode, [], result.stderr, result.stdout)
    assert_refused(run, "is not JSON", "meltano state clear <state id>", "meltano state list")
    assert "state.json" not in result.stderr
