"""The tap against the emulator, run as a user runs it: discovery, selection, jobs, state."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from tests.tap_runner import (
    command_line,
    discover,
    faults,
    job_bodies,
    request_paths,
    run_tap,
    select,
    tap_config,
)
from tests.zoho_client import ground_truth
from zoho_bulkread_emulator import Emulator

SECRETS = ("emulator-client-secret", "emulator-refresh-token")


@pytest.fixture(scope="module")
def org() -> Iterator[Emulator]:
    with Emulator(job_seconds=0.05, max_token_refreshes=10_000, download_limit=10_000) as emu:
        yield emu


@pytest.fixture(scope="module")
def catalog(org: Emulator, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return discover(tmp_path_factory.mktemp("catalog"), tap_config(org.url))


def stream_schema(catalog: dict, name: str) -> dict:
    return next(s for s in catalog["streams"] if s["tap_stream_id"] == name)["schema"]


def test_discovery_has_one_stream_per_exportable_module(catalog: dict) -> None:
    names = {s["tap_stream_id"] for s in catalog["streams"]}
    assert {
        "Leads",
        "Contacts",
        "Accounts",
        "Deals",
        "Tasks",
        "Events",
        "Calls",
        "Products",
        "Projects",
        "Wide_Records",
        "Sparse_Records",
        "Quotes",
        # child modules: subform rows and multi-select-lookup links
        "Quoted_Items",
        "Project_Milestones",
        "Price_Tiers",
        "Contacts_X_Deals",
        "Projects_X_Users",
        "Users",  # through the REST API
        "Deleted_Records",
        "Full_Table_Reads",  # the full-table reads a run completed
    } == names
    leads = next(s for s in catalog["streams"] if s["tap_stream_id"] == "Leads")
    assert leads["key_properties"] == ["id"]
    assert leads["replication_key"] == "Created_Time"


def test_discovery_types_every_zoho_data_type(catalog: dict) -> None:
    props = {
        name: stream_schema(catalog, name)["properties"]
        for name in ("Leads", "Deals", "Tasks", "Products")
    }
    leads, deals, tasks, products = "Leads", "Deals", "Tasks", "Products"
    assert props[leads]["id"]["type"] == ["string"]
    expectations = {
        (leads, "Last_Name"): ["string", "null"],
        (leads, "No_of_Employees"): ["integer", "null"],
        (leads, "Annual_Revenue"): ["number", "null"],
        (leads, "Exchange_Rate"): ["number", "null"],
        (leads, "Probability_Of_Close"): ["number", "null"],
        (leads, "Lead_Score"): ["string", "null"],  # bigint
        (leads, "Email_Opt_Out"): ["boolean", "null"],
        (leads, "Owner"): ["string", "null"],
        (leads, "Interests"): ["array", "null"],
        (leads, "Tag"): ["array", "null"],
        (leads, "Record_Image"): ["string", "null"],
        (deals, "Account_Name"): ["string", "null"],
        (deals, "Deal_Number"): ["string", "null"],
        (deals, "Expected_Revenue"): ["number", "null"],  # a formula returning currency
        (deals, "Is_Big_Deal"): ["boolean", "null"],  # a formula returning boolean
        (leads, "$converted"): ["boolean", "null"],  # record state: not in the fields metadata
        (leads, "Converted_Contact"): ["string", "null"],
        (leads, "Record_Approval_Status"): ["string", "null"],
        (deals, "Locked__s"): ["boolean", "null"],
        (deals, "Overall_Sales_Duration"): ["number", "null"],
        (tasks, "Remind_At"): ["string", "null"],
        (products, "Manual"): ["string", "null"],
    }
    for (module, name), wanted in expectations.items():
        assert props[module][name]["type"] == wanted, name
    assert props[leads]["Birth_Date"]["format"] == "date"
    assert props[leads]["Converted_Date_Time"]["format"] == "date-time"
    assert "$converted" not in props[deals]  # the modules metadata: Deals are not convertable
    assert props[deals]["Expected_Revenue"]["description"].endswith("2 decimal places")
    assert props[leads]["Created_Time"]["format"] == "date-time"
    assert all("enum" not in p for p in props[leads].values())
    assert "Price_Tiers" not in props[products]  # subform: its rows are the stream Price_Tiers
    assert "Linked_Deals" not in stream_schema(catalog, "Contacts")["properties"]


def test_selected_fields_are_sent_as_fields_and_only_they_are_emitted(
    org, catalog, tmp_path
) -> None:
    chosen = select(catalog, {"Calls": ["Subject", "Call_Type", "Billable"]})
    run = run_tap(tmp_path, tap_config(org.url), catalog=chosen)
    assert run.returncode == 0, run.stderr[-2000:]
    body = job_bodies(org.url)[-1]
    assert body["query"]["module"] == {"api_name": "Calls"}
    assert set(body["query"]["fields"]) == {"Subject", "Call_Type", "Billable", "Created_Time"}
    records = run.records("Calls")
    assert len(records) == 250
    assert set(records[0]) == {"id", "Subject", "Call_Type", "Billable", "Created_Time"}
    assert {type(r["Billable"]) for r in records} <= {bool, type(None)}
    assert sorted(run.ids("Calls")) == sorted(t["id"] for t in ground_truth(org.url, "Calls"))


def test_sync_with_a_catalog_makes_no_discovery_calls(org, catalog, tmp_path) -> None:
    requests.post(f"{org.url}/__emulator__/reset", timeout=10)
    run = run_tap(tmp_path, tap_config(org.url), catalog=select(catalog, {"Products": None}))
    assert run.returncode == 0, run.stderr[-2000:]
    paths = request_paths(org.url)
    assert not [p for p in paths if "/settings/" in p]
    assert len(run.records("Products")) == 50


def test_more_than_200_selected_fields_omit_fields_and_keep_the_selection(
    org, catalog, tmp_path
) -> None:
    properties = list(stream_schema(catalog, "Wide_Records")["properties"])
    assert len(properties) > 200
    run = run_tap(tmp_path, tap_config(org.url), catalog=select(catalog, {"Wide_Records": None}))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "fields" not in job_bodies(org.url)[-1]["query"]
    assert set(run.records("Wide_Records")[0]) == set(properties)
    few = properties[:150]
    run = run_tap(
        tmp_path / "few", tap_config(org.url), catalog=select(catalog, {"Wide_Records": few})
    )
    assert len(job_bodies(org.url)[-1]["query"]["fields"]) == len(
        set(few) - {"id"} | {"Created_Time"}
    )
    assert set(run.records("Wide_Records")[0]) == set(few) | {"Created_Time"}


def test_values_are_typed_as_the_schema_says(org, catalog, tmp_path) -> None:
    run = run_tap(tmp_path, tap_config(org.url), catalog=select(catalog, {"Leads": None}))
    records = run.records("Leads")
    assert len(records) == 1200
    assert all(isinstance(r["id"], str) and len(r["id"]) == 19 for r in records)
    assert any(r["Email_Opt_Out"] is False for r in records) and any(
        r["Email_Opt_Out"] is True for r in records
    )
    assert any(isinstance(r["Interests"], list) and len(r["Interests"]) > 1 for r in records)
    assert any(r["Tag"] and len(r["Tag"]) == 2 for r in records)
    assert any(r["First_Name"] is None for r in records)
    assert all(r["Created_Time"].endswith("+00:00") for r in records)
    assert any("\n" in (r["Description"] or "") for r in records)
    # read as exact decimals (a float, as json.loads makes by default, holds ~17 digits)
    exact = [
        json.loads(line, parse_float=Decimal)["record"]
        for line in run.stdout.splitlines()
        if '"type":"RECORD"' in line.replace(" ", "")
    ]
    rates = [r["Exchange_Rate"] for r in exact if r["Exchange_Rate"] is not None]
    assert any(len(str(rate).split(".")[-1]) == 9 for rate in rates)
    assert all(isinstance(r["No_of_Employees"], (int, type(None))) for r in records)


def test_bookmark_is_the_newest_created_time_in_utc_across_dst_offsets(
    org, catalog, tmp_path
) -> None:
    run = run_tap(tmp_path, tap_config(org.url), catalog=select(catalog, {"Deals": ["Deal_Name"]}))
    truth = ground_truth(org.url, "Deals")
    assert run.bookmark("Deals") == max(t["Created_Time"] for t in truth)
    emitted = {r["id"]: r["Created_Time"] for r in run.records("Deals")}
    assert emitted == {t["id"]: t["Created_Time"] for t in truth}


def test_no_secret_reaches_stdout_or_logs(org, catalog, tmp_path) -> None:
    run = run_tap(
        tmp_path, tap_config(org.url), catalog=select(catalog, {"Products": ["Product_Name"]})
    )
    assert run.returncode == 0
    for secret in SECRETS:
        assert secret not in run.stdout and secret not in run.stderr


def test_incremental_runs_export_only_new_and_boundary_records(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.05, download_limit=10_000) as emu:
        # what a bulk read job exports: bulk_only, so the unchanged Accounts get a job too
        # (by default they get none: tests/tap/test_freshness.py)
        config = tap_config(emu.url, bulk_only=True)
        catalog = select(
            discover(tmp_path, config), {"Leads": ["Last_Name"], "Accounts": ["Account_Name"]}
        )
        first = run_tap(tmp_path / "1", config, catalog=catalog)
        assert first.returncode == 0, first.stderr[-2000:]
        assert len(first.records("Leads")) == 1200
        truth = {t["id"]: t for t in ground_truth(emu.url, "Leads")}
        bookmark = first.bookmark("Leads")
        boundary = {i for i, t in truth.items() if t["Created_Time"] >= bookmark}
        changed = requests.post(
            f"{emu.url}/__emulator__/mutate",
            json={"module": "Leads", "create": 5, "update": 3},
            timeout=10,
        ).json()
        second = run_tap(tmp_path / "2", config, catalog=catalog, state=first.final_state)
        assert second.returncode == 0, second.stderr[-2000:]
        assert set(second.ids("Leads")) == boundary | set(changed["created"])
        assert second.ids("Accounts") == [
            i
            for i, t in ((t["id"], t) for t in ground_truth(emu.url, "Accounts"))
            if t["Created_Time"] >= first.bookmark("Accounts")
        ]
        assert second.bookmark("Leads") > bookmark
        sent = [b for b in job_bodies(emu.url) if b["query"]["module"] == {"api_name": "Leads"}][
            -1
        ]["query"]["criteria"]
        assert sent == {
            "field": {"api_name": "Created_Time"},
            "comparator": "greater_equal",
            "value": bookmark,
        }


def test_modified_time_replication_captures_updates(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.05, download_limit=10_000) as emu:
        config = tap_config(emu.url, replication_key="Modified_Time")
        catalog = select(discover(tmp_path, config), {"Contacts": ["Last_Name"]})
        assert (
            next(s for s in catalog["streams"] if s["tap_stream_id"] == "Contacts")[
                "replication_key"
            ]
            == "Modified_Time"
        )
        first = run_tap(tmp_path / "1", config, catalog=catalog)
        changed = requests.post(
            f"{emu.url}/__emulator__/mutate", json={"module": "Contacts", "update": 4}, timeout=10
        ).json()
        second = run_tap(tmp_path / "2", config, catalog=catalog, state=first.final_state)
        truth = ground_truth(emu.url, "Contacts")
    expected = {t["id"] for t in truth if t["Modified_Time"] >= first.bookmark("Contacts")}
    assert set(changed["updated"]) <= expected
    assert set(second.ids("Contacts")) == expected
    assert len(expected) < 20


@pytest.mark.parametrize("version", ["v2", "v6", "v8"])
def test_multi_page_exports_follow_pages_and_page_tokens(tmp_path: Path, version: str) -> None:
    with Emulator(
        job_seconds=0.05, per_page=100, records={("crm", "Calls"): 345}, download_limit=10_000
    ) as emu:
        config = tap_config(emu.url, api_version=version)
        run = run_tap(
            tmp_path, config, catalog=select(discover(tmp_path, config), {"Calls": ["Subject"]})
        )
        bodies = job_bodies(emu.url)
        truth = ground_truth(emu.url, "Calls")
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted(run.ids("Calls")) == sorted(t["id"] for t in truth)
    assert len(bodies) == 4
    if version == "v8":
        assert [("page_token" in b["query"]) for b in bodies] == [False, True, True, True]
    else:
        assert [b["query"]["page"] for b in bodies] == [1, 2, 3, 4]
        assert isinstance(bodies[0]["query"]["module"], str if version == "v2" else dict)


def test_failed_job_ends_the_run_with_zohos_message_and_keeps_the_old_bookmark(
    tmp_path: Path,
) -> None:
    with Emulator(job_seconds=0.05, download_limit=10_000) as emu:
        config = tap_config(emu.url, query_api_max_records=0)  # the change goes to a job
        catalog = select(discover(tmp_path, config), {"Calls": ["Subject"]})
        faults(emu.url, fail_next_job={"Calls": "INVALID_QUERY"})
        state = {
            "bookmarks": {
                "Calls": {
                    "replication_key": "Created_Time",
                    "replication_key_value": "2020-01-01T00:00:00+00:00",
                }
            }
        }
        run = run_tap(tmp_path / "run", config, catalog=catalog, state=state)
    assert run.returncode != 0
    assert "INVALID_QUERY" in run.stderr and "failed" in run.stderr
    assert run.records("Calls") == []
    assert run.bookmark("Calls") in (None, "2020-01-01T00:00:00+00:00")


def test_bigin_sync_uses_bigin_paths_and_v2_shapes(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.05, download_limit=10_000) as emu:
        config = tap_config(emu.url, product="bigin", modules=["Pipelines", "Contacts"])
        catalog = discover(tmp_path, config)
        assert {s["tap_stream_id"] for s in catalog["streams"]} == {
            "Pipelines",
            "Contacts",
            "Users",
            "Deleted_Records",
            "Full_Table_Reads",
        }
        run = run_tap(
            tmp_path / "run",
            config,
            catalog=select(catalog, {"Pipelines": ["Deal_Name", "Stage"], "Users": ["full_name"]}),
        )
        paths = request_paths(emu.url)
        truth = ground_truth(emu.url, "Pipelines", product="bigin")
        body = job_bodies(emu.url)[-1]
    assert run.returncode == 0, run.stderr[-2000:]
    assert "/bigin/bulk/v2/read" in paths
    assert body["query"]["module"] == "Pipelines"
    assert sorted(run.ids("Pipelines")) == sorted(t["id"] for t in truth)
    assert "/bigin/v2/users" in paths and run.records("Users")


def test_module_settings_add_criteria_cvid_and_lookup_fields(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.05, download_limit=10_000) as emu:
        config = tap_config(
            emu.url,
            api_version="v2",
            start_date="2022-01-01T00:00:00Z",
            module_settings={
                "Contacts": {
                    "criteria": {
                        "field": {"api_name": "Lead_Source"},
                        "comparator": "equal",
                        "value": "Web",
                    },
                    "lookup_fields": ["Owner.last_name", "Account_Name.Account_Name"],
                },
                "Leads": {"cvid": "4876543000000087501"},
            },
            modules=["Contacts", "Leads"],
        )
        catalog = discover(tmp_path, config)
        run = run_tap(
            tmp_path / "run",
            config,
            catalog=select(
                catalog,
                {
                    "Contacts": [
                        "Last_Name",
                        "Lead_Source",
                        "Owner__last_name",
                        "Account_Name__Account_Name",
                    ],
                    "Leads": ["Lead_Status"],
                },
            ),
        )
        bodies = {b["query"]["module"]: b["query"] for b in job_bodies(emu.url)}
    assert run.returncode == 0, run.stderr[-2000:]
    contacts = bodies["Contacts"]
    assert contacts["criteria"] == {
        "group_operator": "and",
        "group": [
            {
                "api_name": "Created_Time",
                "comparator": "greater_equal",
                "value": "2022-01-01T00:00:00+00:00",
            },
            {"api_name": "Lead_Source", "comparator": "equal", "value": "Web"},
        ],
    }
    assert {"Owner.last_name", "Account_Name.Account_Name"} <= set(contacts["fields"])
    records = run.records("Contacts")
    assert records and all(
        r["Lead_Source"] == "Web" and r["Created_Time"] >= "2022-01-01" for r in records
    )
    assert any(r["Owner__last_name"] for r in records)
    assert all("Owner.last_name" not in r for r in records)
    assert bodies["Leads"]["cvid"] == "4876543000000087501"
    assert all(r["Lead_Status"] != "Junk Lead" for r in run.records("Leads"))


def test_fast_record_path_writes_what_the_sdk_path_writes(org, catalog, tmp_path) -> None:
    chosen = select(catalog, {"Leads": None})
    fast = run_tap(tmp_path / "fast", tap_config(org.url), catalog=chosen)
    # an alias makes singer-sdk's own record path run; the records must not differ
    aliased = run_tap(
        tmp_path / "sdk",
        tap_config(org.url, stream_maps={"Leads": {"__alias__": "LeadsCopy"}}),
        catalog=chosen,
    )
    assert fast.returncode == aliased.returncode == 0, aliased.stderr[-2000:]
    assert fast.records("Leads") == aliased.records("LeadsCopy")
    assert len(fast.records("Leads")) == 1200
    assert fast.bookmark("Leads") == aliased.bookmark("Leads")
    record_lines = [m for m in fast.messages if m["type"] == "RECORD"]
    assert all(set(m) == {"type", "stream", "record", "time_extracted"} for m in record_lines)


def test_the_connection_test_asks_one_small_request_per_stream_and_makes_no_job(
    tmp_path: Path,
) -> None:
    """`--test` (what `meltano invoke tap-zoho-bulkread --test` runs): no bulk read job."""
    with Emulator(job_seconds=0.05, download_limit=10_000) as emu:
        modules = ["Leads", "Contacts", "Quoted_Items"]
        config = tap_config(emu.url, modules=modules, events_ics=True)
        catalog = discover(tmp_path / "d", config)
        asked_before = len(requests.get(f"{emu.url}/__emulator__/requests", timeout=10).json())
        command = [*command_line(tmp_path / "t", config, catalog), "--test"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        log = requests.get(f"{emu.url}/__emulator__/requests", timeout=10).json()[asked_before:]
    assert result.returncode == 0, result.stderr[-3000:]
    assert not [e for e in log if "/bulk/" in e["path"]]  # no job, no download
    for module in modules:
        assert f"{module}: --test read one record through the records API" in result.stderr
        assert [e for e in log if e["path"] == f"/crm/v8/{module}"], module
    records = [json.loads(line) for line in result.stdout.splitlines() if '"RECORD"' in line]
    assert {r["stream"] for r in records} >= set(modules)
