"""The failures real orgs send, end to end against the emulator speaking Zoho's v8 codes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.hostile_zoho import Answer, HostileZoho, Request
from tests.tap_runner import discover, faults, job_bodies, run_tap, select, tap_config
from tests.zoho_client import ground_truth
from zoho_bulkread_emulator import Emulator


def test_a_field_zoho_refuses_is_left_out_with_one_warning_and_stays_null(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.05, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=["Accounts"])
        catalog = select(discover(tmp_path, config), {"Accounts": None})
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        bodies = job_bodies(emu.url)
        truth = sorted(t["id"] for t in ground_truth(emu.url, "Accounts"))
    assert run.returncode == 0, run.stderr[-2000:]
    warnings = [line for line in run.stderr.splitlines() if "| WARNING" in line]
    assert len(warnings) == 1
    assert "Accounts" in warnings[0] and "nearby_distance__s" in warnings[0]
    assert "FIELD_NOT_SUPPORTED" in warnings[0]
    assert "nearby_distance__s" in bodies[0]["query"]["fields"]
    assert "nearby_distance__s" not in bodies[-1]["query"]["fields"]
    records = run.records("Accounts")
    assert sorted(r["id"] for r in records) == truth
    assert all(r["nearby_distance__s"] is None for r in records)
    assert run.bookmark("Accounts") is not None


def test_a_refused_replication_key_fails_the_run_naming_it(tmp_path: Path) -> None:
    def refuse_created_time(request: Request) -> Answer:
        return Answer(400, {"code": "FIELD_NOT_SUPPORTED", "details": {"api_name": "Created_Time"},
                            "message": "the field is not supported", "status": "error"})  # fmt: skip

    with HostileZoho() as zoho:
        zoho.routes[("POST", "/crm/bulk/v8/read")] = refuse_created_time
        config = tap_config(zoho.url, modules=["Leads"])
        run = run_tap(
            tmp_path / "run", config, catalog=select(discover(tmp_path, config), {"Leads": None})
        )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    (line,) = [line for line in run.stderr.splitlines() if "| ERROR" in line]
    assert (
        "replication key Created_Time" in line and "module_settings.Leads.replication_key" in line
    )


def test_a_module_zoho_refuses_is_skipped_with_a_warning_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    with Emulator(job_seconds=0.05, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=["Calls"])
        catalog = select(discover(tmp_path, config), {"Calls": None})
        notes = json.loads(json.dumps(catalog["streams"][0]))
        notes["tap_stream_id"] = notes["stream"] = "Notes"  # a catalog from an older discovery
        catalog["streams"].insert(0, notes)
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        calls = sorted(t["id"] for t in ground_truth(emu.url, "Calls"))
    assert run.returncode == 0, run.stderr[-2000:]
    warnings = [line for line in run.stderr.splitlines() if "| WARNING" in line]
    assert any(
        "Notes" in w and "MODULE" not in w.split("Notes", 1)[0] and "skipped" in w for w in warnings
    )
    assert run.records("Notes") == []
    assert sorted(run.ids("Calls")) == calls


def test_a_failure_without_an_error_code_gets_a_new_job(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.05, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=["Calls"])
        catalog = select(discover(tmp_path, config), {"Calls": None})
        faults(emu.url, fail_next_job={"Calls": ""})
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        truth = sorted(t["id"] for t in ground_truth(emu.url, "Calls"))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "failed without an error code" in run.stderr
    assert sorted(run.ids("Calls")) == truth
