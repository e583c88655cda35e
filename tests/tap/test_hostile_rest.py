"""The REST doors (users, deletion lists, metadata, tokens) against a broken or hostile server.

One hostile server run per attack, as in test_hostile_server.py: each ends in its documented
outcome, in bounded time and memory, with no traceback and no secret in the output.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tap_zoho_bulkread.bulk.metadata import RECORD_STATE_NOTE
from tests.hostile_zoho import ACCESS_TOKEN, Answer, HostileZoho
from tests.tap.test_hostile_server import peak_rss_mb
from tests.tap_runner import TAP, command_line, discover, run_tap, select, tap_config

USER = {"id": "4876543000000186053", "full_name": "Ann Owner", "status": "active"}


def no_traceback_nor_secret(run) -> None:
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert ACCESS_TOKEN not in run.stderr and "emulator-client-secret" not in run.stderr


def users_catalog(zoho: HostileZoho, tmp_path: Path) -> dict:
    return select(discover(tmp_path / "d", tap_config(zoho.url)), {"Users": None})


def test_a_users_list_that_repeats_its_page_is_refused_within_two_pages(tmp_path: Path) -> None:
    with HostileZoho() as zoho:
        zoho.routes[("GET", "/crm/v8/users")] = lambda r: Answer(
            body={"users": [{**USER, "id": str(4876543000000186053 + n)} for n in range(200)],
                  "info": {"more_records": True, "per_page": 200}}
        )  # fmt: skip
        run = run_tap(tmp_path, tap_config(zoho.url), catalog=users_catalog(zoho, tmp_path))
        asked = sum(1 for r in zoho.requests if r.path == "/crm/v8/users")
    assert run.returncode == 1
    no_traceback_nor_secret(run)
    assert "the users list sends the same page twice" in run.stderr
    assert asked == 2 and len(run.records("Users")) == 200  # page 1 only; no ACTIVATE_VERSION
    assert not [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"]


def test_a_users_page_longer_than_asked_is_refused_unread(tmp_path: Path) -> None:
    with HostileZoho() as zoho:
        huge = json.dumps({"users": [USER] * 30_000, "info": {"more_records": False}})
        zoho.routes[("GET", "/crm/v8/users")] = lambda r: Answer(body=json.loads(huge))
        run = run_tap(tmp_path, tap_config(zoho.url), catalog=users_catalog(zoho, tmp_path))
    assert run.returncode == 1
    no_traceback_nor_secret(run)
    assert "KiB, more than Zoho sends" in run.stderr or "entries on a page of 200" in run.stderr
    assert run.records("Users") == []


def test_a_deletion_list_that_repeats_its_page_is_a_warning_and_keeps_the_bookmark(
    tmp_path: Path,
) -> None:
    entry = {"id": "4876543000000999001", "type": "recycle", "deleted_time": "2024-01-01T00:00:00+00:00",
             "deleted_by": {"id": "1", "name": "x"}, "created_by": {"id": "1", "name": "x"}}  # fmt: skip
    with HostileZoho() as zoho:
        zoho.routes[("GET", "/crm/v8/Leads/deleted")] = lambda r: Answer(
            body={"data": [entry], "info": {"more_records": True}}
        )
        config = tap_config(zoho.url, modules=["Leads"])
        catalog = select(discover(tmp_path / "d", config), {"Leads": None, "Deleted_Records": None})
        run = run_tap(tmp_path, config, catalog=catalog)
        asked = sum(1 for r in zoho.requests if r.path == "/crm/v8/Leads/deleted")
    assert run.returncode == 0, run.stderr[-2000:]
    no_traceback_nor_secret(run)
    assert asked == 2  # the look at the recycle bin, once; Deleted_Records asks no more
    warnings = [
        line
        for line in run.stderr.splitlines()
        if "| WARNING" in line and "record state columns" not in line  # not in this server's CSV
    ]
    assert [w for w in warnings if "Leads" in w and "same page twice" in w] == warnings[:1]
    assert len(warnings) == 1, warnings
    assert run.partition_bookmarks("Deleted_Records").get("Leads") is None


@pytest.mark.parametrize("door", ["modules", "fields", "token"])
def test_json_nested_100000_deep_is_one_line_not_a_recursion_traceback(
    tmp_path: Path, door: str
) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with HostileZoho() as zoho:
        path = {"modules": "/crm/v8/settings/modules", "fields": "/crm/v8/settings/fields",
                "token": "/oauth/v2/token"}[door]  # fmt: skip
        method = "POST" if door == "token" else "GET"
        zoho.routes[(method, path)] = lambda r: Answer(body=deep.encode())
        run = run_tap(tmp_path, tap_config(zoho.url, max_tries=2), discover=True)
    assert run.returncode == 1
    no_traceback_nor_secret(run)
    errors = [line for line in run.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, errors


def users_command(zoho: HostileZoho, tmp_path: Path) -> list[str]:
    return command_line(tmp_path, tap_config(zoho.url), users_catalog(zoho, tmp_path))


def test_a_60_mb_users_answer_is_refused_with_flat_memory(tmp_path: Path) -> None:
    """Refused after 4 MiB are read, not parsed whole (410 MB of users peaked at 2.6 GB)."""
    ordinary_users = {"users": [USER], "info": {"more_records": False}}
    with HostileZoho() as zoho:
        zoho.routes[("GET", "/crm/v8/users")] = lambda r: Answer(body=ordinary_users)
        code, ordinary, stderr = peak_rss_mb(users_command(zoho, tmp_path / "o"), dict(os.environ))
        assert code == 0, stderr[-2000:]
    body = b'{"users": [' + b",".join([json.dumps(USER).encode()] * 600_000) + b"]}"
    with HostileZoho() as zoho:
        zoho.routes[("GET", "/crm/v8/users")] = lambda r: Answer(body=body)
        code, peak, stderr = peak_rss_mb(users_command(zoho, tmp_path / "h"), dict(os.environ))
    assert code == 1 and "Traceback" not in stderr
    assert "more than Zoho sends for it; refused unread" in stderr
    assert peak < ordinary + 64, (peak, ordinary)  # here ~ the ordinary run's peak


def test_dot_fields_that_collide_as_properties_keep_one_and_warn_never_drop_silently(
    tmp_path: Path,
) -> None:
    """``A.B__Last_Name`` and ``A__B.Last_Name`` both map to ``A__B__Last_Name``."""
    with HostileZoho() as zoho:
        zoho.fields = [
            *zoho.fields,
            {
                "api_name": "A",
                "data_type": "lookup",
                "lookup": {"module": {"api_name": "Contacts"}},
            },
            {
                "api_name": "A__B",
                "data_type": "lookup",
                "lookup": {"module": {"api_name": "Deals"}},
            },
        ]
        config = tap_config(
            zoho.url,
            modules=["Leads"],
            module_settings={"Leads": {"lookup_fields": ["A__B.Last_Name", "A.B__Last_Name"]}},
        )
        run = run_tap(tmp_path, config, discover=True)
    assert run.returncode == 0, run.stderr[-2000:]
    no_traceback_nor_secret(run)
    catalog = json.loads(run.stdout)
    (leads,) = [s for s in catalog["streams"] if s["tap_stream_id"] == "Leads"]
    prop = leads["schema"]["properties"]["A__B__Last_Name"]
    assert prop["description"].endswith("A.B__Last_Name")  # the first in name order
    warnings = [line for line in run.stderr.splitlines() if "| WARNING" in line]
    assert (
        len(warnings) == 1 and "A__B.Last_Name" in warnings[0] and "A__B__Last_Name" in warnings[0]
    )


@pytest.mark.parametrize(
    ("field", "value"), [("created_time", 1700000000), ("full_name", ["a"]), ("email", 5)]
)
def test_a_user_field_of_the_wrong_type_is_refused_not_nulled(
    tmp_path: Path, field: str, value: object
) -> None:
    with HostileZoho() as zoho:
        zoho.routes[("GET", "/crm/v8/users")] = lambda r: Answer(
            body={"users": [{**USER, field: value}], "info": {"more_records": False}}
        )
        run = run_tap(tmp_path, tap_config(zoho.url), catalog=users_catalog(zoho, tmp_path))
    assert run.returncode == 1
    no_traceback_nor_secret(run)
    errors = [line for line in run.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1 and (field in errors[0] or "created or modified time" in errors[0])
    assert run.records("Users") == []


def test_a_signal_during_discovery_says_no_catalog_was_written_and_writes_no_state(
    tmp_path: Path,
) -> None:
    import signal
    import subprocess
    import threading

    asked = threading.Event()

    def slow_fields(request):
        asked.set()
        threading.Event().wait(30)
        return Answer(body={"fields": []})

    with HostileZoho() as zoho:
        zoho.routes[("GET", "/crm/v8/settings/fields")] = slow_fields
        (tmp_path / "config.json").write_text(json.dumps(tap_config(zoho.url)))
        process = subprocess.Popen(
            [*TAP, "--config", str(tmp_path / "config.json"), "--discover"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert asked.wait(60)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 143
    assert out == "" and "Traceback" not in err
    errors = [line for line in err.splitlines() if "| ERROR" in line]
    assert len(errors) == 1 and "during discovery; no catalog was written" in errors[0], errors
    assert "checkpoint" not in err


def bookmarked_state(bookmark: str, began: str) -> dict:
    """A state after a whole export of Leads: its bookmark and when that export began."""
    return {
        "bookmarks": {
            "Leads": {
                "replication_key": "Created_Time",
                "replication_key_value": bookmark,
                "zoho_last_export_began": began,
            }
        }
    }


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (
            {"data": [{"id": "1", "Created_Time": "2024-05-01T00:00:00+00:00"}] * 2},
            "the record of Leads with the newest Created_Time is one record, not",
        ),
        (
            {"data": [{"id": "1", "Created_Time": "yesterday"}]},
            "the record of Leads with the newest Created_Time has a Created_Time that is",
        ),
        ({"data": {"id": "1"}}, "the record of Leads with the newest Created_Time is one record"),
    ],
    ids=["two-records", "bad-time", "not-a-list"],
)
def test_a_change_check_answer_out_of_shape_is_one_line_and_no_state_moves(
    tmp_path: Path, answer: dict, said: str
) -> None:
    state = bookmarked_state("2024-03-10T09:00:00+00:00", "2024-04-01T00:00:00+00:00")
    with HostileZoho() as zoho:
        zoho.routes[("GET", "/crm/v8/Leads")] = lambda r: Answer(body=answer)
        config = tap_config(zoho.url, modules=["Leads"])
        catalog = select(discover(tmp_path / "d", config), {"Leads": None})
        run = run_tap(tmp_path, config, catalog=catalog, state=state)
        jobs = [r for r in zoho.requests if r.method == "POST" and r.path.endswith("/read")]
    assert run.returncode == 1
    no_traceback_nor_secret(run)
    errors = [line for line in run.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1 and said in errors[0], errors
    assert jobs == [] and run.records() == []
    moved = [m for m in run.messages if m["type"] == "STATE" and m["value"] != state]
    assert moved == []


def test_a_records_api_that_cannot_answer_the_check_leaves_the_module_to_bulk_read(
    tmp_path: Path,
) -> None:
    """The hostile server's records API is a 404 INVALID_URL_PATTERN, as for a module without one."""
    state = bookmarked_state("2024-03-10T09:00:00+00:00", "2024-04-01T00:00:00+00:00")
    with HostileZoho() as zoho:
        config = tap_config(zoho.url, modules=["Leads"])
        catalog = select(discover(tmp_path / "d", config), {"Leads": None})
        run = run_tap(tmp_path, config, catalog=catalog, state=state)
        checks = [r for r in zoho.requests if r.path == "/crm/v8/Leads"]
    assert run.returncode == 0, run.stderr[-2000:]
    no_traceback_nor_secret(run)
    assert len(checks) == 1 and checks[0].headers.get("If-Modified-Since") == (
        "2024-03-10T09:00:00+00:00"
    )
    assert "Leads: bulk read: the records API cannot tell (INVALID_URL_PATTERN)" in run.stderr
    assert [r["Last_Name"] for r in run.records("Leads")] == ["Ada", "Bob"]


