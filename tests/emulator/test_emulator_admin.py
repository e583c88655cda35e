"""The emulator's limits, time, mutations, faults, admin surface and command line."""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
import requests

from tests.zoho_client import ZohoTestClient, ground_truth
from zoho_bulkread_emulator import Emulator

CALLS = {"query": {"module": "Calls", "fields": ["Subject"]}}


def completed_job(client: ZohoTestClient, body: dict = CALLS) -> dict:
    job_id = client.create_job(body).json()["data"][0]["details"]["id"]
    return client.wait(job_id)


def admin(url: str, action: str, body: dict | None = None) -> dict:
    response = requests.post(f"{url}/__emulator__/{action}", json=body or {}, timeout=10)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def test_eleventh_download_in_a_window_is_429_until_the_window_ends() -> None:
    with Emulator(job_seconds=0, download_window_seconds=1.5) as emu:
        client = ZohoTestClient(emu.url)
        url = completed_job(client)["result"]["download_url"]
        codes = [client.get(url).status_code for _ in range(11)]
        still_blocked = client.get(url).status_code
        time.sleep(1.6)
        after = client.get(url).status_code
    assert codes == [200] * 10 + [429]
    assert still_blocked == 429
    assert after == 200


@pytest.mark.parametrize("gone_status", [400, 404])
def test_results_expire_after_their_time_to_live(gone_status: int) -> None:
    with Emulator(job_seconds=0, result_ttl_seconds=0.5, gone_result_status=gone_status) as emu:
        client = ZohoTestClient(emu.url)
        url = completed_job(client)["result"]["download_url"]
        fresh = client.get(url).status_code
        time.sleep(0.7)
        late = client.get(url)
    assert fresh == 200
    assert (late.status_code, late.json()["code"]) == (gone_status, "RESOURCE_NOT_FOUND")
    assert late.json()["details"] == {"resource": "bulk read result"}


def test_jobs_pass_through_added_queued_in_progress_completed() -> None:
    with Emulator(job_seconds=0.6, max_concurrent_jobs=1) as emu:
        client = ZohoTestClient(emu.url)
        first = client.create_job(CALLS).json()["data"][0]["details"]
        second = client.create_job(CALLS).json()["data"][0]["details"]
        seen: dict[str, set[str]] = {first["id"]: set(), second["id"]: set()}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all("COMPLETED" in s for s in seen.values()):
            for job_id, states in seen.items():
                states.add(client.get(f"/crm/bulk/v2/read/{job_id}").json()["data"][0]["state"])
            time.sleep(0.02)
    assert first["state"] == "ADDED"
    assert {"IN PROGRESS", "COMPLETED"} <= seen[first["id"]]
    assert {"QUEUED", "IN PROGRESS", "COMPLETED"} <= seen[second["id"]]


def test_mutations_add_new_records_and_touch_existing_ones(emulator: Emulator, client) -> None:
    before = ground_truth(emulator.url, "Leads")
    changed = admin(emulator.url, "mutate", {"module": "Leads", "create": 3, "update": 2})
    after = {row["id"]: row for row in ground_truth(emulator.url, "Leads")}
    assert len(after) == len(before) + 3
    newest = max(row["Created_Time"] for row in before)
    for record_id in changed["created"]:
        assert len(record_id) == 19 and record_id not in {r["id"] for r in before}
        assert after[record_id]["Created_Time"] > newest
    for record_id in changed["updated"]:
        assert after[record_id]["Modified_Time"] > after[record_id]["Created_Time"]
        assert after[record_id]["Modified_Time"] > newest
    criteria = {
        "api_name": "Created_Time",
        "comparator": "greater_equal",
        "value": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 60)),
    }
    _, rows = client.export(
        {"query": {"module": "Leads", "fields": ["Last_Name"], "criteria": criteria}}
    )
    assert {row["Id"] for row in rows} == set(changed["created"])


