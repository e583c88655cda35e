"""The tap's HTTP client and token refresh in process, over loopback to the emulator.

Both share one retry policy (zoho/retry.py): Retry-After when Zoho gives it, else jittered
exponential waits; a network failure gets the tries its cause deserves.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest
import requests

from tap_zoho_bulkread.errors import AuthenticationError, ZohoAPIError
from tap_zoho_bulkread.zoho.auth import ZohoAuthenticator
from tap_zoho_bulkread.zoho.client import ZohoClient
from tests.tap_runner import faults
from zoho_bulkread_emulator import Emulator


def authenticator(url: str, **options) -> ZohoAuthenticator:  # type: ignore[no-untyped-def]
    return ZohoAuthenticator(
        accounts_url=url,
        client_id="emulator-client-id",
        client_secret=options.pop("client_secret", "emulator-client-secret"),
        refresh_token="emulator-refresh-token",
        **options,
    )


def token_requests(url: str) -> list[int]:
    """The statuses of the token requests the emulator answered."""
    log = requests.get(f"{url}/__emulator__/requests", timeout=10).json()
    return [e.get("status") for e in log if e["path"] == "/oauth/v2/token"]


def test_the_access_token_never_goes_to_another_host() -> None:
    class Auth:
        api_domain = "https://www.zohoapis.eu"

        def ensure_token(self) -> str:
            return "token"

    client = ZohoClient(
        Auth(), api_domain="https://www.zohoapis.eu", logger=__import__("logging").getLogger()
    )  # type: ignore[arg-type]
    assert (
        client.url("/crm/bulk/v8/read/1/result")
        == "https://www.zohoapis.eu/crm/bulk/v8/read/1/result"
    )
    for foreign in (
        "https://evil.example.com/crm/bulk/v8/read/1/result",
        "//evil.example.com/x",
        "http://www.zohoapis.eu/x",
    ):
        with pytest.raises(ZohoAPIError, match="refusing to send the access token"):
            client.url(foreign)


def test_retry_after_is_honoured_and_retries_are_logged(caplog) -> None:
    import logging

    from tap_zoho_bulkread.zoho.auth import ZohoAuthenticator

    with Emulator(job_seconds=0.05) as emu:
        auth = ZohoAuthenticator(
            accounts_url=emu.url,
            client_id="emulator-client-id",
            client_secret="emulator-client-secret",
            refresh_token="emulator-refresh-token",
        )
        client = ZohoClient(
            auth,
            api_domain=None,
            logger=logging.getLogger("retry-test"),
            trusted_api_domains={emu.url},
        )
        client.api_domain  # noqa: B018 (takes the token before the faults)
        faults(emu.url, burst_429=2, retry_after_seconds=0.7)
        started = time.monotonic()
        with caplog.at_level(logging.WARNING):
            modules = client.get_json("/crm/v8/settings/modules")["modules"]
        elapsed = time.monotonic() - started
    assert modules
    assert elapsed >= 1.4
    assert caplog.text.count("retrying in 0.7s") == 2


def test_a_token_refresh_honours_retry_after_like_every_other_request(caplog) -> None:
    with Emulator(job_seconds=0.0) as emu:
        faults(emu.url, burst_429=2, retry_after_seconds=0.3)
        auth = authenticator(emu.url, retry_base_seconds=5.0)
        started = time.monotonic()
        with caplog.at_level(logging.WARNING):
            token = auth.ensure_token()
        elapsed = time.monotonic() - started
        statuses = token_requests(emu.url)
    assert token and statuses == [429, 429, 200]
    assert 0.6 <= elapsed < 5.0  # Zoho's 0.3 s twice, not the 5 s base wait
    assert caplog.text.count("Token refresh failed (HTTP 429); try") == 2
    assert caplog.text.count("retrying in 0.3s") == 2


def test_a_token_answer_that_is_not_json_is_retried(caplog) -> None:
    with Emulator(job_seconds=0.0) as emu:
        faults(emu.url, html_answers=1)
        auth = authenticator(emu.url, retry_base_seconds=0.01)
        with caplog.at_level(logging.WARNING):
            token = auth.ensure_token()
        statuses = token_requests(emu.url)
    assert token and statuses == [200, 200]
    assert "Token refresh failed (HTTP 200, not JSON); try 1 of 6" in caplog.text


def test_an_accounts_server_that_keeps_failing_is_one_error_with_the_count() -> None:
    with Emulator(job_seconds=0.0) as emu:
        faults(emu.url, error_rate=1.0)
        auth = authenticator(emu.url, max_tries=3, retry_base_seconds=0.01)
        with pytest.raises(AuthenticationError) as caught:
            auth.ensure_token()
        statuses = token_requests(emu.url)
    assert statuses == [500, 500, 500]
    assert str(caught.value) == (
        f"The Zoho accounts server {emu.url.split('//')[1]} still failed after 3 tries "
        "(HTTP 500). Check data_center / accounts_url, or try later."
    )


def test_a_refused_connection_gets_three_tries_and_names_host_and_cause() -> None:
    auth = authenticator("http://127.0.0.1:9", retry_base_seconds=0.01)
    with pytest.raises(AuthenticationError) as caught:
        auth.ensure_token()
    assert str(caught.value) == (
        "Cannot reach the Zoho accounts server 127.0.0.1:9 (the connection was refused; "
        "3 tries). Check the network, and data_center / accounts_url."
    )


def test_a_wrong_client_secret_is_refused_at_once_with_the_fix() -> None:
    with Emulator(job_seconds=0.0) as emu:
        auth = authenticator(emu.url, client_secret="not-the-secret")
        with pytest.raises(AuthenticationError, match="check client_id, client_secret"):
            auth.ensure_token()
        assert token_requests(emu.url) == [200]  # Zoho's refusal comes as HTTP 200: no retry


def test_threads_that_need_a_token_at_once_share_one_refresh() -> None:
    with Emulator(job_seconds=0.0) as emu:
        auth = authenticator(emu.url)
        tokens: list[str] = []
        threads = [
            threading.Thread(target=lambda: tokens.append(auth.ensure_token())) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(tokens) == 8 and len(set(tokens)) == 1
        assert token_requests(emu.url) == [200]


def test_a_request_that_keeps_failing_is_one_error_naming_what_and_how_often() -> None:
    with Emulator(job_seconds=0.0) as emu:
        client = ZohoClient(
            authenticator(emu.url),
            api_domain=None,
            logger=logging.getLogger("client-test"),
            trusted_api_domains={emu.url},
            max_tries=3,
            retry_base_seconds=0.01,
        )
        client.api_domain  # noqa: B018 (takes the token before the faults)
        faults(emu.url, error_rate=1.0)
        with pytest.raises(ZohoAPIError) as caught:
            client.get_json("/crm/v8/settings/modules")
    assert caught.value.code == "TAP_RETRIES_EXHAUSTED"
    assert "GET /crm/v8/settings/modules still failing after 3 tries" in str(caught.value)
