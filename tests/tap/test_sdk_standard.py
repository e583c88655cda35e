"""singer-sdk's standard tap tests, run against a live emulator on loopback."""

from __future__ import annotations

import atexit

import requests
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_zoho_bulkread.tap import TapZohoBulkRead
from tests.tap_runner import tap_config
from zoho_bulkread_emulator import Emulator
from zoho_bulkread_emulator.org import build_org

# The standard suite reads its config when the class is built, so the emulator starts here.
EMULATOR = Emulator(
    job_seconds=0.02,
    max_token_refreshes=10_000,
    download_limit=10_000,
    records={("crm", "Leads"): 300, ("crm", "Contacts"): 200},
).start()
atexit.register(EMULATOR.stop)
# a few deletions, so that every stream (Deleted_Records too) has records to return
requests.post(
    f"{EMULATOR.url}/__emulator__/delete", json={"module": "Leads", "count": 3}, timeout=10
).raise_for_status()

# every module bulk read exports (a refused child module returns no records by design)
READABLE = [m.api_name for m in build_org().modules["crm"].values() if m.bulk_readable]

TestTapZohoBulkRead = get_tap_test_class(
    tap_class=TapZohoBulkRead,
    config=tap_config(
        EMULATOR.url, start_date="2019-01-01T00:00:00Z", modules=READABLE, events_ics=True
    ),
    suite_config=SuiteConfig(max_records_limit=None),
)
