"""Child data end to end: subform rows, linking rows and Events as ICS, against the ground truth."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.tap_runner import (
    TapRun,
    checkpoint_at,
    discover,
    job_bodies,
    last_state,
    run_tap,
    run_until,
    select,
    tap_config,
)
from zoho_bulkread_emulator import Emulator

CHILDREN = ["Quoted_Items", "Project_Milestones", "Price_Tiers", "Contacts_X_Deals"]
PARENTS = ["Quotes", "Projects", "Products", "Contacts", "Deals"]
# child stream -> the Zoho fields (dot fields included) whose values the test compares
COMPARED = {
    "Quoted_Items": [
        "Parent_Id", "Parent_Id.Subject", "Product_Name", "Product_Name.Product_Name",
        "Quantity", "List_Price", "Discount", "Total", "Description",
    ],
    "Project_Milestones": ["Parent_Id", "Parent_Id.Name", "Milestone", "Due_On", "Done", "Weight"],
    "Price_Tiers": ["Parent_Id", "Parent_Id.Product_Name", "Tier_Price", "Min_Qty"],
    "Contacts_X_Deals": ["Contact", "Deal", "Contact.Last_Name", "Deal.Deal_Name", "Owner"],
}  # fmt: skip


def truth(url: str, module: str, fields: list[str] = []) -> dict[str, dict[str, Any]]:  # noqa: B006
    """The emulator's own records of ``module``, by id, with ``fields`` (dot fields too)."""
    answer = requests.get(
        f"{url}/__emulator__/records/{module}", params={"fields": ",".join(fields)}, timeout=30
    )
    answer.raise_for_status()
    rows = [json.loads(line) for line in answer.text.splitlines()]
    return {row["id"]: row for row in rows}


def same_value(emitted: Any, expected: Any) -> bool:
    """A tap value equals the ground truth's (decimals exactly, as JSON numbers)."""
    if isinstance(emitted, float | int) and not isinstance(emitted, bool) and expected is not None:
        return Decimal(str(emitted)) == Decimal(str(expected))
    return bool(emitted == expected)


def activate_versions(run: TapRun, stream: str) -> list[int]:
    return [m["version"] for m in run.messages if m["type"] == "ACTIVATE_VERSION" and m["stream"] == stream]  # fmt: skip


@pytest.fixture(scope="module")
def child_org() -> Any:
    """An emulator paging every 100 rows, so child exports span several pages."""
    with Emulator(job_seconds=0.0, per_page=100, download_limit=100_000) as emu:
        yield emu


def test_discovery_makes_child_modules_streams_and_parents_point_to_them(
    tmp_path: Path, child_org: Emulator
) -> None:
    catalog = discover(tmp_path, tap_config(child_org.url))
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert set(CHILDREN) | {"Projects_X_Users"} <= set(streams)
    items = streams["Quoted_Items"]["schema"]["properties"]
    assert {"id", "Parent_Id", "Parent_Id__Subject", "Product_Name__Product_Name"} <= set(items)
    assert items["Parent_Id"]["type"] == ["string", "null"]
    links = streams["Contacts_X_Deals"]["schema"]["properties"]
    assert {"Contact", "Deal", "Contact__Last_Name", "Deal__Deal_Name"} <= set(links)
    # child streams are FULL_TABLE, with or without Created_Time: edits and removals arrive
    assert streams["Quoted_Items"]["replication_method"] == "FULL_TABLE"
    assert streams["Price_Tiers"]["replication_method"] == "FULL_TABLE"
    assert streams["Quotes"]["replication_method"] == "INCREMENTAL"
    assert "zoho_table_version" in items and "zoho_table_version" in links
    assert "zoho_table_version" not in streams["Quotes"]["schema"]["properties"]
    quotes = streams["Quotes"]["schema"]
    assert "Quoted_Items" not in quotes["properties"]
    assert "Quoted_Items -> stream Quoted_Items" in quotes["description"]
    assert "Linked_Deals -> stream Contacts_X_Deals" in streams["Contacts"]["schema"]["description"]
    assert streams["Quoted_Items"]["schema"]["description"].startswith(
        "Zoho subform module of Quotes"
    )
    # each dot field is a property of its own, selectable one by one
    dot = [
        m
        for m in streams["Quoted_Items"]["metadata"]
        if m["breadcrumb"] == ["properties", "Parent_Id__Subject"]
    ]
    assert dot and dot[0]["metadata"]["inclusion"] == "available"


