"""The emulator's OAuth: refresh-token grant, its errors and limits, token checks and scopes."""

from __future__ import annotations

import time

import requests

from tests.zoho_client import CREDENTIALS, ZohoTestClient
from zoho_bulkread_emulator import Emulator

LEADS_JOB = {"query": {"module": "Leads", "fields": ["Last_Name"]}}


def refresh(url: str, **overrides: str) -> requests.Response:
    return requests.post(
        f"{url}/oauth/v2/token",
        params={"grant_type": "refresh_token", **CREDENTIALS, **overrides},
        timeout=10,
    )


def test_refresh_in_query_string_returns_token_and_api_domain(emulator: Emulator) -> None:
    answer = refresh(emulator.url).json()
    assert answer["access_token"].startswith("1000.")
    assert answer["api_domain"] == emulator.url
    assert answer["expires_in"] == 3600
    assert answer["token_type"] == "Bearer"


def test_refresh_in_form_body_is_accepted(emulator: Emulator) -> None:
    answer = requests.post(
        f"{emulator.url}/oauth/v2/token",
        data={"grant_type": "refresh_token", **CREDENTIALS},
        timeout=10,
    ).json()
    assert "access_token" in answer


def test_wrong_client_secret_or_refresh_token_is_http_200_invalid_code(emulator: Emulator) -> None:
    for override in ({"client_secret": "nope"}, {"refresh_token": "nope"}, {"client_id": "x"}):
        response = refresh(emulator.url, **override)
        assert response.status_code == 200
        assert response.json() == {"error": "invalid_code"}


def test_eleventh_refresh_in_ten_minutes_is_refused() -> None:
    with Emulator(job_seconds=0) as emu:
        answers = [refresh(emu.url) for _ in range(11)]
    assert all("access_token" in a.json() for a in answers[:10])
    assert answers[10].status_code == 400
    assert answers[10].json()["error"] == "Access Denied"
    assert "too many requests" in answers[10].json()["error_description"]


def test_missing_token_is_authentication_failure_unknown_and_expired_invalid_token() -> None:
    with Emulator(job_seconds=0, token_seconds=1) as emu:
        path = f"{emu.url}/crm/v8/settings/modules"
        missing = requests.get(path, timeout=10)
        unknown = requests.get(
            path, headers={"Authorization": "Zoho-oauthtoken 1000.x.y"}, timeout=10
        )
        token = refresh(emu.url).json()["access_token"]
        fresh = requests.get(
            path, headers={"Authorization": f"Zoho-oauthtoken {token}"}, timeout=10
        )
        time.sleep(1.1)
        expired = requests.get(
            path, headers={"Authorization": f"Zoho-oauthtoken {token}"}, timeout=10
        )
    assert fresh.status_code == 200
    assert (missing.status_code, missing.json()["code"]) == (401, "AUTHENTICATION_FAILURE")
    for response in (unknown, expired):
        assert response.status_code == 401
        assert response.json()["code"] == "INVALID_TOKEN"


def test_token_without_module_scope_gets_oauth_scope_mismatch() -> None:
    scopes = ("ZohoCRM.bulk.read", "ZohoCRM.modules.Contacts.READ", "ZohoCRM.settings.ALL")
    with Emulator(job_seconds=0, scopes=scopes) as emu:
        client = ZohoTestClient(emu.url)
        leads = client.create_job(LEADS_JOB)
        contacts = client.create_job({"query": {"module": "Contacts"}})
    assert leads.status_code == 401
    assert leads.json()["code"] == "OAUTH_SCOPE_MISMATCH"
    assert contacts.status_code == 201


def test_token_without_bulk_scope_cannot_create_jobs() -> None:
    with Emulator(job_seconds=0, scopes=("ZohoCRM.modules.ALL",)) as emu:
        response = ZohoTestClient(emu.url).create_job(LEADS_JOB)
    assert response.status_code == 401
    assert response.json()["code"] == "OAUTH_SCOPE_MISMATCH"
