"""Job requests the emulator refuses exactly where Zoho does."""

from __future__ import annotations

import pytest
import requests

from tests.zoho_client import ZohoTestClient


def refused(client: ZohoTestClient, body: dict, version: str = "v2", api: str = "crm") -> dict:
    response = client.create_job(body, api, version)
    assert response.status_code == 400, response.text
    envelope = response.json()
    assert envelope["status"] == "error"
    assert {"code", "message", "details"} <= set(envelope)
    return envelope  # type: ignore[no-any-return]


def leaf(name: str, comparator: str, value: object) -> dict:
    return {"api_name": name, "comparator": comparator, "value": value}


def test_job_without_json_content_type_is_415(shared_client) -> None:
    response = requests.post(
        f"{shared_client.url}/crm/bulk/v2/read",
        headers={**shared_client.headers(), "Content-Type": "text/plain"},
        data='{"query": {"module": "Leads"}}',
        timeout=10,
    )
    assert (response.status_code, response.json()["code"]) == (415, "MEDIA_TYPE_NOT_SUPPORTED")


def test_v2_refuses_nested_shapes_and_v8_refuses_flat_ones(shared_client) -> None:
    nested_module = {"query": {"module": {"api_name": "Leads"}}}
    assert refused(shared_client, nested_module, "v2")["details"]["api_name"] == "module"
    assert (
        refused(shared_client, {"query": {"module": "Leads"}}, "v8")["details"]["api_name"]
        == "module"
    )
    nested_leaf = {"field": {"api_name": "Lead_Source"}, "comparator": "equal", "value": "Web"}
    flat = {"query": {"module": "Leads", "criteria": nested_leaf}}
    refused(shared_client, flat, "v2")
    v8 = {
        "query": {"module": {"api_name": "Leads"}, "criteria": leaf("Lead_Source", "equal", "Web")}
    }
    refused(shared_client, v8, "v8")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"module": "Nope"}, "INVALID_DATA"),
        ({"module": "Notes"}, "NOT_SUPPORTED"),
        ({"module": "Contacts_X_Deals"}, "NOT_SUPPORTED"),
        ({"module": "Leads", "fields": ["Last_Name", "No_Such_Field"]}, "INVALID_DATA"),
        ({"module": "Contacts", "fields": ["Linked_Deals"]}, "INVALID_DATA"),
        ({"module": "Leads", "criteria": leaf("Nope", "equal", "x")}, "INVALID_DATA"),
        ({"module": "Leads", "criteria": leaf("Email_Opt_Out", "not_equal", True)}, "INVALID_DATA"),
        ({"module": "Leads", "criteria": leaf("No_of_Employees", "contains", 5)}, "INVALID_DATA"),
        ({"module": "Leads", "criteria": leaf("Owner", "greater_than", "1")}, "INVALID_DATA"),
        ({"module": "Leads", "criteria": leaf("Description", "contains", "x")}, "INVALID_DATA"),
        ({"module": "Leads", "criteria": leaf("Record_Image", "equal", "x")}, "INVALID_DATA"),
        ({"module": "Leads", "criteria": leaf("Created_Time", "greater_equal", "2020-01-01T00:00:00.000+00:00")}, "INVALID_DATA"),
        ({"module": "Leads", "criteria": leaf("Created_Time", "greater_equal", "2020-01-01")}, "INVALID_DATA"),
        ({"module": "Leads", "criteria": leaf("Birth_Date", "equal", "2020/01/01")}, "INVALID_DATA"),
        ({"module": "Leads", "criteria": leaf("Lead_Source", "in", [str(n) for n in range(21)])}, "LIMIT_EXCEEDED"),
        ({"module": "Leads", "criteria": {"group_operator": "and", "group": [leaf("Lead_Source", "equal", str(n)) for n in range(26)]}}, "LIMIT_EXCEEDED"),
        ({"module": "Leads", "criteria": {"group_operator": "xor", "group": [leaf("Lead_Source", "equal", "Web")]}}, "INVALID_DATA"),
        ({"module": "Leads", "page": 501}, "INVALID_DATA"),
        ({"module": "Leads", "page": 0}, "INVALID_DATA"),
        ({"module": "Leads", "cvid": "123456"}, "INVALID_DATA"),
        ({"module": "Contacts", "cvid": "4876543000000087501"}, "INVALID_DATA"),
    ],
)  # fmt: skip
def test_refused_job_requests(shared_client, query: dict, code: str) -> None:
    assert refused(shared_client, {"query": query})["code"] == code


def test_custom_view_criteria_count_towards_the_25_limit(shared_client) -> None:
    group = [leaf("Lead_Source", "equal", str(n)) for n in range(25)]
    body = {"query": {"module": "Leads", "criteria": {"group_operator": "or", "group": group}}}
    assert shared_client.create_job(body).status_code == 201
    body["query"]["cvid"] = "4876543000000087501"
    assert refused(shared_client, body)["code"] == "LIMIT_EXCEEDED"


def test_page_token_is_refused_before_v7_and_unknown_tokens_after(shared_client) -> None:
    refused(shared_client, {"query": {"module": "Leads", "page_token": "abc"}}, "v6")
    body = {"query": {"module": {"api_name": "Leads"}, "page_token": "not-a-token"}}
    assert refused(shared_client, body, "v8")["details"]["api_name"] == "page_token"


def test_ics_export_only_for_events_and_without_fields(shared_client) -> None:
    assert refused(shared_client, {"query": {"module": "Leads"}, "file_type": "ics"})
    body = {"query": {"module": "Events", "fields": ["Event_Title"]}, "file_type": "ics"}
    assert refused(shared_client, body)["code"] == "FIELDS_NOT_SUPPORTED"


def test_invalid_json_body_is_refused(shared_client) -> None:
    response = requests.post(
        f"{shared_client.url}/crm/bulk/v2/read",
        headers={**shared_client.headers(), "Content-Type": "application/json"},
        data="{not json",
        timeout=10,
    )
    assert response.status_code == 400


def test_unknown_job_is_resource_not_found(shared_client) -> None:
    response = shared_client.get("/crm/bulk/v2/read/4876543000002999999")
    assert (response.status_code, response.json()["code"]) == (404, "RESOURCE_NOT_FOUND")