def test_child_streams_equal_the_ground_truth_and_join_their_parents(
    tmp_path: Path, child_org: Emulator
) -> None:
    url = child_org.url
    config = tap_config(url, modules=[*PARENTS, *CHILDREN, "Projects_X_Users"])
    catalog = discover(tmp_path, config)
    chosen = {name: None for name in [*CHILDREN, "Projects_X_Users"]}
    run = run_tap(
        tmp_path / "run",
        config,
        catalog=select(catalog, {**chosen, "Quotes": ["Subject"], "Projects": ["Name"]}),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    for stream, fields in COMPARED.items():
        expected = truth(url, stream, fields)
        records = run.records(stream)
        assert len(records) == len(expected) > 100, stream  # several pages of 100
        assert {r["id"] for r in records} == set(expected), stream
        for record in records:
            row = expected[record["id"]]
            for name in fields:
                prop = name.replace(".", "__")
                assert same_value(record[prop], row[name]), (stream, prop, record, row)
        if "Created_Time" in records[0]:
            assert all(r["Created_Time"] == expected[r["id"]]["Created_Time"] for r in records)
    # subform rows join their parents on Parent_Id
    quotes = {r["id"]: r for r in run.records("Quotes")}
    assert all(item["Parent_Id"] in quotes for item in run.records("Quoted_Items"))
    assert all(
        item["Parent_Id__Subject"] == quotes[item["Parent_Id"]]["Subject"]
        for item in run.records("Quoted_Items")
    )
    projects = {r["id"] for r in run.records("Projects")}
    assert all(row["Parent_Id"] in projects for row in run.records("Project_Milestones"))
    # the export asked for the dot fields, without a criterion (full table), page after page
    bodies = [b for b in job_bodies(url) if b["query"]["module"]["api_name"] == "Quoted_Items"]
    assert len(bodies) == 6 and not any("criteria" in b["query"] for b in bodies)
    assert "Parent_Id.Subject" in bodies[0]["query"]["fields"]
    assert "zoho_table_version" not in bodies[0]["query"]["fields"]  # the tap's, not Zoho's
    # every row of a full-table child carries its message's version, the one activated
    for stream in ("Quoted_Items", "Contacts_X_Deals"):
        (version,) = activate_versions(run, stream)
        rows = [m for m in run.messages if m["type"] == "RECORD" and m["stream"] == stream]
        assert {(m["version"], m["record"]["zoho_table_version"]) for m in rows} == {
            (version, version)
        }
    # Price_Tiers has no Created_Time/Modified_Time: FULL_TABLE, closed by ACTIVATE_VERSION
    tiers = [m for m in run.messages if m.get("stream") == "Price_Tiers"]
    versions = activate_versions(run, "Price_Tiers")
    assert len(versions) == 1 and tiers[-1]["type"] == "ACTIVATE_VERSION"
    assert {m["version"] for m in tiers if m["type"] == "RECORD"} == set(versions)
    assert "criteria" not in next(b for b in job_bodies(url) if "Price_Tiers" in str(b))["query"]
    # a child module Zoho refuses is a warning, and the run goes on
    assert run.records("Projects_X_Users") == []
    assert "Projects_X_Users: Zoho does not export this module through bulk read" in run.stderr
    # ... said once, and with no SCHEMA for it: a target makes no empty table
    assert run.stderr.count("Projects_X_Users: Zoho does not export") == 1
    assert "no job created ahead" not in run.stderr
    assert not [
        m for m in run.messages if m["type"] == "SCHEMA" and m["stream"] == "Projects_X_Users"
    ]


def test_a_child_stream_is_incremental_on_its_own_replication_key(tmp_path: Path) -> None:
    """Only the child's own module_settings entry makes it incremental, not the tap-wide key."""
    with Emulator(job_seconds=0.0, download_limit=100_000) as emu:
        config = tap_config(
            emu.url,
            modules=["Quoted_Items", "Quotes", "Products"],
            replication_key="Created_Time",
            module_settings={"Quoted_Items": {"replication_key": "Created_Time"}},
        )
        catalog = select(discover(tmp_path, config), {"Quoted_Items": None})
        first = run_tap(tmp_path / "first", config, catalog=catalog)
        added = requests.post(
            f"{emu.url}/__emulator__/mutate",
            json={"module": "Quoted_Items", "create": 3},
            timeout=10,
        ).json()["created"]
        second = run_tap(tmp_path / "second", config, catalog=catalog, state=first.final_state)
    assert first.returncode == 0 and second.returncode == 0, second.stderr[-2000:]
    assert len(first.ids("Quoted_Items")) == 520
    again = set(second.ids("Quoted_Items")) - set(added)  # rows of the bookmark's own second
    assert set(added) <= set(second.ids("Quoted_Items")) and len(again) < 3
    rows = {r["id"]: r for r in first.records("Quoted_Items")}
    assert all(rows[i]["Created_Time"] == first.bookmark("Quoted_Items") for i in again)
    assert second.bookmark("Quoted_Items") > first.bookmark("Quoted_Items")  # type: ignore[operator]


def test_a_resumed_full_table_export_keeps_its_version_so_no_row_is_dropped(
    tmp_path: Path,
) -> None:
    records = {("crm", "Price_Tiers"): 450}
    with Emulator(job_seconds=0.1, per_page=100, records=records, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=["Price_Tiers", "Products"])
        catalog = select(discover(tmp_path, config), {"Price_Tiers": None})
        first = run_until(tmp_path / "first", config, catalog, checkpoint_at(3))
        second = run_tap(tmp_path / "second", config, catalog=catalog, state=last_state(first))
        expected = set(truth(emu.url, "Price_Tiers"))
    assert second.returncode == 0, second.stderr[-2000:]
    before = [m for m in first if m["type"] == "RECORD"]
    assert before and "ACTIVATE_VERSION" not in {m["type"] for m in first}
    (version,) = activate_versions(second, "Price_Tiers")
    # rows of the first run's pages carry the version the resumed run activates
    assert {m["version"] for m in before} == {version}
    assert {m["record"]["id"] for m in before} | set(second.ids("Price_Tiers")) == expected


def test_events_as_ics_equal_the_ground_truth_field_by_field(tmp_path: Path) -> None:
    records = {("crm", "Events"): 700}
    with Emulator(job_seconds=0.0, per_page=250, records=records, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=["Events"], events_ics=True)
        catalog = discover(tmp_path, config)
        assert "Events_ICS" in [s["tap_stream_id"] for s in catalog["streams"]]
        run = run_tap(tmp_path / "run", config, catalog=select(catalog, {"Events_ICS": None}))
        lines = requests.get(f"{emu.url}/__emulator__/ics_events", timeout=30).text.splitlines()
        bodies = job_bodies(emu.url)
    assert run.returncode == 0, run.stderr[-3000:]
    expected = [json.loads(line) for line in lines]
    emitted = run.records("Events_ICS")
    assert len(emitted) == len(expected) > 700  # a VEVENT per event, plus edited occurrences
    for record, event in zip(emitted, expected, strict=True):
        own = ("id", "vevent", "zoho_table_version")  # the tap's, not the event's
        assert {k: v for k, v in record.items() if k not in own} == event
        assert record["id"] == (
            event["uid"] + (f"/{event['recurrence_id']}" if event["recurrence_id"] else "")
        )
        assert record["vevent"].startswith("BEGIN:VEVENT\r\n")
    assert len({r["id"] for r in emitted}) == len(emitted)
    # recurring series, edited occurrences, all-day events, folded non-ASCII text all occur
    assert any(r["rrule"] for r in emitted) and any(r["recurrence_id"] for r in emitted)
    assert any(r["all_day"] for r in emitted) and any(not r["all_day"] for r in emitted)
    assert any("\\" in (r["location"] or "") and "é" in r["location"] for r in emitted)
    assert any("," in (r["description"] or "") and "\n" in r["description"] for r in emitted)
    assert [b["file_type"] for b in bodies] == ["ics"] * 3  # 700 events, 250 a page
    assert all("fields" not in b["query"] for b in bodies)
    assert activate_versions(run, "Events_ICS") and run.messages[-1]["type"] == "STATE"
    assert {r["zoho_table_version"] for r in emitted} == set(activate_versions(run, "Events_ICS"))


GOOD_EVENT = "BEGIN:VEVENT\r\nUID:1@zoho.com\r\nDTSTART:20240704T100000Z\r\nEND:VEVENT\r\n"


@pytest.mark.parametrize(
    ("text", "member", "message"),
    [
        ("BEGIN:VCALENDAR\r\n" + GOOD_EVENT.replace("20240704T", "2024XX04T") + "END:VCALENDAR\r\n", "1.ics", "DTSTART cannot be read"),
        ("BEGIN:VCALENDAR\r\n" + GOOD_EVENT.replace("UID:1@zoho.com\r\n", "") + "END:VCALENDAR\r\n", "1.ics", "has no UID"),
        ("BEGIN:VCALENDAR\r\n" + GOOD_EVENT, "1.ics", "breaks off at line 5 before END:VCALENDAR"),
        ("Id,Last_Name\r\n1,Ada\r\n", "1.ics", "not an iCalendar file"),
        ("BEGIN:VCALENDAR\r\n" + GOOD_EVENT + "END:VCALENDAR\r\n", "1.csv", "not a plain ICS name"),
        ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n" + ("X-PAD:" + "a" * 100 + "\r\n") * 50_000, "1.ics", "a VEVENT over 4 MiB"),
        # a zip of blank lines by the million (it cost minutes of CPU before the inflation bound)
        ("BEGIN:VCALENDAR\r\n" + "\r\n" * 5_000_000 + GOOD_EVENT + "END:VCALENDAR\r\n", "1.ics", "over 1000 lines outside any component near line 1002"),
    ],
)  # fmt: skip
def test_a_damaged_ics_file_is_refused_in_one_line(
    tmp_path: Path, text: str, member: str, message: str
) -> None:
    import zipfile

    from tap_zoho_bulkread.bulk.ics import ics_records
    from tap_zoho_bulkread.errors import ExportFileError

    path = tmp_path / "page.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, text)
    with pytest.raises(ExportFileError, match=message) as caught:
        list(ics_records(path, "4876543000002001001", "Events_ICS"))
    assert "\n" not in str(caught.value) and "job 4876543000002001001" in str(caught.value)