NEWER = {"data": [{"id": "4876543000000000009", "Created_Time": "2024-05-01T00:00:00+00:00"}]}
COQL_ROW = {"id": "4876543000000000009", "Last_Name": "Cy", "Amount": 7.25, "Employees": 4,
            "Birth_Date": "1991-02-28", "Created_Time": "2024-05-01T02:00:00+02:00"}  # fmt: skip


def coql_run(tmp_path: Path, answer) -> tuple[object, list, list]:
    """A run whose change check finds a newer Lead and whose Query API answers ``answer``.

    ``answer`` is one Answer for every COQL call; returns the run, its COQL calls, its jobs.
    """
    state = bookmarked_state("2024-03-10T09:00:00+00:00", "2024-04-01T00:00:00+00:00")
    with HostileZoho() as zoho:
        zoho.routes[("GET", "/crm/v8/Leads")] = lambda r: Answer(body=NEWER)
        zoho.routes[("POST", "/crm/v8/coql")] = lambda r: answer
        config = tap_config(zoho.url, modules=["Leads"])
        catalog = discover(tmp_path / "d", config)
        (leads,) = [s for s in catalog["streams"] if s["tap_stream_id"] == "Leads"]
        listed = [  # the record state columns are not in this server's rows
            name
            for name, prop in leads["schema"]["properties"].items()
            if RECORD_STATE_NOTE not in prop.get("description", "")
        ]
        run = run_tap(tmp_path, config, catalog=select(catalog, {"Leads": listed}), state=state)
        coql = [r for r in zoho.requests if r.path == "/crm/v8/coql"]
        jobs = [r for r in zoho.requests if r.method == "POST" and r.path.endswith("/read")]
    return run, coql, jobs


