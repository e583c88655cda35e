"""The emulator driven by a client we did not write: Zoho's official v8 Python SDK.

The SDK parses every answer into its own model classes; if the emulator's shapes departed from
Zoho's, these calls would fail to parse or come back as the SDK's error types.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.api.authenticator.store import FileStore
from zohocrmsdk.src.com.zoho.api.logger import Logger
from zohocrmsdk.src.com.zoho.crm.api.bulk_read import (
    ActionWrapper,
    BodyWrapper,
    BulkReadOperations,
    Criteria,
    FileBodyWrapper,
    Query,
    ResponseWrapper,
    SuccessResponse,
)
from zohocrmsdk.src.com.zoho.crm.api.bulk_read import APIException as BulkAPIException
from zohocrmsdk.src.com.zoho.crm.api.dc import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.fields import FieldsOperations, GetFieldsParam, MinifiedField
from zohocrmsdk.src.com.zoho.crm.api.fields import ResponseWrapper as FieldsWrapper
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.modules import MinifiedModule, ModulesOperations
from zohocrmsdk.src.com.zoho.crm.api.modules import ResponseWrapper as ModulesWrapper
from zohocrmsdk.src.com.zoho.crm.api.parameter_map import ParameterMap
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig
from zohocrmsdk.src.com.zoho.crm.api.util import Choice

from tests.tap_runner import faults
from tests.zoho_client import ground_truth
from zoho_bulkread_emulator import Emulator


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """An emulator (pages of 100 records) with the SDK initialised against it."""
    work = tmp_path_factory.mktemp("sdk")
    with Emulator(job_seconds=0.05, per_page=100, download_limit=100_000) as emu:
        Initializer.initialize(
            environment=DataCenter.Environment(emu.url, f"{emu.url}/oauth/v2/token", emu.url),
            token=OAuthToken(
                client_id="emulator-client-id",
                client_secret="emulator-client-secret",
                refresh_token="emulator-refresh-token",
            ),
            store=FileStore(file_path=str(work / "tokens.txt")),
            sdk_config=SDKConfig(auto_refresh_fields=False, pick_list_validation=False),
            resource_path=str(work),
            logger=Logger.get_instance(level=Logger.Levels.INFO, file_path=str(work / "sdk.log")),
        )
        yield emu


def calls(url: str) -> list[tuple[str, str, int]]:
    log = requests.get(f"{url}/__emulator__/requests", timeout=10).json()
    return [(e["method"], e["path"], e.get("status")) for e in log]


def test_start_up_refreshes_the_token_and_reads_the_current_user_and_org(sdk) -> None:
    assert calls(sdk.url)[:3] == [
        ("POST", "/oauth/v2/token", 200),
        ("GET", "/crm/v8/users", 200),
        ("GET", "/crm/v8/org", 200),
    ]


def test_modules_metadata_parses_with_unique_ids(sdk) -> None:
    answer = ModulesOperations().get_modules()
    wrapper = answer.get_object()
    assert isinstance(wrapper, ModulesWrapper), answer.get_status_code()
    modules = wrapper.get_modules()
    names = [m.get_api_name() for m in modules]
    ids = [m.get_id() for m in modules]
    assert {"Leads", "Contacts", "Accounts", "Events"} <= set(names)
    assert len(set(ids)) == len(ids) and all(ids)


def test_fields_metadata_parses(sdk) -> None:
    params = ParameterMap()
    params.add(GetFieldsParam.module, "Leads")
    wrapper = FieldsOperations().get_fields(params).get_object()
    assert isinstance(wrapper, FieldsWrapper)
    fields = {f.get_api_name(): f for f in wrapper.get_fields()}
    assert {"Last_Name", "Created_Time", "Owner", "Lead_Source"} <= set(fields)
    assert fields["Created_Time"].get_data_type() == "datetime"


def create(query: Query) -> int:
    body = BodyWrapper()
    body.set_query(query)
    wrapper = BulkReadOperations().create_bulk_read_job(body).get_object()
    assert isinstance(wrapper, ActionWrapper), wrapper
    (created,) = wrapper.get_data()
    assert isinstance(created, SuccessResponse), created.get_message()
    assert created.get_code().get_value() == "ADDED_SUCCESSFULLY"
    return int(created.get_details()["id"])


def wait(job_id: int) -> Any:
    for _ in range(400):
        wrapper = BulkReadOperations().get_bulk_read_job_details(job_id).get_object()
        assert isinstance(wrapper, ResponseWrapper), wrapper
        (detail,) = wrapper.get_data()
        if detail.get_state().get_value() in ("COMPLETED", "FAILURE"):
            return detail
        __import__("time").sleep(0.05)
    raise AssertionError("the job never finished")


def download(job_id: int) -> list[dict[str, str]]:
    wrapper = BulkReadOperations().download_result(job_id).get_object()
    assert isinstance(wrapper, FileBodyWrapper), wrapper
    stream = wrapper.get_file()
    raw = b"".join(stream.get_stream())
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        (name,) = archive.namelist()
        assert name == f"{job_id}.csv"
        text = archive.read(name).decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))


def calls_query(fields: list[str], **options: Any) -> Query:
    query = Query()
    module = MinifiedModule()
    module.set_api_name("Calls")
    query.set_module(module)
    query.set_fields(fields)
    for name, value in options.items():
        getattr(query, f"set_{name}")(value)
    return query


def test_create_status_download_and_page_tokens_through_every_page(sdk) -> None:
    fields = ["Subject", "Owner", "Owner.last_name", "Created_Time"]
    pages, token, rows = 0, None, []
    while True:
        query = calls_query(fields, page_token=token) if token else calls_query(fields, page=1)
        job_id = create(query)
        detail = wait(job_id)
        assert detail.get_state().get_value() == "COMPLETED"
        assert detail.get_query().get_module().get_api_name() == "Calls"
        assert detail.get_file_type() == "csv"
        result = detail.get_result()
        page_rows = download(job_id)
        assert len(page_rows) == result.get_count()
        rows += page_rows
        pages += 1
        if not result.get_more_records():
            break
        token = result.get_next_page_token()
        assert token
    truth = {t["id"] for t in ground_truth(sdk.url, "Calls")}
    assert pages == 3
    assert {r["Id"] for r in rows} == truth and len(rows) == len(truth)
    assert all(r["Owner.last_name"] for r in rows)


def criterion(api_name: str, comparator: str, value: Any) -> Criteria:
    """One criteria leaf in the SDK's v8 model."""
    criteria = Criteria()
    field = MinifiedField()
    field.set_api_name(api_name)
    criteria.set_field(field)
    criteria.set_comparator(Choice(comparator))
    criteria.set_value(value)
    return criteria


