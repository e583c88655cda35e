"""The emulator's Query API against Zoho's documented COQL rules.

Expected values come from Zoho's COQL pages (50 columns, 25 criteria, in up to 50 values,
brackets past two criteria, LIMIT 2,000, 100,000 records by OFFSET, ORDER BY up to 10 fields,
image upload fields not supported, multi-line fields not in criteria) and from the emulator's
ground truth, never from the COQL code itself.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.zoho_client import ZohoTestClient, ground_truth
from zoho_bulkread_emulator import Emulator


def coql(client: ZohoTestClient, query: str, product: str = "crm", version: str = "v8") -> Any:
    return client.session.post(
        f"{client.url}/{product}/{version}/coql",
        headers=client.headers(),
        json={"select_query": query},
        timeout=30,
    )


def refusal(answer: requests.Response) -> tuple[int, str]:
    return answer.status_code, answer.json()["code"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("select " + ", ".join(f"F{n}" for n in range(51)) + " from Leads", "LIMIT_EXCEEDED"),
        ("select id, id from Leads where id is not null", "DUPLICATE_DATA"),
        ("select id from Leads where id is not null limit 2001", "LIMIT_EXCEEDED"),
        ("select id from Leads where id is not null limit 99000, 2000", "LIMIT_EXCEEDED"),
        (
            "select id from Leads where Lead_Status in ("
            + ", ".join(f"'s{n}'" for n in range(51))
            + ")",
            "LIMIT_EXCEEDED",
        ),
        (
            "select id from Leads where Last_Name is not null and Email is not null "
            "and id is not null",
            "SYNTAX_ERROR",
        ),
        ("select id from Leads where Description = 'x'", "INVALID_QUERY"),
        ("select Record_Image from Products where id is not null", "INVALID_QUERY"),
        ("select Nope from Leads where id is not null", "INVALID_QUERY"),
        ("select id from Nope where id is not null", "INVALID_QUERY"),
        ("select id from Leads where Created_Time >= '2024-01-01'", "INVALID_QUERY"),
        ("select id from Leads where", "SYNTAX_ERROR"),
        ("delete from Leads", "SYNTAX_ERROR"),
        (
            "select id from Leads where id is not null order by "
            + ", ".join(
                [
                    "id",
                    "Created_Time",
                    "Modified_Time",
                    "Last_Name",
                    "First_Name",
                    "Email",
                    "Phone",
                    "Company",
                    "Industry",
                    "Lead_Status",
                    "Lead_Source",
                ]
            ),
            "LIMIT_EXCEEDED",
        ),
    ],
    ids=[
        "51-columns",
        "same-column-twice",
        "limit-2001",
        "past-100000",
        "in-51-values",
        "three-unbracketed",
        "textarea-criterion",
        "image-upload",
        "unknown-column",
        "unknown-module",
        "datetime-without-time",
        "no-criterion",
        "not-a-select",
        "11-order-by",
    ],
)
def test_what_zoho_documents_as_refused_is_refused_with_its_code(
    shared_client: ZohoTestClient, query: str, code: str
) -> None:
    status, answered = refusal(coql(shared_client, query))
    assert status == 400 and answered == code


def test_25_criteria_in_brackets_of_two_are_accepted(shared_client: ZohoTestClient) -> None:
    clause = "id is not null"
    for _ in range(24):
        clause = f"({clause}) and (id is not null)"
    answer = coql(shared_client, f"select id from Leads where {clause} limit 5")
    assert answer.status_code == 200
    clause = f"({clause}) and (id is not null)"
    assert refusal(coql(shared_client, f"select id from Leads where {clause} limit 5")) == (
        400,
        "LIMIT_EXCEEDED",
    )


def test_pages_by_limit_and_offset_cover_a_criterion_once_in_order(
    shared_client: ZohoTestClient,
) -> None:
    since = "2025-01-01T00:00:00+00:00"
    truth = sorted(
        (row["Modified_Time"], int(row["id"]))
        for row in ground_truth(shared_client.url, "Leads")
        if row["Modified_Time"] >= since
    )
    seen: list[str] = []
    offset = 0
    while True:
        answer = coql(
            shared_client,
            f"select id, Modified_Time from Leads where Modified_Time >= '{since}' "
            f"order by Modified_Time asc, id asc limit {offset}, 100",
        )
        assert answer.status_code == 200
        body = answer.json()
        seen += [row["id"] for row in body["data"]]
        assert body["info"]["count"] == len(body["data"])
        if not body["info"]["more_records"]:
            break
        offset += 100
    assert seen == [str(record_id) for _, record_id in truth]


def test_nothing_matching_is_204_and_a_subform_module_can_be_queried(
    shared_client: ZohoTestClient,
) -> None:
    nothing = coql(
        shared_client, "select id from Leads where Created_Time >= '2099-01-01T00:00:00+00:00'"
    )
    assert nothing.status_code == 204 and nothing.content == b""
    items = coql(
        shared_client, "select id, Parent_Id from Quoted_Items where id is not null limit 2000"
    )
    assert items.status_code == 200
    truth = {row["id"] for row in ground_truth(shared_client.url, "Quoted_Items")}
    assert {row["id"] for row in items.json()["data"]} == truth
    assert all(set(row["Parent_Id"]) == {"id"} for row in items.json()["data"])


def test_a_dot_field_holds_the_looked_up_records_value(shared_client: ZohoTestClient) -> None:
    answer = coql(
        shared_client,
        "select id, Account_Name, Account_Name.Account_Name from Contacts "
        "where Account_Name is not null limit 50",
    )
    accounts = coql(
        shared_client, "select id, Account_Name from Accounts where id is not null limit 2000"
    )
    names = {row["id"]: row["Account_Name"] for row in accounts.json()["data"]}
    rows = answer.json()["data"]
    assert rows and all(
        row["Account_Name.Account_Name"] == names[row["Account_Name"]["id"]] for row in rows
    )


def test_the_query_api_needs_the_coql_scope() -> None:
    with Emulator(scopes=("ZohoCRM.bulk.read", "ZohoCRM.modules.ALL")) as emu:
        answer = coql(ZohoTestClient(emu.url), "select id from Leads where id is not null")
    assert refusal(answer) == (401, "OAUTH_SCOPE_MISMATCH")


def test_bigin_has_the_query_api_too(shared_client: ZohoTestClient) -> None:
    answer = coql(
        shared_client, "select id from Contacts where id is not null limit 3", "bigin", "v2"
    )
    assert answer.status_code == 200 and len(answer.json()["data"]) == 3
