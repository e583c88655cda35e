"""The Users stream: every user of the org through the REST API, full table, then ACTIVATE_VERSION."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.hostile_zoho import Answer, HostileZoho
from tests.tap_runner import discover, run_tap, select, tap_config
from tests.zoho_client import ZohoTestClient
from zoho_bulkread_emulator import Emulator


def test_users_are_discovered_and_exported_in_full_with_activate_version_last(
    tmp_path: Path,
) -> None:
    with Emulator(job_seconds=0.0, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=["Calls"])
        catalog = discover(tmp_path, config)
        assert [s["tap_stream_id"] for s in catalog["streams"]] == [
            "Calls",
            "Deleted_Records",
            "Users",
            "Full_Table_Reads",  # synced last: the full-table reads the run completed
        ]
        users_entry = next(s for s in catalog["streams"] if s["tap_stream_id"] == "Users")
        assert users_entry["key_properties"] == ["id"]
        run = run_tap(tmp_path / "run", config, catalog=select(catalog, {"Users": None}))
        truth = ZohoTestClient(emu.url).get("/crm/v8/users", params={"type": "AllUsers"}).json()
        paths = [
            e["path"] for e in requests.get(f"{emu.url}/__emulator__/requests", timeout=10).json()
        ]
    assert run.returncode == 0, run.stderr[-2000:]
    records = run.records("Users")
    assert [r["id"] for r in records] == [u["id"] for u in truth["users"]]
    first = records[0]
    assert first["full_name"] == truth["users"][0]["full_name"]
    assert first["role_name"] == "CEO" and first["profile_name"] == "Administrator"
    assert first["created_time"].endswith("+00:00")
    kinds = [m["type"] for m in run.messages if m.get("stream") == "Users"]
    assert kinds[-1] == "ACTIVATE_VERSION" and kinds.count("ACTIVATE_VERSION") == 1
    version = next(m["version"] for m in run.messages if m["type"] == "ACTIVATE_VERSION")
    assert all(m["version"] == version for m in run.messages if m["type"] == "RECORD")
    assert {r["zoho_table_version"] for r in records} == {version}  # for targets ignoring it
    assert not any("/bulk/" in path for path in paths if "read" in path)


def test_users_page_until_zoho_says_no_more(tmp_path: Path) -> None:
    with HostileZoho() as zoho:
        pages: list[str] = []

        def paged(request) -> Answer:
            page = int(request.query["page"])
            pages.append(request.query["page"])
            users = [
                {"id": f"48765430000001{page:02d}{n}", "full_name": f"U{page}{n}"} for n in range(2)
            ]
            return Answer(body={"users": users, "info": {"more_records": page < 3, "page": page}})

        zoho.routes[("GET", "/crm/v8/users")] = paged
        config = tap_config(zoho.url, modules=["Leads"])
        run = run_tap(
            tmp_path / "run", config, catalog=select(discover(tmp_path, config), {"Users": None})
        )
    assert run.returncode == 0, run.stderr[-2000:]
    assert pages == ["1", "2", "3"]
    assert len(run.records("Users")) == 6


def test_a_missing_users_scope_is_a_warning_and_no_activate_version(tmp_path: Path) -> None:
    scopes = ("ZohoCRM.bulk.read", "ZohoCRM.modules.ALL", "ZohoCRM.settings.ALL")
    with Emulator(job_seconds=0.0, download_limit=10_000, scopes=scopes) as emu:
        config = tap_config(emu.url, modules=["Calls"])
        catalog = select(discover(tmp_path, config), {"Calls": ["Subject"], "Users": None})
        run = run_tap(tmp_path / "run", config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(run.records("Calls")) == 250 and run.records("Users") == []
    warnings = [line for line in run.stderr.splitlines() if "| WARNING" in line]
    assert any("ZohoCRM.users.READ" in line for line in warnings)
    assert not any(m["type"] == "ACTIVATE_VERSION" for m in run.messages)


def test_a_malformed_user_entry_is_one_clear_line(tmp_path: Path) -> None:
    with HostileZoho() as zoho:
        zoho.routes[("GET", "/crm/v8/users")] = lambda r: Answer(body={"users": [{"id": "../etc"}]})
        config = tap_config(zoho.url, modules=["Leads"])
        run = run_tap(
            tmp_path / "run", config, catalog=select(discover(tmp_path, config), {"Users": None})
        )
    assert run.returncode == 1 and "Traceback" not in run.stderr
    (line,) = [line for line in run.stderr.splitlines() if "| ERROR" in line]
    assert "not a Zoho id" in line
