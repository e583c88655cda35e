"""A small change is read through the Query API (COQL), and its records are the bulk path's.

The identity test runs the tap twice from the same state on the same emulated data: once as it
is (every module's change read through COQL, no bulk read job), once with the Query API turned
off (every module through a bulk read job and its CSV). The RECORD messages and the bookmarks
must be the same. The data holds every field type the emulator's modules have, lookup dot
fields, a subform and a linking module (full tables), multi-line text, and datetimes on both sides of a
daylight saving change (the org's zone is America/Los_Angeles).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.tap.test_batch import batch_config, batch_records_of
from tests.tap_runner import TapRun, discover, job_bodies, run_tap, select, tap_config
from tests.zoho_client import ZohoTestClient, ground_truth
from zoho_bulkread_emulator import Emulator

pytestmark = pytest.mark.slow

# Together these modules hold every field type bulk read exports (Products' image upload field
# is left out: the Query API refuses image upload fields, so such a selection uses bulk read).
INCREMENTAL = ["Leads", "Deals", "Contacts", "Accounts", "Products", "Tasks", "Quotes"]
CHILDREN = ["Quoted_Items", "Contacts_X_Deals"]  # a subform, and a linking module
LEFT_OUT = {"Products": ["Record_Image"], "Accounts": ["nearby_distance__s"]}
DOT_FIELDS = {"Contacts": ["Account_Name.Account_Name", "Owner.email", "Account_Name.Industry"]}
BOOKMARK = "2025-06-01T00:00:00+00:00"
EXPORT_BEGAN = "2025-06-01T12:00:00+00:00"
VERSION = "zoho_table_version"


@pytest.fixture
def org() -> Iterator[Emulator]:
    with Emulator(job_seconds=0.05, download_limit=10_000) as emu:
        yield emu


def settings(emu: Emulator, modules: list[str] | None = None, **more: Any) -> dict[str, Any]:
    modules = modules or [*INCREMENTAL, *CHILDREN]
    return tap_config(
        emu.url,
        modules=modules,
        replication_key="Modified_Time",
        module_settings={m: {"lookup_fields": f} for m, f in DOT_FIELDS.items() if m in modules},
        **more,
    )


def mutate(org: Emulator, **change: Any) -> list[str]:
    """Create or update Leads in the emulator; the ids created and updated."""
    answer = requests.post(
        f"{org.url}/__emulator__/mutate", json={"module": "Leads", **change}, timeout=10
    )
    answer.raise_for_status()
    return [*answer.json()["created"], *answer.json()["updated"]]


def catalog_of(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    catalog = discover(tmp_path, config)
    wanted: dict[str, list[str] | None] = {}
    for entry in catalog["streams"]:
        name = entry["tap_stream_id"]
        if name in [*INCREMENTAL, *CHILDREN]:
            props = entry["schema"]["properties"]
            wanted[name] = [p for p in props if p not in LEFT_OUT.get(name, [])]
    return select(catalog, wanted)


def state_of() -> dict[str, Any]:
    """A bookmark a few months back for each module, the subform's last full export before it."""
    bookmarks: dict[str, Any] = {
        module: {
            "replication_key": "Modified_Time",
            "replication_key_value": BOOKMARK,
            "zoho_last_export_began": EXPORT_BEGAN,
        }
        for module in INCREMENTAL
    }
    for child in CHILDREN:
        bookmarks[child] = {"zoho_last_export_began": EXPORT_BEGAN}
    return {"bookmarks": bookmarks}


def records_by_id(run: TapRun, stream: str) -> dict[str, dict[str, Any]]:
    """The stream's records by id, numbers read as the exact digits the tap wrote."""
    exact = [json.loads(line, parse_float=Decimal) for line in run.stdout.splitlines()]
    records = [m["record"] for m in exact if m["type"] == "RECORD" and m["stream"] == stream]
    rows = {r["id"]: {k: v for k, v in r.items() if k != VERSION} for r in records}
    assert len(rows) == len(records), f"{stream}: an id came twice"
    return rows


def dst_days(zone: ZoneInfo, years: range) -> set[date]:
    """The local days on which ``zone`` changes its offset."""
    days = set()
    for year in years:
        day = date(year, 1, 1)
        while day.year == year:
            start = datetime(day.year, day.month, day.day, tzinfo=zone)
            if start.utcoffset() != (start + timedelta(days=1)).utcoffset():
                days.add(day if (start + timedelta(hours=12)).utcoffset() != start.utcoffset()
                         else day + timedelta(days=1))  # fmt: skip
            day += timedelta(days=1)
    return days


