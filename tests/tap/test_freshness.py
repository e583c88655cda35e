"""An incremental run that finds nothing new makes no bulk read job for the module.

Before a module's job, the tap asks the records API (one call, ``If-Modified-Since`` the
bookmark) for the most recently modified record. Expected values come from the emulator: its
request log (which jobs were made), its ground truth (what changed) and the first run's state.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.tap_runner import discover, job_bodies, run_tap, select, tap_config
from tests.zoho_client import ground_truth
from zoho_bulkread_emulator import Emulator

MODULES = ["Leads", "Calls"]


@pytest.fixture
def org() -> Iterator[Emulator]:
    with Emulator(job_seconds=0.05, download_limit=10_000) as emu:
        yield emu


def config_of(emu: Emulator, **settings: Any) -> dict[str, Any]:
    """Changes go to bulk read here (tests/tap/test_query_api.py reads them through COQL)."""
    return tap_config(
        emu.url,
        **{
            "modules": MODULES,
            "replication_key": "Modified_Time",
            "query_api_max_records": 0,
            **settings,
        },
    )


def catalog_of(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    return select(discover(tmp_path / "discover", config), dict.fromkeys(MODULES))


def jobs_for(emu: Emulator) -> list[str]:
    """The modules of the bulk read jobs the emulator received, in order."""
    return [body["query"]["module"]["api_name"] for body in job_bodies(emu.url)]


def change(emu: Emulator, module: str, *, seconds_ago: float, **counts: int) -> list[str]:
    answer = requests.post(
        f"{emu.url}/__emulator__/mutate",
        json={"module": module, "seconds_ago": seconds_ago, **counts},
        timeout=10,
    )
    answer.raise_for_status()
    return [*answer.json()["created"], *answer.json()["updated"]]


def first_run(org: Emulator, tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """The settings, the catalog of MODULES and the first run, which succeeded."""
    config = config_of(org)
    catalog = catalog_of(tmp_path, config)
    first = run_tap(tmp_path / "1", config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-2000:]
    return config, catalog, first


def test_an_unchanged_module_makes_no_job_and_keeps_its_bookmark(
    org: Emulator, tmp_path: Path
) -> None:
    config, catalog, first = first_run(org, tmp_path)
    assert sorted(jobs_for(org)) == sorted(MODULES)

    second = run_tap(tmp_path / "2", config, catalog=catalog, state=first.final_state)

    assert second.returncode == 0, second.stderr[-2000:]
    assert sorted(jobs_for(org)) == sorted(MODULES)  # not one job more
    assert second.records() == []
    for module in MODULES:
        newest = max(row["Modified_Time"] for row in ground_truth(org.url, module))
        assert first.bookmark(module) == newest
        assert second.bookmark(module) == newest
        assert (
            f"{module}: no bulk read job: the records API lists nothing modified after {newest}"
            in second.stderr
        )


def test_only_the_changed_module_is_read_and_then_it_rests_too(
    org: Emulator, tmp_path: Path
) -> None:
    config, catalog, first = first_run(org, tmp_path)
    touched = change(org, "Leads", seconds_ago=300, create=2, update=3)

    second = run_tap(tmp_path / "2", config, catalog=catalog, state=first.final_state)
    third = run_tap(tmp_path / "3", config, catalog=catalog, state=second.final_state)

    assert second.returncode == 0 and third.returncode == 0, second.stderr[-2000:]
    assert sorted(jobs_for(org)) == sorted([*MODULES, "Leads"])  # one job, in the second run
    truth = {row["id"]: row for row in ground_truth(org.url, "Leads")}
    newest = max(row["Modified_Time"] for row in truth.values())
    assert set(touched) <= set(second.ids("Leads"))
    assert all(r["Modified_Time"] == truth[r["id"]]["Modified_Time"] for r in second.records())
    assert second.records("Calls") == [] and third.records() == []
    assert second.bookmark("Leads") == third.bookmark("Leads") == newest
    assert second.bookmark("Calls") == first.bookmark("Calls")
    assert f"Leads: bulk read: a record was modified at {newest}, after the bookmark" in (
        second.stderr
    )


def test_a_bookmark_near_the_last_exports_start_is_read_again_by_bulk_read(
    org: Emulator, tmp_path: Path
) -> None:
    """A change in the bookmark's own second, made after the export read it, has no later time."""
    config = config_of(org, modules=["Leads"])
    catalog = select(discover(tmp_path / "discover", config), {"Leads": None})
    first = run_tap(tmp_path / "1", config, catalog=catalog)
    change(org, "Leads", seconds_ago=5, update=1)
    second = run_tap(tmp_path / "2", config, catalog=catalog, state=first.final_state)

    third = run_tap(tmp_path / "3", config, catalog=catalog, state=second.final_state)

    assert third.returncode == 0, third.stderr[-2000:]
    assert jobs_for(org) == ["Leads"] * 3
    assert "Leads: bulk read: the bookmark is too close to the last export's start" in (
        third.stderr
    )