def test_ground_truth_lists_every_record_with_utc_times(emulator: Emulator) -> None:
    rows = ground_truth(emulator.url, "Calls")
    assert len(rows) == 250
    assert all(row["Created_Time"].endswith("+00:00") for row in rows)
    assert all(row["Modified_Time"] >= row["Created_Time"] for row in rows)


def test_fault_error_rate_answers_500_and_is_replayable() -> None:
    outcomes = []
    for _ in range(2):
        with Emulator(job_seconds=0) as emu:
            client = ZohoTestClient(emu.url)
            client.token()
            admin(emu.url, "faults", {"seed": 7, "error_rate": 0.5})
            outcomes.append([client.get("/crm/v2/settings/modules").status_code for _ in range(20)])
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {200, 500}


def test_fault_429_burst_and_failed_job(emulator: Emulator, client) -> None:
    client.token()
    admin(emulator.url, "faults", {"burst_429": 2, "fail_next_job": {"Calls": "INTERNAL_ERROR"}})
    assert [client.create_job(CALLS).status_code for _ in range(2)] == [429, 429]
    failed = completed_job(client)
    assert failed["state"] == "FAILURE"
    assert failed["result"]["error_message"]["code"] == "INTERNAL_ERROR"
    assert completed_job(client)["state"] == "COMPLETED"


def test_fault_dropped_download_cuts_the_body_short(emulator: Emulator, client) -> None:
    url = completed_job(client)["result"]["download_url"]
    admin(emulator.url, "faults", {"drop_downloads": 1})
    parts = urlsplit(emulator.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", url, headers=client.headers())
    response = connection.getresponse()
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    assert client.get(url).status_code == 200


def test_fault_slow_jobs_and_short_tokens(emulator: Emulator, client) -> None:
    admin(emulator.url, "faults", {"slow_job_seconds": 0.5, "token_seconds": 1})
    started = time.monotonic()
    completed_job(client)
    assert time.monotonic() - started >= 0.5
    token = requests.post(
        f"{emulator.url}/oauth/v2/token",
        params={
            "grant_type": "refresh_token",
            "client_id": "emulator-client-id",
            "client_secret": "emulator-client-secret",
            "refresh_token": "emulator-refresh-token",
        },
        timeout=10,
    ).json()
    assert token["expires_in"] == 1


def test_fault_slow_downloads_take_their_time(emulator: Emulator, client) -> None:
    url = completed_job(client)["result"]["download_url"]
    admin(emulator.url, "faults", {"download_delay_seconds": 0.6})
    started = time.monotonic()
    assert client.get(url).status_code == 200
    assert time.monotonic() - started >= 0.6


def test_fault_429_bursts_can_carry_retry_after(emulator: Emulator, client) -> None:
    client.token()
    admin(emulator.url, "faults", {"burst_429": 1, "retry_after_seconds": 2})
    response = client.get("/crm/v8/settings/modules")
    assert (response.status_code, response.headers["Retry-After"]) == (429, "2")


def test_unknown_fault_names_are_refused(emulator: Emulator) -> None:
    response = requests.post(f"{emulator.url}/__emulator__/faults", json={"oops": 1}, timeout=10)
    assert response.status_code == 400


def test_request_log_has_job_bodies_and_no_credentials(emulator: Emulator, client) -> None:
    completed_job(client)
    log = requests.get(f"{emulator.url}/__emulator__/requests", timeout=10).json()
    text = str(log)
    assert "emulator-client-secret" not in text and "emulator-refresh-token" not in text
    assert client.token() not in text
    creations = [e for e in log if e["method"] == "POST" and e["path"] == "/crm/bulk/v2/read"]
    assert creations[0]["body"] == CALLS and creations[0]["status"] == 201


def test_reset_forgets_jobs_mutations_and_log(emulator: Emulator, client) -> None:
    job_id = completed_job(client)["id"]
    admin(emulator.url, "mutate", {"module": "Calls", "create": 5})
    admin(emulator.url, "reset")
    assert len(ground_truth(emulator.url, "Calls")) == 250
    assert requests.get(f"{emulator.url}/__emulator__/requests", timeout=10).json() == []
    fresh = ZohoTestClient(emulator.url)
    assert fresh.get(f"/crm/bulk/v2/read/{job_id}").status_code == 404


def test_bigin_jobs_use_their_own_paths_and_scopes(emulator: Emulator, client) -> None:
    status, rows = client.export(
        {"query": {"module": "Pipelines", "fields": ["Deal_Name", "Stage"]}},
        api="bigin",
        version="v2",
    )
    assert status["result"]["download_url"].startswith("/bigin/bulk/v2/read/")
    assert len(rows) == 300
    assert client.create_job({"query": {"module": "Leads"}}, api="bigin").status_code == 400


def test_only_loopback_addresses_are_served() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Emulator(host="0.0.0.0")


def test_command_line_help_documents_every_option() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "zoho_bulkread_emulator.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for option in (
        "--host",
        "--port",
        "--seed",
        "--records",
        "--client-id",
        "--client-secret",
        "--refresh-token",
        "--per-page",
        "--job-seconds",
        "--max-concurrent-jobs",
        "--timezone",
        "--token-seconds",
        "--scopes",
        "--result-ttl-seconds",
        "--download-limit",
        "--download-window-seconds",
        "--max-token-refreshes",
    ):
        assert option in result.stdout
    assert "default" in result.stdout