def test_the_query_api_and_bulk_read_emit_the_same_records_and_bookmarks(
    org: Emulator, tmp_path: Path
) -> None:
    config = settings(org)
    catalog = catalog_of(tmp_path / "discover", config)

    through_coql = run_tap(tmp_path / "coql", config, catalog=catalog, state=state_of())
    assert through_coql.returncode == 0, through_coql.stderr[-3000:]
    assert job_bodies(org.url) == []  # not one bulk read job
    for module in [*INCREMENTAL, *CHILDREN]:
        assert re.search(rf"{module}: Query API: .*records to read", through_coql.stderr), module

    bulk = settings(org, query_api_max_records=0)
    through_bulk = run_tap(tmp_path / "bulk", bulk, catalog=catalog, state=state_of())
    assert through_bulk.returncode == 0, through_bulk.stderr[-3000:]
    jobs = {body["query"]["module"]["api_name"] for body in job_bodies(org.url)}
    assert jobs == {*INCREMENTAL, *CHILDREN}

    for stream in [*INCREMENTAL, *CHILDREN]:
        coql_rows, bulk_rows = (
            records_by_id(through_coql, stream),
            records_by_id(through_bulk, stream),
        )
        assert coql_rows, stream
        assert coql_rows == bulk_rows, stream
    for module in INCREMENTAL:
        truth = [r for r in ground_truth(org.url, module) if r["Modified_Time"] >= BOOKMARK]
        assert set(records_by_id(through_coql, module)) == {r["id"] for r in truth}, module
        assert through_coql.bookmark(module) == through_bulk.bookmark(module)
        assert through_coql.bookmark(module) == max(r["Modified_Time"] for r in truth)
    # each child whole, under the run's own table version, which ACTIVATE_VERSION then names
    for child in CHILDREN:
        assert len(through_coql.records(child)) == len(ground_truth(org.url, child))
        versions = {r[VERSION] for r in through_coql.records(child)}
        activated = [
            m["version"]
            for m in through_coql.messages
            if m["type"] == "ACTIVATE_VERSION" and m["stream"] == child
        ]
        assert len(versions) == 1 and activated == list(versions)