def test_a_small_change_comes_through_the_query_api_with_exact_values(tmp_path: Path) -> None:
    run, coql, jobs = coql_run(
        tmp_path, Answer(body={"data": [COQL_ROW], "info": {"count": 1, "more_records": False}})
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert jobs == [] and len(coql) == 2  # the count, then the read
    queries = [json.loads(r.body)["select_query"] for r in coql]
    assert queries[0] == (
        "select id from Leads where Created_Time >= '2024-03-10T09:00:00+00:00' "
        "order by Created_Time asc, id asc limit 2000"
    )
    assert queries[1].startswith("select id, Last_Name, Amount, Employees, Birth_Date, ")
    assert run.records("Leads") == [
        {"id": "4876543000000000009", "Last_Name": "Cy", "Amount": 7.25, "Employees": 4,
         "Birth_Date": "1991-02-28", "Created_Time": "2024-05-01T00:00:00+00:00"}
    ]  # fmt: skip
    assert '"Amount":7.25' in run.stdout  # the digits Zoho sent, not a float's
    assert run.bookmark("Leads") == "2024-05-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ({"data": {"id": "1"}, "info": {"more_records": False}}, "the Query API answered data"),
        ({"data": [COQL_ROW]}, "the Query API answered info"),
        (
            {"data": [{**COQL_ROW, "id": "../../etc"}], "info": {"more_records": False}},
            "a row's id is not a Zoho id",
        ),
        (
            {"data": [COQL_ROW] * 2001, "info": {"more_records": False}},
            "more rows than the LIMIT of 2000",
        ),
        (
            {"data": [COQL_ROW] * 2, "info": {"more_records": False}},
            "the Query API listed a record twice",
        ),
        (
            {"data": [{**COQL_ROW, "Amount": "lots"}], "info": {"more_records": False}},
            "gave record 4876543000000000009 a Amount that is not a valid value of its type",
        ),
        (
            {"data": [{**COQL_ROW, "Created_Time": "2024-05-01"}], "info": {"more_records": False}},
            "a Created_Time that is not a valid value",
        ),
    ],
    ids=[
        "data-not-a-list",
        "no-info",
        "bad-id",
        "too-many-rows",
        "twice",
        "bad-number",
        "bad-datetime",
    ],
)
def test_a_query_api_answer_out_of_shape_is_one_line_and_no_state_moves(
    tmp_path: Path, answer: dict, said: str
) -> None:
    run, _, jobs = coql_run(tmp_path, Answer(body=answer))
    assert run.returncode == 1
    no_traceback_nor_secret(run)
    errors = [line for line in run.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1 and said in errors[0], errors
    assert jobs == [] and run.records() == []
    state = bookmarked_state("2024-03-10T09:00:00+00:00", "2024-04-01T00:00:00+00:00")
    assert [m for m in run.messages if m["type"] == "STATE" and m["value"] != state] == []


def test_rows_that_leave_out_a_column_leave_the_change_to_bulk_read(tmp_path: Path) -> None:
    row = {key: value for key, value in COQL_ROW.items() if key != "Amount"}
    run, coql, jobs = coql_run(
        tmp_path, Answer(body={"data": [row], "info": {"count": 1, "more_records": False}})
    )
    assert run.returncode == 0, run.stderr[-2000:]
    no_traceback_nor_secret(run)
    assert len(coql) == 2 and len(jobs) == 1
    assert "Leads: bulk read after all: the Query API's rows leave out the column Amount" in (
        run.stderr
    )
    assert [r["Last_Name"] for r in run.records("Leads")] == ["Ada", "Bob"]


def test_a_token_without_the_coql_scope_leaves_the_change_to_bulk_read(tmp_path: Path) -> None:
    refused = Answer(401, {"code": "OAUTH_SCOPE_MISMATCH", "message": "invalid oauth scope",
                           "details": {}, "status": "error"})  # fmt: skip
    run, coql, jobs = coql_run(tmp_path, refused)
    assert run.returncode == 0, run.stderr[-2000:]
    no_traceback_nor_secret(run)
    assert len(coql) == 1 and len(jobs) == 1
    assert "Leads: bulk read: a record was created at 2024-05-01T00:00:00+00:00" in run.stderr
    assert "the Query API refused it (OAUTH_SCOPE_MISMATCH)" in run.stderr
    assert [r["Last_Name"] for r in run.records("Leads")] == ["Ada", "Bob"]


def test_a_refusal_code_that_would_forge_a_log_line_is_not_logged(tmp_path: Path) -> None:
    forged = "X\n2024-01-01 00:00:00 | INFO | tap-zoho-bulkread | Leads: all good"
    run, _, jobs = coql_run(
        tmp_path, Answer(400, {"code": forged, "message": "m", "status": "error"})
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Leads: all good" not in run.stderr
    assert "the Query API refused it (UNKNOWN)" in run.stderr and len(jobs) == 1