def test_command_line_starts_at_once_with_a_million_records() -> None:
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zoho_bulkread_emulator.cli",
            "--port",
            "0",
            "--records",
            "Leads=1000000",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.removeprefix("listening on ")
        assert requests.get(f"{url}/__emulator__/health", timeout=10).json()["status"] == "ok"
        startup = time.monotonic() - started
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0
    print(f"emulator startup with 1,000,000 Leads: {startup:.2f}s")


def test_command_line_refuses_a_bad_records_option() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "zoho_bulkread_emulator.cli", "--records", "Leads"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "MODULE=COUNT" in result.stderr


def test_deleted_records_leave_exports_and_are_listed_by_the_deleted_endpoint() -> None:
    with Emulator(job_seconds=0) as emu:
        client = ZohoTestClient(emu.url)
        nothing = client.get("/crm/v8/Calls/deleted")
        gone = requests.post(
            f"{emu.url}/__emulator__/delete", json={"module": "Calls", "count": 5}, timeout=10
        ).json()["deleted"]
        truth = {t["id"] for t in ground_truth(emu.url, "Calls")}
        _, rows = client.export({"query": {"module": "Calls", "fields": ["Subject"]}})
        listed = client.get("/crm/v8/Calls/deleted", params={"type": "recycle"}).json()
        paged = client.get("/crm/v8/Calls/deleted", params={"per_page": 2, "page": 3}).json()
        later = client.session.get(
            f"{emu.url}/crm/v8/Calls/deleted",
            headers={**client.headers(), "If-Modified-Since": "2099-01-01T00:00:00+00:00"},
            timeout=10,
        )
        requests.post(
            f"{emu.url}/__emulator__/delete", json={"module": "Calls", "purge": True}, timeout=10
        )
        permanent = client.get("/crm/v8/Calls/deleted", params={"type": "permanent"}).json()
        recycle_after_purge = client.get("/crm/v8/Calls/deleted", params={"type": "recycle"})
    assert nothing.status_code == 204 and nothing.content == b""
    assert len(gone) == 5 and not set(gone) & truth and len(truth) == 245
    assert {r["Id"] for r in rows} == truth
    assert {e["id"] for e in listed["data"]} == set(gone)
    entry = listed["data"][0]
    assert entry["type"] == "recycle" and entry["display_name"]
    assert set(entry) == {"id", "display_name", "type", "deleted_time", "deleted_by", "created_by"}
    assert paged["info"] == {"per_page": 2, "count": 1, "page": 3, "more_records": False}
    assert later.status_code == 204
    assert {e["id"] for e in permanent["data"]} == set(gone)
    assert all(e["type"] == "permanent" and e["display_name"] is None for e in permanent["data"])
    assert recycle_after_purge.status_code == 204
