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
    ("query", "code", "details"),
    [
        ({"module": "Nope"}, "MODULE_NOT_AVAILABLE", {"api_name": "module"}),
        ({"module": "Notes"}, "MODULE_NOT_SUPPORTED", {"api_name": "module"}),
        ({"module": "Projects_X_Users"}, "MODULE_NOT_SUPPORTED", {"api_name": "module"}),
        ({"module": "Leads", "fields": ["Last_Name", "No_Such_Field"]}, "FIELD_NOT_AVAILABLE", {"api_name": "No_Such_Field"}),
        ({"module": "Contacts", "fields": ["Linked_Deals"]}, "FIELD_NOT_SUPPORTED", {"api_name": "Linked_Deals"}),
        ({"module": "Leads", "criteria": leaf("Nope", "equal", "x")}, "FIELD_IN_CRITERIA_NOT_AVAILABLE", {"api_name": "Nope"}),
        ({"module": "Leads", "criteria": leaf("Email_Opt_Out", "not_equal", True)}, "FIELD_COMPARATOR_IN_CRITERIA_NOT_SUPPORTED", {"api_name": "Email_Opt_Out", "comparator": "not_equal"}),
        ({"module": "Leads", "criteria": leaf("No_of_Employees", "contains", 5)}, "FIELD_COMPARATOR_IN_CRITERIA_NOT_SUPPORTED", {"api_name": "No_of_Employees"}),
        ({"module": "Leads", "criteria": leaf("Owner", "greater_than", "1")}, "FIELD_COMPARATOR_IN_CRITERIA_NOT_SUPPORTED", {"api_name": "Owner"}),
        ({"module": "Leads", "criteria": leaf("Description", "contains", "x")}, "FIELD_IN_CRITERIA_NOT_SUPPORTED", {"api_name": "Description"}),
        ({"module": "Leads", "criteria": leaf("Record_Image", "equal", "x")}, "FIELD_IN_CRITERIA_NOT_SUPPORTED", {"api_name": "Record_Image"}),
        ({"module": "Leads", "criteria": leaf("Created_Time", "greater_equal", "2020-01-01T00:00:00.000+00:00")}, "VALUE_TYPE_NOT_SUPPORTED", {"api_name": "Created_Time"}),
        ({"module": "Leads", "criteria": leaf("Created_Time", "greater_equal", "2020-01-01")}, "VALUE_TYPE_NOT_SUPPORTED", {"api_name": "Created_Time"}),
        ({"module": "Leads", "criteria": leaf("Birth_Date", "equal", "2020/01/01")}, "VALUE_TYPE_NOT_SUPPORTED", {"api_name": "Birth_Date"}),
        ({"module": "Leads", "criteria": leaf("Lead_Source", "in", "Web")}, "COMPARATOR_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE", {"api_name": "Lead_Source"}),
        ({"module": "Leads", "criteria": leaf("Lead_Source", "in", [str(n) for n in range(21)])}, "VALUE_LIMIT_EXCEEDED_IN_CRITERIA", {"api_name": "Lead_Source", "limit": 20}),
        ({"module": "Leads", "criteria": {"group_operator": "and", "group": [leaf("Lead_Source", "equal", str(n)) for n in range(26)]}}, "CRITERIA_LIMIT_EXCEEDED", {"api_name": "criteria", "limit": 25}),
        ({"module": "Leads", "criteria": {"group_operator": "xor", "group": [leaf("Lead_Source", "equal", "Web")]}}, "GROUP_OPERATOR_NOT_SUPPORTED", {"api_name": "group_operator"}),
        ({"module": "Leads", "criteria": {"group_operator": "and", "group": []}}, "INVALID_CRITERIA", {"api_name": "group"}),
        ({"module": "Leads", "page": 501}, "PAGE_RANGE_EXCEEDED", {"api_name": "page", "max_limit": 500}),
        ({"module": "Leads", "page": 0}, "INVALID_DATA", {"api_name": "page"}),
        ({"module": "Leads", "cvid": "123456"}, "CVID_NOT_SUPPORTED", {"api_name": "cvid"}),
        ({"module": "Contacts", "cvid": "4876543000000087501"}, "CVID_NOT_SUPPORTED", {"api_name": "cvid"}),
    ],
)  # fmt: skip
def test_refused_job_requests(shared_client, query: dict, code: str, details: dict) -> None:
    envelope = refused(shared_client, {"query": query})
    assert envelope["code"] == code
    assert details.items() <= envelope["details"].items()


def test_a_body_without_query_or_empty_is_refused_with_the_spec_codes(shared_client) -> None:
    assert (
        refused(shared_client, {"callback": {"url": "https://x.example", "method": "post"}})["code"]
        == "MANDATORY_NOT_FOUND"
    )
    assert refused(shared_client, {})["code"] == "REQUEST_BODY_IS_EMPTY"


def test_custom_view_criteria_count_towards_the_25_limit(shared_client) -> None:
    group = [leaf("Lead_Source", "equal", str(n)) for n in range(25)]
    body = {"query": {"module": "Leads", "criteria": {"group_operator": "or", "group": group}}}
    assert shared_client.create_job(body).status_code == 201
    body["query"]["cvid"] = "4876543000000087501"
    assert refused(shared_client, body)["code"] == "CRITERIA_LIMIT_EXCEEDED"


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
    assert response.json()["code"] == "REQUEST_BODY_NOT_SUPPORTED"


def test_unknown_job_is_resource_not_found(shared_client) -> None:
    response = shared_client.get("/crm/bulk/v2/read/4876543000002999999")
    assert (response.status_code, response.json()["code"]) == (404, "RESOURCE_NOT_FOUND")
    assert response.json()["details"] == {"resource": "bulk read job"}
