"""The tap against a broken or hostile Zoho: it refuses clearly and is never steered.

Every test runs the real command, as a user does, against ``HostileZoho`` on loopback, and
checks what a user would see: the exit code, one clear line and no traceback, strict JSON on
stdout, no secret anywhere, no file touched outside the tap's own folder, bounded memory and
time, and no bookmark past what was not read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.hostile_zoho import ACCESS_TOKEN, HEADER, Answer, HostileZoho, Request, zipped
from tests.tap_runner import TapRun, command_line, discover, run_tap, select, tap_config

LEADS = {"Leads": None}
SECRETS = ("emulator-client-secret", "emulator-refresh-token", ACCESS_TOKEN)


def strict_json(line: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(line, parse_constant=refuse)


def sync(zoho: HostileZoho, tmp_path: Path, **settings: Any) -> TapRun:
    config = tap_config(zoho.url, modules=["Leads"], **settings)
    catalog = select(discover(tmp_path / "discover", config), LEADS)
    run = run_tap(
        tmp_path / "sync", config, catalog=catalog, env={"TMPDIR": str(tap_tmp(tmp_path))}
    )
    for line in run.stdout.splitlines():
        strict_json(line)
    for secret in SECRETS:
        assert secret not in run.stderr and secret not in run.stdout
    return run


def leads_sync_command(zoho: HostileZoho, tmp_path: Path) -> list[str]:
    """The command line of a Leads sync from config and catalog files, as a user runs it."""
    config = tap_config(zoho.url, modules=["Leads"])
    return command_line(tmp_path, config, select(discover(tmp_path / "discover", config), LEADS))


def tap_tmp(tmp_path: Path) -> Path:
    folder = tmp_path / "tap-tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def refused(run: TapRun, *expected: str) -> str:
    """Exit 1, one ERROR line holding every text, no traceback, no bookmark written."""
    assert run.returncode == 1, run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    errors = [line for line in run.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, errors
    for text in expected:
        assert text in errors[0], errors[0]
    for message in run.messages:
        if message["type"] == "STATE":
            assert "replication_key_value" not in message["value"]["bookmarks"].get("Leads", {})
    return errors[0]


def no_bookmark(run: TapRun) -> None:
    assert run.bookmark("Leads") is None


# -- 1. server-chosen names never reach a path -------------------------------------------


@pytest.mark.parametrize(
    "job_id", ["/tmp/x/important", "../../../../tmp/x/relative", "12/../34", "1e5"]
)
def test_a_job_id_that_is_not_digits_never_reaches_a_path(tmp_path: Path, job_id: str) -> None:
    victim = tmp_path / "important"
    victim.write_text("precious")
    with HostileZoho() as zoho:
        zoho.job_ids = [job_id.replace("/tmp/x", str(tmp_path))]
        run = sync(zoho, tmp_path)
        asked = [r.path for r in zoho.requests]
    refused(run, "not a Zoho id")
    no_bookmark(run)
    assert victim.read_text() == "precious"
    assert not any("/result" in path for path in asked)
    assert list(tap_tmp(tmp_path).iterdir()) == []


@pytest.mark.parametrize("name", ["a/b", "zz/../../outside", "Leads\nINFO forged line", ""])
def test_a_module_name_that_is_not_a_plain_api_name_is_refused(tmp_path: Path, name: str) -> None:
    with HostileZoho() as zoho:
        zoho.modules = [{"api_name": name, "api_supported": True, "generated_type": "default"}]
        run = run_tap(tmp_path, tap_config(zoho.url), discover=True)
    refused(run, "without a plain api_name")
    assert "\nINFO forged line" not in run.stderr


@pytest.mark.parametrize(
    ("modules", "fields"),
    [
        (["Leads"], None),  # modules that are not objects
        ([{"generated_type": "default"}], None),  # a module without api_name
        (None, ["Last_Name"]),  # fields that are not objects
        ("all of them", None),
    ],
)
def test_metadata_of_the_wrong_shape_is_one_clear_line(
    tmp_path: Path, modules: Any, fields: Any
) -> None:
    with HostileZoho() as zoho:
        if modules is not None:
            zoho.modules = modules
        if fields is not None:
            zoho.fields = fields
        run = run_tap(tmp_path, tap_config(zoho.url, modules=["Leads"]), discover=True)
    refused(run, "UNEXPECTED_RESPONSE")


# -- 2. memory stays flat whatever the zip holds ------------------------------------------


def peak_rss_mb(command: list[str], env: dict[str, str]) -> tuple[int, float, str]:
    """Run ``command`` as the only child of a fresh Python and return (exit, peak MB, stderr)."""
    probe = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
        "sys.stderr.write(done.stderr)\n"
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    code, kilobytes = result.stdout.split()
    return int(code), int(kilobytes) / 1024, result.stderr


def test_a_zip_bomb_of_one_endless_row_is_refused_with_flat_memory(tmp_path: Path) -> None:
    with HostileZoho() as zoho:  # the same tap on an ordinary export: its own peak memory
        code, ordinary, stderr = peak_rss_mb(
            leads_sync_command(zoho, tmp_path / "ordinary"), dict(os.environ)
        )
        assert code == 0, stderr[-2000:]
    bomb = (HEADER + "\r\n" + "1" + "," * (100 * 1024 * 1024)).encode()
    with HostileZoho() as zoho:
        zoho.zip_bytes = zipped("1.csv", bomb)
        assert len(zoho.zip_bytes) < 200_000
        command = leads_sync_command(zoho, tmp_path)
        started = time.monotonic()
        code, peak, stderr = peak_rss_mb(
            command,
            {**os.environ, "TMPDIR": str(tap_tmp(tmp_path))},
        )
        seconds = time.monotonic() - started
    assert code == 1 and "Traceback" not in stderr
    assert "over 5000 cells" in stderr or "over 16 MiB" in stderr, stderr[-2000:]
    print(
        f"zip bomb: peak RSS {peak:.0f} MB ({ordinary:.0f} MB on an ordinary export), {seconds:.1f}s"
    )
    # measured: 88 MB (strict decoder alone) and 154 MB with pyarrow, whose import alone is
    # 36 MB; a 100 MB row took about 1 GB before the bounds
    assert peak < ordinary + 64
    assert list(tap_tmp(tmp_path).iterdir()) == []


# -- 3. a checkpoint naming another module's job is not trusted -------------------------------
# (see test_resilience for the emulator-driven version with real jobs)


def test_a_checkpoint_whose_job_exports_another_module_starts_over(tmp_path: Path) -> None:
    with HostileZoho() as zoho:
        contacts_job = "4876543000009999999"

        def contacts_status(request: Request) -> Answer:
            answer = zoho.status_answer(contacts_job)
            answer["data"][0]["query"]["module"] = {"api_name": "Contacts"}
            return Answer(body=answer)

        zoho.routes[("GET", f"/crm/bulk/v8/read/{contacts_job}")] = contacts_status
        config = tap_config(zoho.url, modules=["Leads"])
        catalog = select(discover(tmp_path / "discover", config), LEADS)
        first = run_tap(tmp_path / "first", config, catalog=catalog)
        export = _fingerprint_of(first)
        state = {"bookmarks": {"Leads": {"zoho_export": {
            "export": export, "page": 1, "page_token": None, "job_id": contacts_job,
            "created": "2026-01-01T00:00:00+00:00", "newest": None,
        }}}}  # fmt: skip
        state["bookmarks"]["Leads"]["zoho_export"]["created"] = _minutes_ago(5)
        second = run_tap(tmp_path / "second", config, catalog=catalog, state=state)
        future = json.loads(json.dumps(state))
        future["bookmarks"]["Leads"]["zoho_export"]["created"] = "2099-01-01T00:00:00+00:00"
        third = run_tap(tmp_path / "third", config, catalog=catalog, state=future)
        downloaded = [r.path for r in zoho.requests if r.path.endswith("/result")]
    assert second.returncode == 0 and third.returncode == 0, second.stderr[-2000:]
    assert "exports 'Contacts', not Leads" in second.stderr
    assert "cannot be resumed" in third.stderr
    assert f"/crm/bulk/v8/read/{contacts_job}/result" not in downloaded
    assert len(second.records("Leads")) == len(third.records("Leads")) == 2


def _fingerprint_of(run: TapRun) -> str:
    for message in run.messages:
        if message["type"] == "STATE" and "zoho_export" in message["value"]["bookmarks"].get(
            "Leads", {}
        ):
            return str(message["value"]["bookmarks"]["Leads"]["zoho_export"]["export"])
    raise AssertionError("no checkpoint in the first run")


def _minutes_ago(minutes: int) -> str:
    from datetime import datetime, timedelta, timezone

    return (datetime.now(timezone.utc) - timedelta(minutes=minutes)).isoformat()


# -- 4 and 5, and the lesser decoding cases: strict values, cached or not ----------------------

BAD_CELLS = [
    ("Created_Time", "2024-03-10T10:99:99+01:00"),
    ("Created_Time", "2024-03-10T10abcdef"),
    ("Created_Time", "2024-03-10T25:00:00+01:00"),
    ("Created_Time", "2024-03-10T10:00:00"),  # no offset
    ("Amount", "NaN"),
    ("Amount", "Infinity"),
    ("Amount", "-Infinity"),
    ("Amount", "sNaN"),
    ("Amount", "1_000"),
    ("Amount", " 5 "),
    ("Employees", "1_0"),
    ("Employees", "٣"),
    ("Employees", "+5"),
    ("Employees", " 7"),
    ("Birth_Date", "2024-02-30"),
]


@pytest.mark.parametrize(("column", "cell"), BAD_CELLS)
def test_a_value_that_is_not_its_type_is_refused_naming_row_and_column(
    tmp_path: Path, column: str, cell: str
) -> None:
    values = {"Last_Name": "Eve", "Amount": "1", "Employees": "2", "Birth_Date": "2000-01-01", "Created_Time": "2024-03-10T10:00:00+01:00"}  # fmt: skip
    values[column] = cell
    row = ",".join(["4876543000000000003", *(f'"{values[c]}"' for c in HEADER.split(",")[1:])])
    with HostileZoho() as zoho:
        # the first rows fill the datetime cache for that day and offset
        zoho.csv_text = zoho.csv_text + row + "\r\n"
        run = sync(zoho, tmp_path)
    line = refused(run, column, "record 3 (CSV line 4)")
    assert repr(cell)[:20] in line
    no_bookmark(run)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Id,Last_Name,Last_Name,Amount,Employees,Birth_Date,Created_Time", "['Last_Name']"),
        ("Id,id,Last_Name,Amount,Employees,Birth_Date,Created_Time", "['id']"),
    ],
)
def test_a_column_named_twice_is_refused(tmp_path: Path, header: str, expected: str) -> None:
    with HostileZoho() as zoho:
        zoho.csv_text = header + "\r\n" + "1,2,Ada,1,1,2000-01-01,2024-03-10T10:00:00+01:00\r\n"
        run = sync(zoho, tmp_path)
    refused(run, "more than once", expected)


def test_a_leading_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    with HostileZoho() as zoho:
        zoho.csv_text = "\ufeff" + zoho.csv_text
        run = sync(zoho, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.ids("Leads") == ["4876543000000000001", "4876543000000000002"]
    assert run.records("Leads")[0]["Created_Time"] == "2024-03-10T09:00:00+00:00"


# -- 6. every wait is capped and every loop bounded ---------------------------------------


def test_a_huge_retry_after_on_a_download_is_capped(tmp_path: Path) -> None:
    with HostileZoho() as zoho:
        zoho.routes[("GET", r"/crm/bulk/v8/read/\d+/result")] = lambda r: Answer(
            429, {"code": "TOO_MANY_REQUESTS"}, {"Retry-After": "100000"}
        )
        command = leads_sync_command(zoho, tmp_path)
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stderr is not None
        deadline, seen = time.monotonic() + 60, ""
        while time.monotonic() < deadline and "window reopens" not in seen:
            seen += process.stderr.readline()
        process.kill()
        process.wait()
    assert "download limit reached (HTTP 429); Zoho's download window reopens in 60.0s" in seen


@pytest.mark.parametrize("retry_after", ["1e20", "-5", "soon", "١٢"])
def test_a_retry_after_that_is_not_a_sane_number_is_no_traceback(
    tmp_path: Path, retry_after: str
) -> None:
    with HostileZoho() as zoho:
        state = {"calls": 0}

        def once_429(request: Request) -> Answer:
            state["calls"] += 1
            if state["calls"] == 1:
                return Answer(429, {"code": "TOO_MANY_REQUESTS"}, {"Retry-After": retry_after})
            return Answer(201, zoho.created_answer(zoho.next_job_id()))

        zoho.routes[("POST", "/crm/bulk/v8/read")] = once_429
        run = sync(zoho, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(run.records("Leads")) == 2


def test_a_page_token_that_repeats_stops_the_export(tmp_path: Path) -> None:
    with HostileZoho() as zoho:
        zoho.routes[("GET", r"/crm/bulk/v8/read/\d+")] = lambda r: Answer(
            body=zoho.status_answer(
                r.path.rsplit("/", 1)[1], more_records=True, next_page_token="same-token"
            )
        )
        started = time.monotonic()
        run = sync(zoho, tmp_path)
        jobs = [r for r in zoho.requests if r.method == "POST" and r.path == "/crm/bulk/v8/read"]
    refused(run, "repeated an earlier page's next_page_token")
    assert len(jobs) <= 3 and time.monotonic() - started < 60
    no_bookmark(run)


def test_a_page_number_other_than_asked_stops_the_export(tmp_path: Path) -> None:
    with HostileZoho() as zoho:
        zoho.routes[("GET", r"/crm/bulk/v6/read/\d+")] = lambda r: Answer(
            body=zoho.status_answer(
                r.path.rsplit("/", 1)[1], page=1, more_records=True, download_url=r.path + "/result"
            )
        )
        run = sync(zoho, tmp_path, api_version="v6")
    refused(run, "page 2 answered page 1")


@pytest.mark.slow
def test_more_than_500_pages_stops_with_a_clear_line(tmp_path: Path) -> None:
    with HostileZoho() as zoho:
        zoho.csv_text = HEADER + "\r\n"
        zoho.routes[("GET", r"/crm/bulk/v8/read/\d+")] = lambda r: Answer(
            body=zoho.status_answer(
                r.path.rsplit("/", 1)[1],
                more_records=True,
                next_page_token=f"t{r.path.rsplit('/', 1)[1]}",
            )
        )
        run = sync(zoho, tmp_path, max_concurrent_jobs=1)
        jobs = [r for r in zoho.requests if r.method == "POST" and r.path == "/crm/bulk/v8/read"]
    refused(run, "more records follow page 500")
    assert len(jobs) == 500


# -- 7. an interrupted run fails, keeps its checkpoint and leaves no files -------------------


@pytest.mark.parametrize(("signal_name", "exit_code"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_signal_mid_export_exits_non_zero_with_the_checkpoint(
    tmp_path: Path, signal_name: str, exit_code: int
) -> None:
    import signal

    with HostileZoho() as zoho:
        zoho.routes[("GET", r"/crm/bulk/v8/read/\d+")] = lambda r: Answer(
            body={"data": [{"id": r.path.rsplit("/", 1)[1], "state": "IN PROGRESS"}]}
        )
        command = leads_sync_command(zoho, tmp_path)
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "TMPDIR": str(tap_tmp(tmp_path))},
        )  # fmt: skip
        assert process.stdout is not None
        lines = []
        while not any("zoho_export" in line for line in lines):
            lines.append(process.stdout.readline())
        time.sleep(0.5)
        process.send_signal(getattr(signal, signal_name))
        out, err = process.communicate(timeout=60)
    lines += out.splitlines()
    states = [strict_json(line)["value"] for line in lines if line.strip() and '"STATE"' in line]
    assert process.returncode == exit_code, err[-2000:]
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "| ERROR" in line]
    assert len(errors) == 1 and f"Interrupted by {signal_name}" in errors[0]
    assert "zoho_export" in states[-1]["bookmarks"]["Leads"]
    assert "replication_key_value" not in states[-1]["bookmarks"]["Leads"]
    assert list(tap_tmp(tmp_path).iterdir()) == []


# -- 8. secrets a server echoes are never logged ---------------------------------------------


def test_a_token_error_echoing_the_request_body_logs_no_secret(tmp_path: Path) -> None:
    with HostileZoho() as zoho:
        zoho.routes[("POST", "/oauth/v2/token")] = lambda r: Answer(
            body={"error": r.body.decode() + " " + json.dumps(r.query)}
        )
        run = run_tap(tmp_path, tap_config(zoho.url), discover=True)
    refused(run, "Zoho refused the token refresh")
    for secret in SECRETS[:2]:
        assert secret not in run.stderr


@pytest.mark.parametrize("as_html", [False, True])
def test_an_api_error_quoting_the_authorization_header_logs_no_token(
    tmp_path: Path, as_html: bool
) -> None:
    def echo(request: Request) -> Answer:
        quoted = f"bad header: Authorization: {request.headers.get('Authorization')}"
        if as_html:
            return Answer(
                400, f"<html><body>{quoted}</body></html>".encode(), {"Content-Type": "text/html"}
            )
        return Answer(400, {"code": "INVALID_DATA", "message": quoted, "status": "error"})

    with HostileZoho() as zoho:
        zoho.routes[("POST", "/crm/bulk/v8/read")] = echo
        run = sync(zoho, tmp_path)
    line = refused(run)
    assert ACCESS_TOKEN not in run.stderr and ACCESS_TOKEN.split(".")[1] not in run.stderr
    assert "[redacted]" in line


# -- lesser cases: one clear line each -------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"api_domain": "http://evil.example"}, "not one of this data center's"),
        ({"api_domain": "https://www.zohoapis.com.evil.example"}, "not one of this data center's"),
        ({"api_domain": ["x"]}, "api_domain that is not text"),
        ({"expires_in": "soon"}, "not a number of seconds"),
        ({"expires_in": -1}, "not a number of seconds"),
        ({"access_token": ""}, "without a usable access_token"),
    ],
)
def test_a_token_answer_that_is_not_trustworthy_is_refused(
    tmp_path: Path, change: dict, expected: str
) -> None:
    with HostileZoho() as zoho:
        zoho.token_answer = {**zoho.good_token(), **change}
        run = run_tap(tmp_path, tap_config(zoho.url), discover=True)
        other_hosts = [r for r in zoho.requests if r.path != "/oauth/v2/token"]
    refused(run, expected)
    assert other_hosts == []


def test_a_page_shorter_than_its_count_is_downloaded_again_then_fails(tmp_path: Path) -> None:
    with HostileZoho() as zoho:
        zoho.count = 3
        run = sync(zoho, tmp_path)
        downloads = [r for r in zoho.requests if r.path.endswith("/result")]
    refused(run, "holds 2 records but Zoho counted 3")
    assert len(downloads) == 2
    assert "downloading it once more" in run.stderr
    no_bookmark(run)


def test_a_redirect_to_another_host_is_not_followed(tmp_path: Path) -> None:
    with HostileZoho() as elsewhere, HostileZoho() as zoho:
        zoho.routes[("POST", "/crm/bulk/v8/read")] = lambda r: Answer(
            307, b"", {"Location": f"{elsewhere.url}/steal"}
        )
        run = sync(zoho, tmp_path)
        stolen = list(elsewhere.requests)
    refused(run, "refusing to send the access token to")
    assert stolen == []


def test_a_redirect_loop_on_the_api_host_ends(tmp_path: Path) -> None:
    with HostileZoho() as zoho:
        zoho.routes[("POST", "/crm/bulk/v8/read")] = lambda r: Answer(
            307, b"", {"Location": "/crm/bulk/v8/read"}
        )
        run = sync(zoho, tmp_path)
    refused(run, "redirected more than 5 times")


@pytest.mark.parametrize(
    "status",
    [
        {"id": "1", "state": "COMPLETED"},
        {"id": "1", "state": "COMPLETED", "result": "done"},
        {"id": "1", "state": "COMPLETED", "result": {"count": 2}},
        {"id": "1", "state": "COMPLETED", "result": {"count": -1, "download_url": "/x"}},
        {
            "id": "1",
            "state": "COMPLETED",
            "result": {"count": 2, "download_url": "/x", "more_records": "yes"},
        },
        {"id": "1", "state": "DONE-ISH"},
    ],
)
def test_a_job_status_of_the_wrong_shape_is_one_clear_line(tmp_path: Path, status: dict) -> None:
    with HostileZoho() as zoho:
        zoho.routes[("GET", r"/crm/bulk/v8/read/\d+")] = lambda r: Answer(body={"data": [status]})
        run = sync(zoho, tmp_path)
    refused(run, "UNEXPECTED_RESPONSE")


@pytest.mark.parametrize("kind", ["encrypted", "method-9"])
def test_a_zip_member_the_tap_cannot_open_is_one_clear_line(tmp_path: Path, kind: str) -> None:
    data = bytearray(zipped("1.csv", b"Id\r\n1\r\n"))
    if kind == "encrypted":
        data[6] |= 0x01  # the local header's "encrypted" flag
        data[data.rindex(b"PK\x01\x02") + 8] |= 0x01  # and the central directory's
    else:
        data[8] = 9  # compression method 9 (deflate64) in both headers
        data[data.rindex(b"PK\x01\x02") + 10] = 9
    with HostileZoho() as zoho:
        zoho.zip_bytes = bytes(data)
        run = sync(zoho, tmp_path)
    refused(run, "cannot be unzipped")


def test_a_zip_inflating_far_past_any_real_csv_is_refused(tmp_path: Path, monkeypatch) -> None:
    from tap_zoho_bulkread.bulk import decode, result_zip
    from tap_zoho_bulkread.bulk.metadata import FieldSpec
    from tap_zoho_bulkread.errors import ExportFileError

    monkeypatch.setattr(result_zip, "MIN_INFLATION_ALLOWANCE", 1024 * 1024)
    path = tmp_path / "bomb.zip"
    rows = "4876543000000000001,Ada\r\n" * 200_000  # 5 MB of rows, valid ones
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("1.csv", "Id,Last_Name\r\n" + rows)
    decoder = decode.RecordDecoder(
        "Leads", [FieldSpec("Last_Name", "text", "string")], ["id", "Last_Name"]
    )
    with pytest.raises(ExportFileError, match="a zip bomb"):
        for _ in decoder.batches(path, "1"):
            pass