def test_criteria_in_the_v8_shape_filter_the_export(sdk) -> None:
    criteria = criterion("Call_Type", "equal", "Inbound")
    job_id = create(calls_query(["Call_Type"], criteria=criteria))
    assert wait(job_id).get_state().get_value() == "COMPLETED"
    rows = download(job_id)
    assert rows and all(r["Call_Type"] == "Inbound" for r in rows)


def test_a_failed_job_parses_as_failure(sdk) -> None:
    faults(sdk.url, fail_next_job={"Calls": "INTERNAL_ERROR"})
    detail = wait(create(calls_query(["Subject"], page=1)))
    assert detail.get_state().get_value() == "FAILURE"


def test_a_refused_job_is_the_sdks_api_exception_with_zohos_code(sdk) -> None:
    query = calls_query(["Subject", "No_Such_Field"], page=1)
    body = BodyWrapper()
    body.set_query(query)
    answer = BulkReadOperations().create_bulk_read_job(body)
    refusal = answer.get_object()
    assert answer.get_status_code() == 400
    assert isinstance(refusal, BulkAPIException)
    assert refusal.get_code().get_value() == "FIELD_NOT_AVAILABLE"
    assert refusal.get_details()["api_name"] == "No_Such_Field"


@pytest.mark.parametrize("module", ["Contacts", "Products", "Events", "Wide_Records"])
def test_fields_with_lookups_subforms_and_multi_select_lookups_parse(sdk, module: str) -> None:
    params = ParameterMap()
    params.add(GetFieldsParam.module, module)
    answer = FieldsOperations().get_fields(params)
    assert isinstance(answer.get_object(), FieldsWrapper), answer.get_status_code()
    assert answer.get_object().get_fields()


def test_users_and_org_parse(sdk) -> None:
    from zohocrmsdk.src.com.zoho.crm.api.org import OrgOperations
    from zohocrmsdk.src.com.zoho.crm.api.org import ResponseWrapper as OrgWrapper
    from zohocrmsdk.src.com.zoho.crm.api.users import GetUsersParam, UsersOperations
    from zohocrmsdk.src.com.zoho.crm.api.users import ResponseWrapper as UsersWrapper

    params = ParameterMap()
    params.add(GetUsersParam.type, "AllUsers")
    params.add(GetUsersParam.per_page, 2)
    users = UsersOperations().get_users(params).get_object()
    assert isinstance(users, UsersWrapper)
    assert len(users.get_users()) == 2 and users.get_info().get_more_records() is True
    org = OrgOperations().get_organization().get_object()
    assert isinstance(org, OrgWrapper) and org.get_org()[0].get_company_name() == "Emulated Org"


