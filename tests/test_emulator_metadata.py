"""The emulator's metadata: modules and fields of CRM and Bigin."""

from __future__ import annotations

from tests.zoho_client import ZohoTestClient

ZOHO_FACTS_TYPES = {
    "text", "textarea", "email", "phone", "website", "picklist", "multiselectpicklist",
    "integer", "bigint", "double", "currency", "percent", "decimal", "boolean", "date",
    "datetime", "lookup", "ownerlookup", "userlookup", "multiselectlookup", "multiuserlookup",
    "autonumber", "formula", "rollup_summary", "fileupload", "imageupload", "profileimage",
    "subform", "event_reminder",
}  # fmt: skip
STANDARD = {"Leads", "Contacts", "Accounts", "Deals", "Tasks", "Events", "Calls", "Products"}
SYSTEM = {"Owner", "Created_Time", "Modified_Time", "Created_By", "Modified_By", "Tag"}


def modules(client: ZohoTestClient, api: str = "crm") -> dict[str, dict]:
    answer = client.get(
        f"/{api}/v8/settings/modules" if api == "crm" else "/bigin/v2/settings/modules"
    )
    assert answer.status_code == 200
    return {m["api_name"]: m for m in answer.json()["modules"]}


def fields(
    client: ZohoTestClient, module: str, api: str = "crm", version: str = "v8"
) -> list[dict]:
    answer = client.get(f"/{api}/{version}/settings/fields", params={"module": module})
    assert answer.status_code == 200, answer.text
    return answer.json()["fields"]  # type: ignore[no-any-return]


def test_crm_org_has_standard_custom_linking_and_refused_modules(shared_client) -> None:
    found = modules(shared_client)
    assert set(found) >= STANDARD
    assert {"Notes", "Attachments", "Emails"} <= set(found)
    assert any(m["generated_type"] == "custom" for m in found.values())
    assert any(m["generated_type"] == "linking" for m in found.values())
    assert any(m["generated_type"] == "subform" for m in found.values())


def test_bigin_org_has_its_own_modules(shared_client) -> None:
    found = modules(shared_client, "bigin")
    assert {"Pipelines", "Contacts", "Accounts", "Products", "Tasks", "Events", "Calls"} <= set(
        found
    )
    assert "Leads" not in found


def test_fields_cover_every_documented_data_type_and_system_fields(shared_client) -> None:
    seen: set[str] = set()
    for module in STANDARD | {"Projects"}:
        entries = fields(shared_client, module)
        seen |= {f["data_type"] for f in entries}
        assert {f["api_name"] for f in entries} >= SYSTEM, module
    assert seen >= ZOHO_FACTS_TYPES, ZOHO_FACTS_TYPES - seen


def test_one_module_has_more_than_200_fields(shared_client) -> None:
    assert len(fields(shared_client, "Wide_Records")) > 200


def test_field_entries_carry_type_details(shared_client) -> None:
    by_name = {f["api_name"]: f for f in fields(shared_client, "Contacts", version="v2")}
    assert by_name["Account_Name"]["lookup"]["module"]["api_name"] == "Accounts"
    assert by_name["Email_Opt_Out"]["json_type"] == "boolean"
    assert by_name["Tag"]["json_type"] == "jsonarray"
    leads = {f["api_name"]: f for f in fields(shared_client, "Leads")}
    assert leads["Exchange_Rate"]["decimal_place"] == 9
    assert [v["actual_value"] for v in leads["Lead_Status"]["pick_list_values"]]


def test_unknown_module_and_missing_parameter_are_errors(shared_client) -> None:
    unknown = shared_client.get("/crm/v8/settings/fields", params={"module": "Nope"})
    missing = shared_client.get("/crm/v8/settings/fields")
    assert (unknown.status_code, unknown.json()["code"]) == (400, "INVALID_MODULE")
    assert (missing.status_code, missing.json()["code"]) == (400, "REQUIRED_PARAM_MISSING")


def test_unknown_version_and_path_are_invalid_url_pattern(shared_client) -> None:
    for path in ("/crm/v9/settings/modules", "/bigin/v3/settings/modules", "/crm/nothing"):
        answer = shared_client.get(path)
        assert (answer.status_code, answer.json()["code"]) == (404, "INVALID_URL_PATTERN")
