"""Deleted_Records: what was deleted in Zoho since the last run, for the selected modules."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import requests

from tap_zoho_bulkread.emulator import Emulator
from tests.hostile_zoho import Answer, HostileZoho
from tests.tap_runner import discover, run_tap, select, tap_config

SELECTED = {"Calls": ["Subject"], "Leads": ["Last_Name"], "Deleted_Records": None}


def delete(url: str, module: str, count: int) -> list[str]:
    answer = requests.post(
        f"{url}/__emulator__/delete", json={"module": module, "count": count}, timeout=10
    )
    return answer.json()["deleted"]  # type: ignore[no-any-return]


def log(url: str) -> list[dict]:
    return requests.get(f"{url}/__emulator__/requests", timeout=10).json()  # type: ignore[no-any-return]


def test_deletions_of_selected_modules_arrive_then_only_new_ones(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.0, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=["Calls", "Leads", "Contacts"])
        catalog = discover(tmp_path, config)
        assert "Deleted_Records" in [s["tap_stream_id"] for s in catalog["streams"]]
        catalog = select(catalog, SELECTED)
        calls, leads = delete(emu.url, "Calls", 5), delete(emu.url, "Leads", 3)
        delete(emu.url, "Contacts", 2)  # Contacts is not selected: its deletions stay out
        first = run_tap(tmp_path / "first", config, catalog=catalog)
        asked_first = [e["path"] for e in log(emu.url) if e["path"].endswith("/deleted")]
        __import__("time").sleep(1.1)
        more = delete(emu.url, "Calls", 2)
        second = run_tap(tmp_path / "second", config, catalog=catalog, state=first.final_state)
        headers = [e for e in log(emu.url) if e["path"].endswith("/deleted")][len(asked_first) :]
    assert first.returncode == 0 and second.returncode == 0, first.stderr[-2000:]
    records = first.records("Deleted_Records")
    assert {(r["module"], r["id"]) for r in records} == {("Calls", i) for i in calls} | {
        ("Leads", i) for i in leads
    }
    assert all(r["type"] == "recycle" and r["deleted_time"].endswith("+00:00") for r in records)
    assert sorted(asked_first) == ["/crm/v8/Calls/deleted", "/crm/v8/Leads/deleted"]
    assert len(first.ids("Calls")) == 245 and len(first.ids("Leads")) == 1197
    bookmark = first.bookmark("Deleted_Records")
    assert bookmark == max(r["deleted_time"] for r in records)
    again = second.records("Deleted_Records")
    assert set(more) <= {r["id"] for r in again}
    boundary = (datetime.fromisoformat(bookmark) - timedelta(seconds=1)).isoformat()
    assert all(r["deleted_time"] >= boundary for r in again)  # the boundary second, read again
    assert second.bookmark("Deleted_Records") > bookmark
    assert headers, "the second run asked again"


def test_a_module_whose_deletions_cannot_be_read_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    with HostileZoho() as zoho:
        zoho.routes[("GET", "/crm/v8/Leads/deleted")] = lambda r: Answer(
            400, {"code": "API_NOT_SUPPORTED", "message": "not supported", "status": "error"}
        )
        config = tap_config(zoho.url, modules=["Leads"])
        catalog = select(discover(tmp_path, config), {"Leads": None, "Deleted_Records": None})
        run = run_tap(tmp_path / "run", config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(run.records("Leads")) == 2 and run.records("Deleted_Records") == []
    warnings = [line for line in run.stderr.splitlines() if "| WARNING" in line]
    assert any(
        "Leads" in w and "API_NOT_SUPPORTED" in w and "ZohoCRM.modules.Leads.READ" in w
        for w in warnings
    )


def test_deletions_in_module_streams_mark_each_deleted_record_once(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.0, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=["Calls"], deletions_in_module_streams=True)
        catalog = select(discover(tmp_path, config), {"Calls": None})
        first_gone = delete(emu.url, "Calls", 3)
        first = run_tap(tmp_path / "first", config, catalog=catalog)
        __import__("time").sleep(1.1)
        later_gone = delete(emu.url, "Calls", 2)
        second = run_tap(tmp_path / "second", config, catalog=catalog, state=first.final_state)
    assert first.returncode == 0 and second.returncode == 0, first.stderr[-2000:]
    marked = {r["id"]: r["_sdc_deleted_at"] for r in first.records("Calls") if len(r) == 2}
    assert set(marked) == set(first_gone) and all(v.endswith("+00:00") for v in marked.values())
    live = [r for r in first.records("Calls") if len(r) > 2]
    assert len(live) == 247 and all(r["_sdc_deleted_at"] is None for r in live)
    again = {r["id"] for r in second.records("Calls") if len(r) == 2}
    assert set(later_gone) <= again  # and the boundary second, read again
    assert "zoho_deletions_since" in second.final_state["bookmarks"]["Calls"]