def sdk_fields(module: str) -> dict[str, Any]:
    params = ParameterMap()
    params.add(GetFieldsParam.module, module)
    wrapper = FieldsOperations().get_fields(params).get_object()
    assert isinstance(wrapper, FieldsWrapper)
    return {f.get_api_name(): f for f in wrapper.get_fields()}


def test_child_modules_read_through_the_sdks_typed_getters_as_the_org_defines_them(sdk) -> None:
    """Every key the tap reads to find a child module, read by the SDK's own typed getters.

    Expected values come from the emulator's org model, not from the answer: a shape the SDK
    cannot read (the tap's and emulator's old ``linking_module``) fails here.
    """
    from zoho_bulkread_emulator.org import MULTI_LOOKUP_TYPES, build_org

    org = build_org()
    checked = 0
    for module in org.modules["crm"].values():
        children = [f for f in module.fields if f.lookup_module and f.data_type in
                    ("subform", *MULTI_LOOKUP_TYPES)]  # fmt: skip
        if not children:
            continue
        read = sdk_fields(module.api_name)
        for item in children:
            field = read[item.api_name]
            if item.data_type == "subform":
                assert field.get_subform().get_module() == item.lookup_module
                assert field.get_associated_module().get_module() == item.lookup_module
            else:
                linking = org.linking_module("crm", module.api_name, item.lookup_module)
                if not linking:
                    continue  # Events' Participants: users, no linking module to export
                lookup = getattr(field, f"get_{item.data_type}")()
                details = lookup.get_linking_details()
                assert details.get_module().get_api_name() == linking
                assert details.get_module().get_id() == int(org.module_id("crm", linking))
                connected = lookup.get_connected_details().get_module()
                assert connected.get_api_name() == item.lookup_module
            checked += 1
    assert checked >= 4  # Products' and Quotes' subforms, Contacts' multi-select lookup, ...


def test_records_asked_by_id_parse_and_leave_out_deleted_and_restored_comes_back(sdk) -> None:
    """What Deleted_Records asks to tell a restore from a purge: live records, by id."""
    from zohocrmsdk.src.com.zoho.crm.api.record import GetRecordsParam, RecordOperations
    from zohocrmsdk.src.com.zoho.crm.api.record import ResponseWrapper as RecordsWrapper

    admin = f"{sdk.url}/__emulator__"
    ids = [row["id"] for row in ground_truth(sdk.url, "Calls")[:3]]
    deleted = requests.post(f"{admin}/delete", json={"module": "Calls", "count": 2}, timeout=10)
    deleted_ids = deleted.json()["deleted"]

    def live(asked: list[str]) -> list[str]:
        params = ParameterMap()
        params.add(GetRecordsParam.ids, ",".join(asked))
        params.add(GetRecordsParam.fields, "Created_Time")
        # as the tap asks: a record awaiting approval is live too (Zoho's default leaves it out)
        params.add(GetRecordsParam.approved, "both")
        params.add(GetRecordsParam.converted, "both")
        answer = RecordOperations("Calls").get_records(params)
        if answer.get_status_code() == 204:
            return []
        wrapper = answer.get_object()
        assert isinstance(wrapper, RecordsWrapper), answer.get_status_code()
        return [str(record.get_id()) for record in wrapper.get_data()]

    assert not set(ids) & set(deleted_ids)
    assert live(ids + deleted_ids) == sorted(ids, key=int)  # the deleted ones are left out
    assert live(deleted_ids) == []  # none live: 204
    restored = requests.post(
        f"{admin}/restore", json={"module": "Calls", "ids": deleted_ids[:1]}, timeout=10
    ).json()["restored"]
    assert restored == deleted_ids[:1] and live(deleted_ids) == restored


