"""Which hosts the tap talks to, from data_center, environment and overrides."""

from __future__ import annotations

import pytest

from tap_zoho_bulkread.tap import TapZohoBulkRead

CREDENTIALS = {"client_id": "id", "client_secret": "not-a-secret", "refresh_token": "not-a-token"}


def tap(**settings: object) -> TapZohoBulkRead:
    return TapZohoBulkRead(
        config={**CREDENTIALS, **settings}, parse_env_config=False, setup_mapper=False
    )


@pytest.mark.parametrize(
    ("data_center", "accounts"),
    [
        ("us", "https://accounts.zoho.com"),
        ("eu", "https://accounts.zoho.eu"),
        ("au", "https://accounts.zoho.com.au"),
        ("cn", "https://accounts.zoho.com.cn"),
        ("ca", "https://accounts.zohocloud.ca"),
        ("sa", "https://accounts.zoho.sa"),
    ],
)
def test_each_data_center_has_its_accounts_server(data_center: str, accounts: str) -> None:
    assert tap(data_center=data_center).parts.accounts_url == accounts


def test_production_trusts_the_api_domain_returned_with_the_token() -> None:
    assert tap(data_center="eu").parts.api_domain is None


def test_sandbox_and_developer_orgs_use_their_own_api_hosts() -> None:
    assert (
        tap(data_center="eu", environment="sandbox").parts.api_domain
        == "https://sandbox.zohoapis.eu"
    )
    assert (
        tap(data_center="in", environment="developer").parts.api_domain
        == "https://developer.zohoapis.in"
    )


def test_explicit_overrides_win() -> None:
    custom = tap(accounts_url="http://127.0.0.1:1", api_domain="http://127.0.0.1:2")
    assert custom.parts.accounts_url == "http://127.0.0.1:1"
    assert custom.parts.api_domain == "http://127.0.0.1:2"


def test_default_versions_per_product() -> None:
    assert tap().parts.api.version == "v8"
    assert tap(product="bigin").parts.api.version == "v2"
