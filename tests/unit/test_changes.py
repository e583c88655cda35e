"""The change check in process: the tap's ChangeProbe against the emulator's records API.

Expected values come from the emulator's ground truth and its request log.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import requests

from tap_zoho_bulkread.times import parse_datetime
from tap_zoho_bulkread.zoho.changes import ChangeProbe
from tap_zoho_bulkread.zoho.client import ZohoClient
from tap_zoho_bulkread.zoho.data_centers import ApiPaths
from tests.tap_runner import client_of
from tests.zoho_client import ground_truth
from zoho_bulkread_emulator import Emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(job_seconds=0.0) as emu:
        yield emu


def probe_of(emu: Emulator) -> tuple[ChangeProbe, ZohoClient]:
    client = client_of(emu.url)
    return ChangeProbe(client, ApiPaths("crm", "v8")), client


def newest(emu: Emulator, module: str, key: str) -> datetime:
    return max(parse_datetime(row[key]) for row in ground_truth(emu.url, module))


def checks(emu: Emulator) -> list[dict]:
    log = requests.get(f"{emu.url}/__emulator__/requests", timeout=10).json()
    return [e for e in log if e["path"] == "/crm/v8/Calls"]


@pytest.mark.parametrize("key", ["Modified_Time", "Created_Time"])
def test_nothing_after_the_newest_value_and_something_just_before_it(
    emulator: Emulator, key: str
) -> None:
    probe, _ = probe_of(emulator)
    latest = newest(emulator, "Calls", key)

    at = probe.after("Calls", latest, key)
    before = probe.after("Calls", latest - timedelta(seconds=1), key)

    assert at.changed is False
    assert before.changed is True and before.newest == latest
    assert [e["status"] for e in checks(emulator)] == [304 if key == "Modified_Time" else 200, 200]


def test_a_record_created_now_is_seen_by_either_key_and_each_question_is_asked_once(
    emulator: Emulator,
) -> None:
    probe, _ = probe_of(emulator)
    moment = newest(emulator, "Calls", "Modified_Time")
    assert probe.after("Calls", moment, "Created_Time").changed is False
    created = requests.post(
        f"{emulator.url}/__emulator__/mutate", json={"module": "Calls", "create": 1}, timeout=10
    ).json()["created"]
    truth = {row["id"]: row for row in ground_truth(emulator.url, "Calls")}

    fresh = ChangeProbe(probe.client, probe.api)
    by_created = fresh.after("Calls", moment, "Created_Time")
    by_modified = fresh.after("Calls", moment, "Modified_Time")
    again = fresh.after("Calls", moment, "Created_Time")

    assert by_created.changed and by_modified.changed and again is by_created
    assert by_created.newest == parse_datetime(truth[created[0]]["Created_Time"])
    assert probe.after("Calls", moment, "Created_Time").changed is False  # the first run's answer
    assert len(checks(emulator)) == 3  # one per probe and question


def test_a_deletion_after_the_moment_is_seen_and_none_before_it(emulator: Emulator) -> None:
    probe, _ = probe_of(emulator)
    now = datetime.now().astimezone()
    assert probe.deleted_after("Calls", now - timedelta(minutes=5)) is False
    requests.post(
        f"{emulator.url}/__emulator__/delete", json={"module": "Calls", "count": 1}, timeout=10
    ).raise_for_status()
    assert probe.deleted_after("Calls", now - timedelta(minutes=5)) is True
    assert probe.deleted_after("Calls", now + timedelta(minutes=5)) is False


def test_a_module_the_records_api_does_not_know_cannot_tell(emulator: Emulator) -> None:
    probe, _ = probe_of(emulator)
    change = probe.after("No_Such_Module", datetime.now().astimezone())
    assert change.changed is None and change.refusal == "INVALID_MODULE"
