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


def test_modules_carry_the_v8_keys_with_unique_ids_and_parents(shared_client) -> None:
    found = modules(shared_client)
    for entry in found.values():
        for key in ("id", "status", "visibility", "parent_module", "sequence_number", "viewable",
                    "api_supported", "generated_type", "access_type", "profiles"):  # fmt: skip
            assert key in entry, (entry["api_name"], key)
    ids = [m["id"] for m in found.values()]
    assert len(set(ids)) == len(ids)
    assert [m["sequence_number"] for m in found.values()] == list(range(1, len(found) + 1))
    assert found["Price_Tiers"]["parent_module"] == {
        "api_name": "Products",
        "id": found["Products"]["id"],
    }
    assert found["Leads"]["parent_module"] == {} and found["Leads"]["status"] == "visible"
    assert found["Notes"]["status"] == "system_hidden"


def test_field_ids_are_unique_in_the_org_and_child_structures_are_described(shared_client) -> None:
    found = modules(shared_client)
    ids: list[str] = []
    for module in found:
        ids += [f["id"] for f in fields(shared_client, module)]
    assert len(set(ids)) == len(ids)
    tiers = {f["api_name"]: f for f in fields(shared_client, "Products")}["Price_Tiers"]
    # Zoho's v8 shapes (the official SDK's Subform and MinifiedModule): the module by name
    assert tiers["subform"] == {"module": "Price_Tiers", "id": found["Price_Tiers"]["id"]}
    assert tiers["associated_module"] == {"module": "Price_Tiers", "id": found["Price_Tiers"]["id"]}
    linked = {f["api_name"]: f for f in fields(shared_client, "Contacts")}["Linked_Deals"]
    details = linked["multiselectlookup"]["linking_details"]  # the SDK's Multiselectlookup
    assert {k: details["module"][k] for k in ("api_name", "id")} == {
        "api_name": "Contacts_X_Deals",
        "id": found["Contacts_X_Deals"]["id"],
    }
    link_fields = {f["api_name"]: f for f in fields(shared_client, "Contacts_X_Deals")}
    assert details["lookup_field"]["api_name"] == "Contact"
    assert details["lookup_field"]["id"] == link_fields["Contact"]["id"]
    assert details["connected_lookup_field"]["api_name"] == "Deal"
    assert linked["multiselectlookup"]["connected_details"]["module"]["api_name"] == "Deals"
    assert "linking_module" not in linked["multiselectlookup"]  # not a key Zoho sends
    account = {f["api_name"]: f for f in fields(shared_client, "Contacts")}["Account_Name"]
    assert account["lookup"]["module"] == {"api_name": "Accounts", "id": found["Accounts"]["id"]}
    assert all(f["column_name"] for f in fields(shared_client, "Leads"))


def test_users_are_the_owners_of_records_and_page_like_zoho(shared_client) -> None:
    every = shared_client.get("/crm/v8/users", params={"type": "AllUsers"}).json()
    ids = {u["id"] for u in every["users"]}
    _, rows = shared_client.export(
        {"query": {"module": "Leads", "fields": ["Owner", "Created_By"]}}
    )
    assert {r["Owner"] for r in rows} | {r["Created_By"] for r in rows} <= ids
    first = shared_client.get("/crm/v8/users", params={"type": "AllUsers", "per_page": 2}).json()
    third = shared_client.get(
        "/crm/v8/users", params={"type": "AllUsers", "per_page": 2, "page": 3}
    ).json()
    assert first["info"] == {"per_page": 2, "count": 2, "page": 1, "more_records": True}
    assert third["info"]["more_records"] is False
    current = shared_client.get("/crm/v8/users", params={"type": "CurrentUser"}).json()["users"]
    assert [u["id"] for u in current] == [every["users"][0]["id"]]
    refused = shared_client.get("/crm/v8/users", params={"per_page": 201})
    assert (refused.status_code, refused.json()["code"]) == (400, "INVALID_DATA")
    org = shared_client.get("/crm/v8/org").json()["org"][0]
    assert org["time_zone"] == "America/Los_Angeles" and org["id"]