def test_bulk_only_makes_a_job_for_every_module_every_run(org: Emulator, tmp_path: Path) -> None:
    config = config_of(org, bulk_only=True)
    catalog = catalog_of(tmp_path, config)
    first = run_tap(tmp_path / "1", config, catalog=catalog)

    second = run_tap(tmp_path / "2", config, catalog=catalog, state=first.final_state)

    assert second.returncode == 0, second.stderr[-2000:]
    assert sorted(jobs_for(org)) == sorted(MODULES * 2)
    assert "Leads: bulk read: bulk_only is set" in second.stderr
    log = requests.get(f"{org.url}/__emulator__/requests", timeout=10).json()
    assert not [e for e in log if e["path"].endswith(("/Leads", "/Calls"))]  # no records API


def test_a_state_from_before_this_check_reads_once_more_by_bulk_read(
    org: Emulator, tmp_path: Path
) -> None:
    config = config_of(org)
    catalog = catalog_of(tmp_path, config)
    first = run_tap(tmp_path / "1", config, catalog=catalog)
    older = first.final_state
    for module in MODULES:
        older["bookmarks"][module].pop("zoho_last_export_began")

    second = run_tap(tmp_path / "2", config, catalog=catalog, state=older)

    assert second.returncode == 0, second.stderr[-2000:]
    assert sorted(jobs_for(org)) == sorted(MODULES * 2)
    assert "Leads: bulk read: when the last export began is not in the state" in second.stderr
    assert all("zoho_last_export_began" in second.final_state["bookmarks"][m] for m in MODULES)


FAMILY = ["Quotes", "Quoted_Items", "Contacts", "Deals", "Contacts_X_Deals"]


def family_run(emu: Emulator, tmp_path: Path, name: str, state: dict[str, Any] | None) -> Any:
    config = config_of(emu, modules=FAMILY)
    catalog_path = tmp_path / "family-catalog.json"
    if not catalog_path.exists():
        catalog = select(discover(tmp_path / "discover", config), dict.fromkeys(FAMILY))
        catalog_path.write_text(json.dumps(catalog))
    catalog = json.loads(catalog_path.read_text())
    run = run_tap(tmp_path / name, config, catalog=catalog, state=state)
    assert run.returncode == 0, run.stderr[-2000:]
    return run


def test_a_subform_is_read_again_only_after_its_parent_records_change(
    org: Emulator, tmp_path: Path
) -> None:
    first = family_run(org, tmp_path, "1", None)
    second = family_run(org, tmp_path, "2", first.final_state)
    jobs_second = jobs_for(org)[len(FAMILY) :]
    removed = requests.post(
        f"{org.url}/__emulator__/delete", json={"module": "Quotes", "count": 1}, timeout=10
    ).json()["deleted"]
    third = family_run(org, tmp_path, "3", second.final_state)
    jobs_third = jobs_for(org)[len(FAMILY) + len(jobs_second) :]
    edited = change(org, "Quoted_Items", seconds_ago=0, update=2)
    fourth = family_run(org, tmp_path, "4", third.final_state)
    jobs_fourth = jobs_for(org)[len(FAMILY) + len(jobs_second) + len(jobs_third) :]

    # nothing changed: only the linking module is read (a link has no one record it belongs to)
    assert jobs_second == ["Contacts_X_Deals"]
    assert {m["stream"] for m in second.messages if m["type"] == "RECORD"} == {"Contacts_X_Deals"}
    assert "Quoted_Items: no bulk read job: no record of Quotes was modified" in second.stderr
    assert "Contacts_X_Deals: bulk read: a linking module is read in full each run" in (
        second.stderr
    )
    # a Quote deleted: its line items are gone, so the subform is read again (not the Quotes)
    assert sorted(jobs_third) == ["Contacts_X_Deals", "Quoted_Items"]
    assert "Quoted_Items: bulk read: records of Quotes were deleted since then" in third.stderr
    items = {row["id"] for row in ground_truth(org.url, "Quoted_Items")}
    assert removed and set(third.ids("Quoted_Items")) == items
    # line items edited: Zoho writes them through their Quote, so both are read again
    assert sorted(jobs_fourth) == ["Contacts_X_Deals", "Quoted_Items", "Quotes"]
    assert set(edited) <= set(fourth.ids("Quoted_Items")) == items
    assert "Quoted_Items: bulk read: a record of Quotes was modified at" in fourth.stderr