def test_the_newest_modified_record_and_if_modified_since_read_by_the_sdk(sdk) -> None:
    """What the tap asks before a module's job: the newest Modified_Time, or 304 if none since."""
    from datetime import datetime

    from zohocrmsdk.src.com.zoho.crm.api.header_map import HeaderMap
    from zohocrmsdk.src.com.zoho.crm.api.record import (
        GetRecordsHeader,
        GetRecordsParam,
        RecordOperations,
    )
    from zohocrmsdk.src.com.zoho.crm.api.record import ResponseWrapper as RecordsWrapper

    def newest(
        since: datetime | None, record_set: str | None = "both"
    ) -> tuple[int, list[tuple[str, datetime]]]:
        params = ParameterMap()
        if record_set:  # what the tap sends: converted and unapproved records too
            params.add(GetRecordsParam.converted, record_set)
            params.add(GetRecordsParam.approved, record_set)
        params.add(GetRecordsParam.fields, "Modified_Time")
        params.add(GetRecordsParam.sort_by, "Modified_Time")
        params.add(GetRecordsParam.sort_order, "desc")
        params.add(GetRecordsParam.per_page, 1)
        headers = HeaderMap()
        if since is not None:
            headers.add(GetRecordsHeader.if_modified_since, since)
        answer = RecordOperations("Leads").get_records(params, headers)
        if answer.get_status_code() in (204, 304):
            return answer.get_status_code(), []
        wrapper = answer.get_object()
        assert isinstance(wrapper, RecordsWrapper), answer.get_status_code()
        rows = [(str(r.get_id()), r.get_key_value("Modified_Time")) for r in wrapper.get_data()]
        return answer.get_status_code(), rows

    truth = ground_truth(sdk.url, "Leads", fields="$converted,Record_Approval_Status")
    latest = max(truth, key=lambda row: (row["Modified_Time"], int(row["id"])))
    moment = datetime.fromisoformat(latest["Modified_Time"])
    shown = [r for r in truth if not r["$converted"] and r["Record_Approval_Status"] == "Approved"]
    latest_shown = max(shown, key=lambda row: (row["Modified_Time"], int(row["id"])))
    assert len(shown) < len(truth)  # the data holds converted or unapproved leads

    status, rows = newest(None)
    assert status == 200 and len(rows) == 1
    assert rows[0][0] == latest["id"] and rows[0][1] == moment
    # Zoho's defaults (converted=false, approved=true) leave converted and unapproved leads out
    assert newest(None, record_set=None)[1][0][0] == latest_shown["id"]
    assert newest(moment) == (304, [])  # nothing modified after the newest

    touched = requests.post(
        f"{sdk.url}/__emulator__/mutate", json={"module": "Leads", "update": 1}, timeout=10
    ).json()["updated"]
    status, rows = newest(moment)
    assert status == 200 and [record_id for record_id, _ in rows] == touched
    assert rows[0][1] > moment


def test_a_coql_answer_read_by_the_sdk_holds_what_the_bulk_export_holds(sdk) -> None:
    """The Query API's answer, parsed by the SDK's own models, against the same rows' CSV."""
    from decimal import Decimal

    from zohocrmsdk.src.com.zoho.crm.api.coql import APIException as CoqlAPIException
    from zohocrmsdk.src.com.zoho.crm.api.coql import BodyWrapper as CoqlBody
    from zohocrmsdk.src.com.zoho.crm.api.coql import CoqlOperations
    from zohocrmsdk.src.com.zoho.crm.api.coql import ResponseWrapper as CoqlWrapper

    def coql(query: str) -> Any:
        body = CoqlBody()
        body.set_select_query(query)
        return CoqlOperations().get_records(body)

    fields = [
        "Subject",
        "Call_Type",
        "Owner",
        "Call_Start_Time",
        "Call_Duration_in_seconds",
        "Billable",
    ]
    where = "Created_Time >= '2024-01-01T00:00:00+00:00'"
    answer = coql(f"select {', '.join(fields)} from Calls where {where} order by id limit 2000")
    wrapper = answer.get_object()
    assert isinstance(wrapper, CoqlWrapper), answer.get_status_code()
    assert wrapper.get_info().get_more_records() is False

    criteria = criterion("Created_Time", "greater_equal", "2024-01-01T00:00:00+00:00")
    job_id = create(calls_query(fields, criteria=criteria))
    assert wait(job_id).get_state().get_value() == "COMPLETED"
    csv_rows = {row["Id"]: row for row in download(job_id)}

    records = wrapper.get_data()
    assert [str(r.get_id()) for r in records] == sorted(csv_rows, key=int)
    for record in records:
        row = csv_rows[str(record.get_id())]
        assert record.get_key_value("Subject") == row["Subject"]
        assert record.get_key_value("Call_Type") == (row["Call_Type"] or None)
        assert str(record.get_key_value("Owner")["id"]) == row["Owner"]
        # COQL values come untyped (no field metadata): datetimes as Zoho's text
        assert record.get_key_value("Call_Start_Time") == (row["Call_Start_Time"] or None)
        duration = record.get_key_value("Call_Duration_in_seconds")
        expected = row["Call_Duration_in_seconds"]
        assert (duration is None) == (expected == "")
        if expected:
            assert Decimal(str(duration)) == Decimal(expected)
        billable = {"": None, "true": True, "false": False}[row["Billable"]]
        assert record.get_key_value("Billable") is billable

    refused = coql("select Subject from Calls where Subject =").get_object()
    assert isinstance(refused, CoqlAPIException)
    assert refused.get_code().get_value() == "SYNTAX_ERROR"
    nothing = coql("select Subject from Calls where Created_Time >= '2099-01-01T00:00:00+00:00'")
    assert nothing.get_status_code() == 204