def test_the_compared_data_holds_what_the_identity_test_claims(org: Emulator) -> None:
    """Multi-line text, both offsets of the org's zone, and a value on a changeover day."""
    client = ZohoTestClient(org.url)
    answer = client.session.post(
        f"{org.url}/crm/v8/coql",
        headers=client.headers(),
        json={
            "select_query": "select Description, Created_Time, Modified_Time, Last_Activity_Time"
            f" from Leads where Modified_Time >= '{BOOKMARK}' limit 2000"
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    rows = answer.json()["data"]
    texts = [r["Description"] for r in rows if r["Description"]]
    assert any("\r\n" in t for t in texts) and any("\n\n" in t for t in texts)
    stamps = [v for r in rows for k, v in r.items() if k.endswith("_Time") and v]
    assert {s[-6:] for s in stamps} >= {"-07:00", "-08:00"}
    changeovers = dst_days(ZoneInfo("America/Los_Angeles"), range(2019, 2027))
    assert any(date.fromisoformat(s[:10]) in changeovers for s in stamps)


def test_a_change_larger_than_the_threshold_goes_to_bulk_read(
    org: Emulator, tmp_path: Path
) -> None:
    config = settings(org, ["Leads"], query_api_max_records=5)
    catalog = catalog_of(tmp_path / "discover", config)
    state = {"bookmarks": {"Leads": state_of()["bookmarks"]["Leads"]}}

    run = run_tap(tmp_path / "run", config, catalog=catalog, state=state)

    assert run.returncode == 0, run.stderr[-3000:]
    assert [b["query"]["module"]["api_name"] for b in job_bodies(org.url)] == ["Leads"]
    assert "Leads: bulk read: " in run.stderr and "more than 5 records to read" in run.stderr
    truth = [r for r in ground_truth(org.url, "Leads") if r["Modified_Time"] >= BOOKMARK]
    assert sorted(run.ids("Leads")) == sorted(r["id"] for r in truth)


def test_a_column_the_query_api_refuses_sends_the_module_to_bulk_read(
    org: Emulator, tmp_path: Path
) -> None:
    config = settings(org, ["Products"])
    catalog = select(discover(tmp_path / "discover", config), {"Products": None})
    state = {"bookmarks": {"Products": state_of()["bookmarks"]["Products"]}}

    run = run_tap(tmp_path / "run", config, catalog=catalog, state=state)

    assert run.returncode == 0, run.stderr[-3000:]
    assert "Products: bulk read after all: the Query API refuses the column Record_Image" in (
        run.stderr
    )
    assert [b["query"]["module"]["api_name"] for b in job_bodies(org.url)] == ["Products"]
    truth = [r for r in ground_truth(org.url, "Products") if r["Modified_Time"] >= BOOKMARK]
    assert sorted(run.ids("Products")) == sorted(r["id"] for r in truth)
    images = [r["Record_Image"] for r in run.records("Products")]
    assert any(images)  # bulk read exports what COQL refused


def test_new_records_after_a_full_run_are_read_through_the_query_api(
    org: Emulator, tmp_path: Path
) -> None:
    config = settings(org, ["Leads"])
    catalog = catalog_of(tmp_path / "discover", config)
    first = run_tap(tmp_path / "1", config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-3000:]
    changed = set(mutate(org, create=3, update=2, seconds_ago=120))

    second = run_tap(tmp_path / "2", config, catalog=catalog, state=first.final_state)

    assert second.returncode == 0, second.stderr[-3000:]
    assert len(job_bodies(org.url)) == 1  # the first run's
    assert set(second.ids("Leads")) >= changed
    truth = {r["id"]: r for r in ground_truth(org.url, "Leads")}
    assert all(r["Modified_Time"] == truth[r["id"]]["Modified_Time"] for r in second.records())
    assert second.bookmark("Leads") == max(r["Modified_Time"] for r in truth.values())
    assert re.search(r"Leads: \d+ records read through the Query API", second.stderr)


def test_a_bookmark_near_the_last_runs_start_is_counted_and_read_through_the_query_api(
    org: Emulator, tmp_path: Path
) -> None:
    """Runs back to back: the records API cannot vouch for the bookmark's own second, COQL can."""
    config = settings(org, ["Leads"])
    catalog = catalog_of(tmp_path / "discover", config)
    first = run_tap(tmp_path / "1", config, catalog=catalog)
    created = mutate(org, create=2)
    second = run_tap(tmp_path / "2", config, catalog=catalog, state=first.final_state)
    late = mutate(org, create=1)
    third = run_tap(tmp_path / "3", config, catalog=catalog, state=second.final_state)

    assert first.returncode == second.returncode == third.returncode == 0, third.stderr[-3000:]
    assert len(job_bodies(org.url)) == 1  # the first run's only
    assert "Leads: Query API: the bookmark is too close to the last export's start" in (
        third.stderr
    )
    truth = {r["id"]: r for r in ground_truth(org.url, "Leads")}
    newest = max(r["Modified_Time"] for r in truth.values())
    assert set(created) <= set(second.ids("Leads")) and set(late) <= set(third.ids("Leads"))
    expected = {i for i, r in truth.items() if r["Modified_Time"] >= second.bookmark("Leads")}
    assert set(third.ids("Leads")) == expected
    assert third.bookmark("Leads") == newest


EXACT_NUMBERS = {  # the text each path must write: Zoho's CSV writes the field's scale
    "Amount": "10.10",  # currency, 2 places
    "Exchange_Rate": "1.000000000",  # decimal, 9 places
    "Budget_Whole": "5",  # currency, 0 places
    "Expected_Revenue": "100.50",  # a formula returning currency, 2 places
}


def test_numbers_keep_the_fields_scale_on_both_paths(org: Emulator, tmp_path: Path) -> None:
    """One Deal holding 10.10, 1.000000000, 5 and a formula's 100.50: the Query API's JSON
    writes 10.1, 1, 5 and 100.5; both paths must write the digits Zoho's CSV has."""
    (deal,) = [r["id"] for r in ground_truth(org.url, "Deals")][:1]
    answer = requests.post(
        f"{org.url}/__emulator__/set",
        json={"module": "Deals", "id": deal, "values": EXACT_NUMBERS},
        timeout=10,
    )
    answer.raise_for_status()
    config = settings(org, ["Deals"])
    catalog = catalog_of(tmp_path / "discover", config)
    state = {"bookmarks": {"Deals": state_of()["bookmarks"]["Deals"]}}

    through_coql = run_tap(tmp_path / "coql", config, catalog=catalog, state=state)
    through_bulk = run_tap(
        tmp_path / "bulk", settings(org, ["Deals"], query_api_max_records=0),
        catalog=catalog, state=state,
    )  # fmt: skip
    batches = batch_config(tmp_path / "files", 1000)
    in_files = run_tap(
        tmp_path / "batch", settings(org, ["Deals"], batch_config=batches),
        catalog=catalog, state=state,
    )  # fmt: skip

    assert through_coql.returncode == through_bulk.returncode == in_files.returncode == 0, (
        through_coql.stderr[-3000:]
    )
    assert "Deals: Query API: " in through_coql.stderr and "Deals: Query API: " in in_files.stderr
    assert "Deals: bulk read: " in through_bulk.stderr
    batch_lines = [
        line for m in in_files.messages if m["type"] == "BATCH" for line in batch_records_of(m)
    ]
    for run_lines in (
        through_coql.stdout.splitlines(),
        through_bulk.stdout.splitlines(),
        batch_lines,
    ):
        (line,) = [line for line in run_lines if f'"id":"{deal}"' in line]
        for name, text in EXACT_NUMBERS.items():
            assert f'"{name}":{text},' in line or f'"{name}":{text}}}' in line, (name, line)
    assert records_by_id(through_coql, "Deals")[deal] == records_by_id(through_bulk, "Deals")[deal]
