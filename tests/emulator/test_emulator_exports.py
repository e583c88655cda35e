"""What completed jobs export: criteria semantics, pages, the CSV's real-world quirks, samples."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tests.zoho_client import ZohoTestClient, ground_truth, parse_csv, zip_member
from zoho_bulkread_emulator import Emulator

# The request bodies of Zoho's "Create Bulk Read Job" reference page, verbatim.
SAMPLE_BODIES = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "zoho_sample_job_bodies.json").read_text()
)
LEAD_FIELDS = [
    "Last_Name", "Lead_Source", "No_of_Employees", "Annual_Revenue", "Email_Opt_Out",
    "Birth_Date", "Created_Time", "Owner", "Owner.last_name", "Interests", "Email",
]  # fmt: skip
Row = dict[str, str]


@pytest.fixture(scope="module")
def all_leads(shared_client: ZohoTestClient) -> list[Row]:
    _, rows = shared_client.export({"query": {"module": "Leads", "fields": LEAD_FIELDS}})
    return rows


def leaf(name: str, comparator: str, value: object) -> dict:
    return {"api_name": name, "comparator": comparator, "value": value}


def ids(rows: list[Row]) -> set[str]:
    return {row["Id"] for row in rows}


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


CASES: list[tuple[dict, Callable[[Row], bool]]] = [
    (leaf("Lead_Source", "equal", "Web"), lambda r: r["Lead_Source"] == "Web"),
    (leaf("Lead_Source", "not_equal", "Web"), lambda r: r["Lead_Source"] != "Web"),
    (leaf("Lead_Source", "in", ["Web", "Partner"]), lambda r: r["Lead_Source"] in ("Web", "Partner")),
    (leaf("Lead_Source", "not_in", ["Web", "Partner"]), lambda r: r["Lead_Source"] not in ("Web", "Partner")),
    (leaf("Email", "contains", "acme"), lambda r: "acme" in r["Email"]),
    (leaf("Email", "not_contains", "acme"), lambda r: "acme" not in r["Email"]),
    (leaf("Email", "starts_with", "hooli"), lambda r: r["Email"].startswith("hooli")),
    (leaf("Email", "ends_with", "7@example.com"), lambda r: r["Email"].endswith("7@example.com")),
    (leaf("Lead_Source", "equal", "${EMPTY}"), lambda r: r["Lead_Source"] == ""),
    (leaf("Lead_Source", "not_equal", "${EMPTY}"), lambda r: r["Lead_Source"] != ""),
    (leaf("No_of_Employees", "greater_than", 50000), lambda r: r["No_of_Employees"] != "" and int(r["No_of_Employees"]) > 50000),
    (leaf("No_of_Employees", "less_equal", 1000), lambda r: r["No_of_Employees"] != "" and int(r["No_of_Employees"]) <= 1000),
    (leaf("No_of_Employees", "in", [r for r in range(0, 100000, 7)][:20]), lambda r: r["No_of_Employees"] != "" and int(r["No_of_Employees"]) in range(0, 140, 7)),
    (leaf("Annual_Revenue", "greater_equal", "50000.50"), lambda r: r["Annual_Revenue"] != "" and Decimal(r["Annual_Revenue"]) >= Decimal("50000.50")),
    (leaf("Annual_Revenue", "less_than", 100), lambda r: r["Annual_Revenue"] != "" and Decimal(r["Annual_Revenue"]) < 100),
    (leaf("Email_Opt_Out", "equal", True), lambda r: r["Email_Opt_Out"] == "true"),
    (leaf("Email_Opt_Out", "equal", "false"), lambda r: r["Email_Opt_Out"] == "false"),
    (leaf("Birth_Date", "between", ["2019-01-01", "2020-12-31"]), lambda r: "2019-01-01" <= r["Birth_Date"] <= "2020-12-31" and r["Birth_Date"] != ""),
    (leaf("Birth_Date", "not_between", ["2019-01-01", "2020-12-31"]), lambda r: r["Birth_Date"] == "" or not "2019-01-01" <= r["Birth_Date"] <= "2020-12-31"),
    (leaf("Birth_Date", "less_than", "2019-01-01"), lambda r: r["Birth_Date"] != "" and r["Birth_Date"] < "2019-01-01"),
    (leaf("Created_Time", "greater_equal", "2023-03-12T02:30:00+05:30"), lambda r: when(r["Created_Time"]) >= when("2023-03-12T02:30:00+05:30")),
    (leaf("Created_Time", "between", ["2021-01-01T00:00:00-08:00", "2021-12-31T23:59:59-08:00"]), lambda r: when("2021-01-01T00:00:00-08:00") <= when(r["Created_Time"]) <= when("2021-12-31T23:59:59-08:00")),
    (leaf("Owner", "equal", "4876543000000186017"), lambda r: r["Owner"] == "4876543000000186017"),
    (leaf("Owner", "not_in", ["4876543000000186017", "4876543000000186029"]), lambda r: r["Owner"] not in ("4876543000000186017", "4876543000000186029")),
    (leaf("Owner.last_name", "equal", "Boyle"), lambda r: r["Owner.last_name"] == "Boyle"),
    (leaf("Interests", "contains", "CRM"), lambda r: "CRM" in r["Interests"]),
    (
        {"group_operator": "or", "group": [
            {"group_operator": "and", "group": [leaf("Lead_Source", "equal", "Web"), leaf("Email_Opt_Out", "equal", False)]},
            leaf("Owner.last_name", "equal", "Chen"),
        ]},
        lambda r: (r["Lead_Source"] == "Web" and r["Email_Opt_Out"] == "false") or r["Owner.last_name"] == "Chen",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("criteria", "expected"), CASES)
def test_criteria_select_exactly_the_matching_records(
    shared_client: ZohoTestClient, all_leads: list[Row], criteria: dict, expected: Callable
) -> None:
    body = {"query": {"module": "Leads", "fields": ["Last_Name"], "criteria": criteria}}
    _, rows = shared_client.export(body)
    wanted = ids([row for row in all_leads if expected(row)])
    assert wanted, "the case must select something to be meaningful"
    assert wanted != ids(all_leads), "the case must leave something out to be meaningful"
    assert ids(rows) == wanted


def test_v8_nested_shapes_select_the_same_records(shared_client, all_leads) -> None:
    criteria = {
        "group_operator": "and",
        "group": [
            {"field": {"api_name": "Lead_Source"}, "comparator": "equal", "value": "Web"},
            {"field": {"api_name": "Owner.last_name"}, "comparator": "not_equal", "value": "Boyle"},
        ],
    }
    body = {
        "query": {"module": {"api_name": "Leads"}, "fields": ["Last_Name"], "criteria": criteria}
    }
    _, rows = shared_client.export(body, version="v8")
    assert ids(rows) == {
        r["Id"] for r in all_leads if r["Lead_Source"] == "Web" and r["Owner.last_name"] != "Boyle"
    }


def test_lookup_dot_fields_resolve_to_the_parent_record(shared_client) -> None:
    _, accounts = shared_client.export(
        {"query": {"module": "Accounts", "fields": ["Account_Name", "Phone"]}}
    )
    by_id = {row["Id"]: row for row in accounts}
    fields = ["Account_Name", "Account_Name.Account_Name", "Account_Name.Phone"]
    _, contacts = shared_client.export({"query": {"module": "Contacts", "fields": fields}})
    linked = [row for row in contacts if row["Account_Name"]]
    assert linked
    for row in linked:
        assert row["Account_Name.Account_Name"] == by_id[row["Account_Name"]]["Account_Name"]
        assert row["Account_Name.Phone"] == by_id[row["Account_Name"]]["Phone"]


def test_custom_view_applies_its_stored_criteria(shared_client, all_leads) -> None:
    body = {"query": {"module": "Leads", "cvid": "4876543000000087501", "fields": ["Lead_Source"]}}
    _, rows = shared_client.export(body)
    status_rows = shared_client.export({"query": {"module": "Leads", "fields": ["Lead_Status"]}})[1]
    assert ids(rows) == {r["Id"] for r in status_rows if r["Lead_Status"] != "Junk Lead"}


def test_csv_is_written_like_a_real_export(shared_client) -> None:
    body = {
        "query": {
            "module": "Leads",
            "fields": [
                "Last_Name",
                "Description",
                "Interests",
                "Tag",
                "Email_Opt_Out",
                "Created_Time",
                "Exchange_Rate",
                "First_Name",
            ],
        }
    }
    created = shared_client.create_job(body).json()["data"][0]["details"]["id"]
    status = shared_client.wait(created)
    raw = zip_member(shared_client.download(status["result"]["download_url"]), f"{created}.csv")
    assert not raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8")
    header = text.split("\r\n", 1)[0].split(",")
    assert header[0] == "Id"
    assert {"Locked__s", "Record_Approval_Status", "$converted"} <= set(header)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert all(re.fullmatch(r"\d{19}", r["Id"]) for r in rows)
    assert ids(rows) and [r["Id"] for r in rows] == sorted(r["Id"] for r in rows)
    descriptions = [r["Description"] for r in rows]
    assert any("\r\n" in d for d in descriptions) and any(
        "\n" in d and "\r" not in d for d in descriptions
    )
    assert any('"' in d for d in descriptions)
    assert any(";" in r["Interests"] for r in rows)
    assert any("," in r["Tag"] for r in rows)
    assert {r["Email_Opt_Out"] for r in rows} == {"true", "false", ""}
    assert any(r["First_Name"] == "" for r in rows)
    offsets = {r["Created_Time"][-6:] for r in rows}
    assert offsets == {"-08:00", "-07:00"}
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", r["Created_Time"])
        for r in rows
    )
    assert any(
        len(r["Exchange_Rate"].split(".")[1]) == 9 for r in rows if "." in r["Exchange_Rate"]
    )
    # records are sorted by id, not by time: imported data is older than smaller ids
    times = [when(r["Created_Time"]) for r in rows]
    assert times != sorted(times)


def test_more_than_200_fields_exports_every_field(shared_client) -> None:
    names = [f"Field_{n:03d}" for n in range(1, 202)]
    _, rows = shared_client.export({"query": {"module": "Wide_Records", "fields": names}})
    assert len(rows[0]) > 230
    _, few = shared_client.export({"query": {"module": "Wide_Records", "fields": names[:3]}})
    assert set(few[0]) == {
        "Id",
        *names[:3],
        "Locked__s",
        "Record_Approval_Status",
        "Change_Log_Time__s",
    }


def test_v2_pages_partition_the_matches() -> None:
    with Emulator(job_seconds=0, per_page=100, records={("crm", "Calls"): 250}) as emu:
        client = ZohoTestClient(emu.url)
        pages = []
        for page in (1, 2, 3):
            status, rows = client.export(
                {"query": {"module": "Calls", "fields": ["Subject"], "page": page}}
            )
            pages.append((status["result"], rows))
        truth = ground_truth(emu.url, "Calls")
    assert [(r["page"], r["count"], r["more_records"]) for r, _ in pages] == [
        (1, 100, True),
        (2, 100, True),
        (3, 50, False),
    ]
    exported = [row["Id"] for _, rows in pages for row in rows]
    assert sorted(exported) == sorted(t["id"] for t in truth)
    assert len(set(exported)) == 250


def test_v8_page_tokens_walk_through_every_match() -> None:
    with Emulator(job_seconds=0, per_page=100, records={("crm", "Calls"): 250}) as emu:
        client = ZohoTestClient(emu.url)
        criteria = {
            "field": {"api_name": "Call_Type"},
            "comparator": "not_equal",
            "value": "Missed",
        }
        query: dict = {
            "module": {"api_name": "Calls"},
            "fields": ["Call_Type"],
            "criteria": criteria,
        }
        exported: list[Row] = []
        results = []
        while True:
            status, rows = client.export({"query": query}, version="v8")
            exported += rows
            results.append(status["result"])
            if not status["result"]["more_records"]:
                break
            query = {**query, "page_token": status["result"]["next_page_token"]}
        everything = [
            row
            for page in (1, 2, 3)
            for row in client.export(
                {"query": {"module": "Calls", "fields": ["Call_Type"], "page": page}}
            )[1]
        ]
        other_query = {"module": {"api_name": "Calls"}, "page_token": results[0]["next_page_token"]}
        mismatch = client.create_job({"query": other_query}, version="v8")
    assert all(r["more_records"] for r in results[:-1]) and "next_page_token" not in results[-1]
    assert [r["page"] for r in results] == list(range(1, len(results) + 1))
    assert ids(exported) == {r["Id"] for r in everything if r["Call_Type"] != "Missed"}
    assert len(exported) == len(ids(exported))
    assert mismatch.status_code == 400


def test_reference_sample_with_lookup_fields_completes_and_records_callback(
    shared_client, shared_emulator
) -> None:
    body = SAMPLE_BODIES["lookup_fields"]
    assert body["callback"]["url"] == "https://www.example.com/callback"
    status, rows = shared_client.export(body)
    assert status["query"] == body["query"]
    assert rows and set(body["query"]["fields"]) <= set(rows[0])
    log = (
        ZohoTestClient(shared_emulator.url)
        .session.get(f"{shared_emulator.url}/__emulator__/requests")
        .json()
    )
    job_entries = [e for e in log if e.get("body") == body]
    assert job_entries[0]["callback"] == {
        "url": "https://www.example.com/callback",
        "called": False,
    }


def test_reference_sample_ics_export_completes_with_an_ics_file(shared_client) -> None:
    body = SAMPLE_BODIES["ics_events"]
    job_id = shared_client.create_job(body).json()["data"][0]["details"]["id"]
    status = shared_client.wait(job_id)
    assert status["state"] == "COMPLETED"
    ics = zip_member(shared_client.download(status["result"]["download_url"]), f"{job_id}.ics")
    # one VEVENT per record, plus one per edited occurrence of a recurring event
    edited = ics.count(b"\r\nRECURRENCE-ID")
    assert ics.startswith(b"BEGIN:VCALENDAR\r\n") and ics.endswith(b"END:VCALENDAR\r\n")
    assert ics.count(b"BEGIN:VEVENT") - edited == status["result"]["count"] > 0
    assert edited > 0 and ics.count(b"\r\nRRULE:") > 0
    assert max(len(line) for line in ics.split(b"\r\n")) <= 75


def test_parse_csv_helper_rejects_a_second_member() -> None:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("1.csv", "Id\r\n1\r\n")
        archive.writestr("2.csv", "Id\r\n2\r\n")
    with pytest.raises(AssertionError):
        parse_csv(buffer.getvalue(), "1")
