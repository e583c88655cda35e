"""Deleted_Records: what was deleted in Zoho since the last run, for the selected modules."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.hostile_zoho import Answer, HostileZoho
from tests.tap_runner import discover, job_bodies, run_tap, select, tap_config
from zoho_bulkread_emulator import Emulator

SELECTED = {"Calls": ["Subject"], "Leads": ["Last_Name"], "Deleted_Records": None}
DELETED = {"Deleted_Records": None}


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
    # each module's deletions since its bookmark, then its whole recycle bin
    assert sorted(asked_first) == ["/crm/v8/Calls/deleted"] * 2 + ["/crm/v8/Leads/deleted"] * 2
    assert len(first.ids("Calls")) == 245 and len(first.ids("Leads")) == 1197
    bookmarks = first.partition_bookmarks("Deleted_Records")  # one per module
    assert bookmarks == {
        module: max(r["deleted_time"] for r in records if r["module"] == module)
        for module in ("Calls", "Leads")
    }
    again = second.records("Deleted_Records")
    assert set(more) <= {r["id"] for r in again}
    for module, bookmark in bookmarks.items():
        assert bookmark is not None
        boundary = (datetime.fromisoformat(bookmark) - timedelta(seconds=1)).isoformat()
        # the boundary second, read again
        assert all(r["deleted_time"] >= boundary for r in again if r["module"] == module)
    assert second.partition_bookmarks("Deleted_Records")["Calls"] > bookmarks["Calls"]
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


def faults(url: str, **settings) -> None:
    requests.post(f"{url}/__emulator__/faults", json=settings, timeout=10).raise_for_status()


def deleted_ids(url: str, module: str) -> set[str]:
    """Every id Zoho lists as deleted now (the emulator's own list, read without the tap)."""
    ids, page = set(), 1
    token = requests.post(
        f"{url}/oauth/v2/token",
        params={"grant_type": "refresh_token", "client_id": "emulator-client-id",
                "client_secret": "emulator-client-secret",
                "refresh_token": "emulator-refresh-token"},
        timeout=10,
    ).json()["access_token"]  # fmt: skip
    while True:
        answer = requests.get(
            f"{url}/crm/v8/{module}/deleted",
            params={"type": "all", "page": page, "per_page": 200},
            headers={"Authorization": f"Zoho-oauthtoken {token}"},
            timeout=10,
        )
        if answer.status_code == 204:
            return ids
        ids |= {entry["id"] for entry in answer.json()["data"]}
        if not answer.json()["info"]["more_records"]:
            return ids
        page += 1


RACE = {"Calls": ["Subject"], "Leads": ["Last_Name"], "Deleted_Records": None}


def test_records_deleted_while_the_lists_are_read_all_arrive_within_two_runs(
    tmp_path: Path,
) -> None:
    """Deletions appear in Zoho's lists while the tap reads them one module after the other.

    Here a Calls deletion shows up after Calls' list was read, dated before a Leads deletion
    that shows up in Leads' list, both dated before the run began (a deletion list that shows
    an entry late, or Zoho's clock ahead of the tap's: the SDK's cap of a bookmark at the run's
    start does not help then). One bookmark for all modules became the Leads deletion's time
    and run 2 asked every module for later deletions: the Calls one never arrived.
    """
    with Emulator(job_seconds=0.0, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=["Calls", "Leads"])
        catalog = select(discover(tmp_path, config), RACE)
        requests.post(
            f"{emu.url}/__emulator__/delete",
            json={"module": "Calls", "count": 2, "seconds_ago": 120},
            timeout=10,
        ).raise_for_status()
        # when the tap asks for the Leads list (after Calls'): a Calls deletion dated 60 s ago
        # and a Leads deletion dated 30 s ago appear
        faults(emu.url, delete_while_listing={"Leads": {"Calls": 60, "Leads": 30}})
        first = run_tap(tmp_path / "first", config, catalog=catalog)
        order = [e["path"] for e in log(emu.url) if e["path"].endswith("/deleted")]
        second = run_tap(tmp_path / "second", config, catalog=catalog, state=first.final_state)
        truth = {(m, i) for m in ("Calls", "Leads") for i in deleted_ids(emu.url, m)}
    assert first.returncode == 0 and second.returncode == 0, first.stderr[-2000:]
    assert list(dict.fromkeys(order)) == ["/crm/v8/Calls/deleted", "/crm/v8/Leads/deleted"]
    delivered = {
        (r["module"], r["id"]) for run in (first, second) for r in run.records("Deleted_Records")
    }
    assert len(truth) == 4 and delivered == truth


def test_a_state_with_one_bookmark_for_all_modules_loses_no_deletion(tmp_path: Path) -> None:
    """The upgrade: a module without a bookmark of its own is read from start_date."""
    with Emulator(job_seconds=0.0, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=["Calls", "Leads"])
        catalog = select(discover(tmp_path, config), RACE)
        calls = delete(emu.url, "Calls", 2)
        __import__("time").sleep(2.1)
        leads = delete(emu.url, "Leads", 2)
        old_state = {
            "bookmarks": {
                "Deleted_Records": {
                    "replication_key": "deleted_time",
                    "replication_key_value": datetime.now()
                    .astimezone()
                    .isoformat(timespec="seconds"),
                }
            }
        }  # fmt: skip: what the previous version wrote, its one bookmark after both
        run = run_tap(tmp_path / "run", config, catalog=catalog, state=old_state)
    assert run.returncode == 0, run.stderr[-2000:]
    delivered = {(r["module"], r["id"]) for r in run.records("Deleted_Records")}
    assert delivered == {("Calls", i) for i in calls} | {("Leads", i) for i in leads}
    assert set(run.partition_bookmarks("Deleted_Records")) == {"Calls", "Leads"}


def test_one_modules_unexpected_deletion_answer_is_a_warning_and_the_rest_is_read(
    tmp_path: Path,
) -> None:
    with Emulator(job_seconds=0.0, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=["Calls", "Leads"])
        catalog = select(discover(tmp_path, config), RACE)
        calls, leads = delete(emu.url, "Calls", 2), delete(emu.url, "Leads", 2)
        faults(emu.url, no_deletion_list=["Calls"])
        first = run_tap(tmp_path / "first", config, catalog=catalog)
        faults(emu.url)
        second = run_tap(tmp_path / "second", config, catalog=catalog, state=first.final_state)
    assert first.returncode == 0, first.stderr[-2000:]
    warnings = [line for line in first.stderr.splitlines() if "| WARNING" in line]
    assert any("Calls" in w and "INVALID_URL_PATTERN" in w for w in warnings), warnings
    assert "Traceback" not in first.stderr
    assert {r["id"] for r in first.records("Deleted_Records")} == set(leads)
    assert len(first.ids("Leads")) == 1198 and len(first.ids("Calls")) == 248
    assert first.partition_bookmarks("Deleted_Records").get("Calls") is None
    # the next run reads Calls' deletions from where it stood: none was skipped
    assert set(calls) <= {r["id"] for r in second.records("Deleted_Records")}


def restore(url: str, module: str, ids: list[str]) -> list[str]:
    answer = requests.post(
        f"{url}/__emulator__/restore", json={"module": module, "ids": ids}, timeout=10
    )
    return answer.json()["restored"]  # type: ignore[no-any-return]


def live_ids(url: str, module: str) -> set[str]:
    answer = requests.get(f"{url}/__emulator__/records/{module}", timeout=30)
    return {line.split('"id": "')[1].split('"')[0] for line in answer.text.splitlines()}


def by_id(entry: dict[str, Any], path: str) -> bool:
    """A records API request asking for records by id (the restore look), not the change check."""
    return entry["path"] == path and "ids" in entry["params"]


def test_a_restored_record_is_exported_again_and_listed_as_restored_and_a_purged_one_not(
    tmp_path: Path,
) -> None:
    """Records deleted before they were ever loaded, two restored: both reach the target.

    A restored record keeps its Created_Time (and, in the emulator, its Modified_Time), so the
    bookmark criterion alone would never export it again.
    """
    with Emulator(job_seconds=0.0, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=["Calls", "Leads"])
        catalog = select(discover(tmp_path, config), RACE)
        gone = delete(emu.url, "Leads", 4)
        first = run_tap(tmp_path / "first", config, catalog=catalog)
        back = restore(emu.url, "Leads", gone[:2])
        requests.post(  # the rest of the bin is emptied for good
            f"{emu.url}/__emulator__/delete", json={"module": "Leads", "purge": True}, timeout=10
        ).raise_for_status()
        asked = len(log(emu.url))
        second = run_tap(tmp_path / "second", config, catalog=catalog, state=first.final_state)
        lookups = [e for e in log(emu.url)[asked:] if by_id(e, "/crm/v8/Leads")]
        bodies = [b for b in job_bodies(emu.url) if b["query"]["module"]["api_name"] == "Leads"]
        asked = len(log(emu.url))
        third = run_tap(tmp_path / "third", config, catalog=catalog, state=second.final_state)
        third_lookups = [e for e in log(emu.url)[asked:] if by_id(e, "/crm/v8/Leads")]
        live = live_ids(emu.url, "Leads")
    assert all(run.returncode == 0 for run in (first, second, third)), second.stderr[-2000:]
    assert sorted(back) == sorted(gone[:2]) and set(back) <= live and not set(gone[2:]) & live
    assert {r["id"] for r in first.records("Deleted_Records")} == set(gone)
    assert not set(gone) & set(first.ids("Leads"))  # deleted before the first load
    # run 2: both restored records are exported again, and listed as restored
    assert set(back) <= set(second.ids("Leads"))
    restored = [r for r in second.records("Deleted_Records") if r["type"] == "restored"]
    assert sorted(r["id"] for r in restored) == sorted(back)
    assert all(r["module"] == "Leads" and r["deleted_time"] is None for r in restored)
    # one call, 4 ids, asking for converted and unapproved records too
    assert len(lookups) == 1 and lookups[0]["params"] == ["approved", "converted", "fields", "ids"]
    assert lookups[0]["query"]["converted"] == lookups[0]["query"]["approved"] == "both"
    criteria = bodies[-1]["query"]["criteria"]
    assert criteria["group_operator"] == "or" and criteria["group"][1]["comparator"] == "in"
    assert "2 records restored from the recycle bin" in second.stderr
    # nothing left the bin since: no row, no lookup, the bookmark criterion alone
    assert [r for r in third.records("Deleted_Records") if r["type"] == "restored"] == []
    assert third_lookups == [] and not set(back) & set(third.ids("Leads"))


def test_a_record_deleted_after_the_bins_look_and_restored_later_is_found(
    tmp_path: Path,
) -> None:
    """Deleted while Deleted_Records reads the lists (after the Leads export looked at the bin),
    restored before the next run: the partition's recycle_seen keeps it in view."""
    with Emulator(job_seconds=0.0, download_limit=10_000) as emu:
        # bulk_only: the Leads export looks at the bin before Deleted_Records reads the lists;
        # an unchanged module would make no job and leave the look to Deleted_Records
        config = tap_config(emu.url, modules=["Calls", "Leads"], bulk_only=True)
        catalog = select(discover(tmp_path, config), RACE)
        first = run_tap(tmp_path / "first", config, catalog=catalog)
        faults(emu.url, delete_while_listing={"Calls:all": {"Leads": 0}})
        second = run_tap(tmp_path / "second", config, catalog=catalog, state=first.final_state)
        faults(emu.url)
        (late,) = [r["id"] for r in second.records("Deleted_Records") if r["module"] == "Leads"]
        restore(emu.url, "Leads", [late])
        third = run_tap(tmp_path / "third", config, catalog=catalog, state=second.final_state)
    assert all(run.returncode == 0 for run in (first, second, third)), third.stderr[-2000:]
    partitions = second.final_state["bookmarks"]["Deleted_Records"]["partitions"]
    assert [p["context"]["module"] for p in partitions if "recycle_seen" in p] == ["Leads"]
    assert [r["id"] for r in third.records("Deleted_Records") if r["type"] == "restored"] == [late]
    assert late in third.ids("Leads")


def test_a_state_without_a_recycle_bin_finds_no_restore_and_starts_keeping_one(
    tmp_path: Path,
) -> None:
    with Emulator(job_seconds=0.0, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=["Leads"])
        catalog = select(discover(tmp_path, config), {"Leads": ["Last_Name"], **DELETED})
        gone = delete(emu.url, "Leads", 2)
        first = run_tap(tmp_path / "first", config, catalog=catalog)
        state = json.loads(json.dumps(first.final_state))
        del state["bookmarks"]["Leads"]["recycle_bin"]  # as 0.2 wrote it
        restore(emu.url, "Leads", gone[:1])
        second = run_tap(tmp_path / "second", config, catalog=catalog, state=state)
        restore(emu.url, "Leads", gone[1:])
        third = run_tap(tmp_path / "third", config, catalog=catalog, state=second.final_state)
    assert second.returncode == 0 and third.returncode == 0, second.stderr[-2000:]
    assert [r for r in second.records("Deleted_Records") if r["type"] == "restored"] == []
    restored = [r["id"] for r in third.records("Deleted_Records") if r["type"] == "restored"]
    assert restored == gone[1:] and gone[1] in third.ids("Leads")


@pytest.mark.parametrize(
    ("bookmark", "where"),
    [
        ({"Leads": {"recycle_bin": "zlib-deltas:bm90IHpsaWI="}}, "the Leads state"),
        (
            {"Deleted_Records": {"partitions": [
                {"context": {"module": "Leads"}, "recycle_seen": ["4876543000000000001"]}
            ]}},
            "the Deleted_Records Leads partition state",
        ),
    ],
)  # fmt: skip
def test_a_damaged_recycle_bin_in_the_state_is_one_line_and_no_output(
    tmp_path: Path, bookmark: dict, where: str
) -> None:
    with Emulator(job_seconds=0.0, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=["Leads"])
        catalog = select(discover(tmp_path, config), {"Leads": ["Last_Name"], **DELETED})
        run = run_tap(tmp_path / "run", config, catalog=catalog, state={"bookmarks": bookmark})
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if "holds a damaged recycle_" in line]
    assert len(errors) == 1 and where in errors[0] and "remove that key" in errors[0]
    assert not run.messages  # refused before reading anything: no record, no state
