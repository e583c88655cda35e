"""The export loop in process: the tap's client, jobs and export against the emulator's HTTP.

Expected values come from the emulator's ground truth (``/__emulator__/records``), not from the
code under test.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from tap_zoho_bulkread.bulk.checkpoint import Checkpoint
from tap_zoho_bulkread.bulk.export import ExportPlan, ModuleExport, PageEnd, rows
from tap_zoho_bulkread.bulk.jobs import BulkJobs, create_jobs_ahead
from tap_zoho_bulkread.bulk.ledger import JobSettings
from tap_zoho_bulkread.bulk.metadata import FieldSpec, field_specs
from tap_zoho_bulkread.errors import ZohoAPIError, ZohoError
from tap_zoho_bulkread.zoho.client import DownloadLimiter, ZohoClient
from tests.tap_runner import client_of
from tests.zoho_client import ground_truth
from zoho_bulkread_emulator import Emulator

LOG = logging.getLogger("export-test")
SETTINGS = JobSettings("crm", "v8", poll_interval_seconds=0.05, job_timeout_seconds=60)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(job_seconds=0.0, per_page=70, download_limit=1000) as emu:
        yield emu


@pytest.fixture(scope="module")
def tap_client(emulator: Emulator) -> ZohoClient:
    # one token for the tests, as in a run; no download waits for the next minute
    return client_of(emulator.url, DownloadLimiter(limit=1000, window=60))


def specs_of(client: ZohoClient, module: str) -> list[FieldSpec]:
    answer = client.get_json("/crm/v8/settings/fields", {"module": module})
    return field_specs(answer["fields"], module, LOG)


def plan_of(client: ZohoClient, module: str, selected: list[str]) -> ExportPlan:
    specs = specs_of(client, module)

    return ExportPlan(
        module=module,
        stream=module,
        specs=specs,
        selected=selected,
        dot_fields=(),
        replication_key="Modified_Time",
    )


def export_of(client: ZohoClient, plan: ExportPlan, **options) -> ModuleExport:  # type: ignore[no-untyped-def]
    return ModuleExport(plan, BulkJobs(client, SETTINGS, LOG), LOG, **options)


def test_every_page_is_read_and_each_ends_with_its_count(
    emulator: Emulator, tap_client: ZohoClient
) -> None:
    truth = ground_truth(emulator.url, "Calls", fields="Subject,Modified_Time")
    plan = plan_of(tap_client, "Calls", ["id", "Subject", "Modified_Time"])
    checkpoints: list[Checkpoint] = []
    export = export_of(tap_client, plan, on_checkpoint=checkpoints.append)

    items = list(export.items())

    ends = [item for item in items if isinstance(item, PageEnd)]
    records = [row for item in items if not isinstance(item, PageEnd) for row in item]
    pages = -(-len(truth) // 70)
    assert pages >= 3  # the export spans several pages
    assert [end.number for end in ends] == list(range(1, pages + 1))
    assert [end.records for end in ends] == [70] * (pages - 1) + [len(truth) - 70 * (pages - 1)]
    assert export.emitted == len(truth)
    assert {r["id"]: (r["Subject"], r["Modified_Time"]) for r in records} == {
        t["id"]: (t["Subject"] or None, t["Modified_Time"]) for t in truth
    }
    assert export.newest == max(t["Modified_Time"] for t in truth)
    assert [c.page for c in checkpoints] == list(range(1, pages + 1))
    assert not export.skipped


def test_a_field_zoho_refuses_is_left_out_and_stays_null(
    emulator: Emulator, tap_client: ZohoClient, caplog
) -> None:
    plan = plan_of(
        tap_client, "Accounts", ["id", "Account_Name", "nearby_distance__s", "Modified_Time"]
    )
    export = export_of(tap_client, plan)

    with caplog.at_level(logging.WARNING):
        records = list(rows(export.items()))

    assert len(records) == len(ground_truth(emulator.url, "Accounts"))
    assert all(r["nearby_distance__s"] is None for r in records)
    assert all(r["Account_Name"] for r in records)
    assert "refuses to export the field nearby_distance__s" in caplog.text


def test_a_module_zoho_refuses_is_skipped_with_one_warning(
    emulator: Emulator, tap_client: ZohoClient, caplog
) -> None:
    plan = plan_of(tap_client, "Notes", ["id", "Note_Title", "Modified_Time"])
    export = export_of(tap_client, plan)

    with caplog.at_level(logging.WARNING):
        items = list(export.items())

    assert items == [] and export.skipped
    assert "Notes: Zoho does not export this module through bulk read" in caplog.text


def test_the_replication_key_refused_ends_the_export_with_the_fix(
    emulator: Emulator, tap_client: ZohoClient
) -> None:
    plan = plan_of(tap_client, "Accounts", ["id", "nearby_distance__s"])
    plan = ExportPlan(**{**plan.__dict__, "replication_key": "nearby_distance__s"})
    export = export_of(tap_client, plan)

    with pytest.raises(ZohoError, match=r"module_settings\.Accounts\.replication_key"):
        list(export.items())


def test_a_corrupt_download_fails_the_export_before_any_row(
    emulator: Emulator, tap_client: ZohoClient
) -> None:
    plan = plan_of(tap_client, "Calls", ["id", "Subject", "Modified_Time"])
    export = export_of(tap_client, plan)
    faults = {"corrupt_downloads": 3}
    requests.post(f"{emulator.url}/__emulator__/faults", json=faults, timeout=10)
    try:
        with pytest.raises(ZohoError):
            list(export.items())
    finally:
        requests.post(f"{emulator.url}/__emulator__/faults", json={}, timeout=10)
    assert export.emitted == 0


def test_a_job_created_ahead_is_the_one_the_export_reads(
    emulator: Emulator, tap_client: ZohoClient, tmp_path: Path
) -> None:
    plan = plan_of(tap_client, "Calls", ["id", "Subject", "Modified_Time"])
    jobs = BulkJobs(tap_client, SETTINGS, LOG)
    create_jobs_ahead(jobs.reader(tmp_path), [plan.job_query()])
    ahead = dict(jobs.ledger.ahead)
    export = ModuleExport(plan, jobs, LOG)

    records = list(rows(export.items()))

    assert "Calls" in ahead
    assert len(records) == len(ground_truth(emulator.url, "Calls"))
    assert "Calls" not in jobs.ledger.ahead  # taken by the export, not created twice


def test_a_refusal_the_export_does_not_own_goes_up_with_zohos_code(
    emulator: Emulator, tap_client: ZohoClient
) -> None:
    plan = plan_of(tap_client, "Calls", ["id", "Subject", "Modified_Time"])
    gone = replace(plan, module="No_Such_Module")
    export = export_of(tap_client, gone)

    with pytest.raises(ZohoAPIError) as caught:
        list(export.items())
    assert caught.value.code == "MODULE_NOT_AVAILABLE"
    assert not export.skipped and export.emitted == 0
