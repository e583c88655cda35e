"""Events_ICS through the whole tap: the emulator's ICS pages vary as real writers' do."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import requests

from tests.tap_runner import discover, run_tap, select, tap_config
from tests.zoho_client import ZohoTestClient
from zoho_bulkread_emulator import Emulator


def test_the_emulators_ics_pages_vary_as_real_writers_do_and_read_as_the_truth(
    tmp_path: Path,
) -> None:
    """Octet folds inside characters, VTIMEZONEs after events, a zone only its VTIMEZONE
    defines, DURATION across daylight saving: the tap's records equal the event model's."""
    records_ = {("crm", "Events"): 600}
    with Emulator(job_seconds=0.0, per_page=40, records=records_, download_limit=10_000) as emu:
        config = tap_config(emu.url, modules=["Events"], events_ics=True)
        catalog = select(discover(tmp_path, config), {"Events_ICS": None})
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        truth = [
            json.loads(x)
            for x in requests.get(
                f"{emu.url}/__emulator__/ics_events", timeout=30
            ).text.splitlines()
        ]
        client = ZohoTestClient(emu.url)
        files, page = [], 1
        while True:  # the raw pages, as the tap downloaded them
            body = {"query": {"module": "Events", "page": page}, "file_type": "ics"}
            job = client.create_job(body).json()["data"][0]["details"]["id"]
            status = client.wait(job)
            archive = zipfile.ZipFile(io.BytesIO(client.download(status["result"]["download_url"])))
            files.append(archive.read(archive.namelist()[0]))
            if not status["result"]["more_records"]:
                break
            page += 1
    assert run.returncode == 0, run.stderr[-3000:]
    emitted = run.records("Events_ICS")
    own = ("id", "vevent", "zoho_table_version")  # the tap's, not the event's
    assert [{k: v for k, v in r.items() if k not in own} for r in emitted] == truth
    assert len({r["zoho_table_version"] for r in emitted}) == 1
    # a fold followed by a UTF-8 continuation octet: a character split across two lines
    split_inside = [f for f in files if re.search(rb"\r\n [\x80-\xbf]", f)]
    assert split_inside, "no page folds inside a character"
    assert any(f.rindex(b"BEGIN:VTIMEZONE") > f.index(b"BEGIN:VEVENT") for f in files)
    assert any(b"TZID:Zoho Org Time" in f for f in files)
    assert any(b"DURATION:PT" in f for f in files)
