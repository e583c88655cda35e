"""End to end: `meltano run tap-zoho-bulkread <target>` and the README's Meltano commands.

All in one file: Meltano runs share `.meltano/run/`, so they must not run in parallel.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import requests

from scripts.readme_sql import deletion_sql, full_table_sql
from tests.tap_runner import job_bodies
from tests.zoho_client import ZohoTestClient, ground_truth
from zoho_bulkread_emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
MELTANO_BIN = ROOT / ".venv-meltano" / "bin"
MELTANO = MELTANO_BIN / "meltano"
MODULES = ["Leads", "Contacts", "Calls"]

pytestmark = pytest.mark.slow


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(job_seconds=0.05, download_limit=10_000) as emu:
        yield emu


def emulator_env(emulator: Emulator, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MELTANO_ENVIRONMENT": "emulator",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "TAP_ZOHO_BULKREAD_ACCOUNTS_URL": emulator.url,
        "TAP_ZOHO_BULKREAD_CLIENT_ID": "emulator-client-id",
        "TAP_ZOHO_BULKREAD_CLIENT_SECRET": "emulator-client-secret",
        "TAP_ZOHO_BULKREAD_REFRESH_TOKEN": "emulator-refresh-token",
        "TAP_ZOHO_BULKREAD_MODULES": json.dumps(MODULES),
        "TAP_ZOHO_BULKREAD_MAX_DOWNLOADS_PER_MINUTE": "1000",
        "TARGET_JSONL_DESTINATION_PATH": str(tmp_path / "jsonl"),
        "TARGET_DUCKDB_FILEPATH": str(tmp_path / "warehouse.duckdb"),
    }


def meltano_run(
    env: dict[str, str], target: str, *, succeed: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(MELTANO), "run", "tap-zoho-bulkread", target],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if succeed:
        assert result.returncode == 0, result.stderr[-4000:]
    assert "ResourceWarning" not in result.stderr
    return result


def tap_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if "] tap-zoho-bulkread " in line]


def test_a_bad_setting_under_meltano_run_is_one_line_from_the_tap(emulator, tmp_path) -> None:
    env = {**emulator_env(emulator, tmp_path), "TAP_ZOHO_BULKREAD_MAX_CONCURRENT_JOBS": "0"}
    result = meltano_run(env, "target-jsonl", succeed=False)
    assert result.returncode != 0
    lines = tap_lines(result)
    assert any(line.endswith("max_concurrent_jobs is 0; it must be 1 or more.") for line in lines)
    assert not any("Traceback" in line for line in lines), lines


def test_under_meltano_run_the_taps_levels_hold_and_a_summary_ends_the_run(
    emulator, tmp_path
) -> None:
    env = {
        **emulator_env(emulator, tmp_path),
        "TAP_ZOHO_BULKREAD_MODULES": json.dumps(["Calls", "Projects_X_Users"]),
    }
    (tmp_path / "jsonl").mkdir()
    result = meltano_run(env, "target-jsonl")
    lines = tap_lines(result)
    refused = [line for line in lines if "Projects_X_Users: Zoho does not export" in line]
    assert len(refused) == 1 and "[warning  ]" in refused[0], refused
    assert not any("METRIC" in line for line in lines)
    assert any("Summary: Calls: 250 records from 1 page in" in line for line in lines)
    assert any("[error" in line for line in lines) is False
    assert not (tmp_path / "jsonl" / "Projects_X_Users.jsonl").exists()  # no empty table


def test_meltano_run_into_target_jsonl_delivers_every_record(emulator, tmp_path) -> None:
    env = emulator_env(emulator, tmp_path)
    (tmp_path / "jsonl").mkdir()
    meltano_run(env, "target-jsonl")
    for module in MODULES:
        lines = (tmp_path / "jsonl" / f"{module}.jsonl").read_text().splitlines()
        ids = sorted(json.loads(line)["id"] for line in lines)
        assert ids == sorted(t["id"] for t in ground_truth(emulator.url, module)), module


def test_meltano_run_into_duckdb_twice_loads_only_new_records_the_second_time(
    emulator, tmp_path
) -> None:
    env = emulator_env(emulator, tmp_path)
    database = tmp_path / "warehouse.duckdb"
    meltano_run(env, "target-duckdb")
    first = table_ids(database)
    for module in MODULES:
        assert first[module.lower()] == {t["id"] for t in ground_truth(emulator.url, module)}, (
            module
        )

    created = requests.post(
        f"{emulator.url}/__emulator__/mutate", json={"module": "Leads", "create": 7}, timeout=10
    ).json()["created"]
    jobs_before = len(job_bodies(emulator.url))
    run = meltano_run(env, "target-duckdb")
    second = table_ids(database)
    assert second["leads"] == first["leads"] | set(created)
    assert second["contacts"] == first["contacts"]
    # no job at all (#24): the 7 new Leads (and the bookmark's own second, read again) came
    # through the Query API; the other modules had nothing new
    assert job_bodies(emulator.url)[jobs_before:] == []
    assert re.search(r"Leads: \d+ records read through the Query API", run.stderr)
    assert "Contacts: no bulk read job: the records API lists nothing created" in run.stderr


def table_ids(database: Path) -> dict[str, set[str]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return {
            module.lower(): {
                row[0] for row in connection.sql(f"select id from zoho.{module.lower()}").fetchall()
            }
            for module in MODULES
        }


# -- the README's commands, run as written in a fresh Meltano project ------------------

README_PORT = 8765  # the emulator's default port, which the `emulator` environment names


def readme_block(after: str, index: int = 0) -> list[str]:
    """The command lines of the ``index``-th sh block after the text ``after`` in the README."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text[text.index(after) :], re.S)
    return [line for line in blocks[index].splitlines() if line.strip()]


def project(tmp_path: Path) -> Path:
    """A new Meltano project holding only this repository's meltano.yml."""
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(ROOT / "meltano.yml", folder / "meltano.yml")
    return folder


def meltano_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TAP_ZOHO", "MELTANO_"))},
        "PATH": f"{MELTANO_BIN}:{os.environ['PATH']}",
        "MELTANO_SYS_DIR_ROOT": str(ROOT / ".meltano"),  # the plugins `make install` installed
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        **extra,
    }


def run_lines(lines: list[str], cwd: Path, env: dict[str, str]) -> dict[str, str]:
    """Run each line with bash as a user would type it; every one must succeed."""
    outputs = {}
    for line in lines:
        result = subprocess.run(
            ["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, f"{line}\n{result.stderr[-3000:]}"
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        outputs[line] = result.stdout + result.stderr
    return outputs


def test_the_readme_meltano_commands_for_a_zoho_org_work_as_written(tmp_path: Path) -> None:
    lines = readme_block("Against your Zoho org")
    assert all(line.startswith("meltano ") for line in lines)
    org = {
        "client_id": "org-client",
        "client_secret": "org-secret-1",
        "refresh_token": "org-refresh-1",
    }
    with Emulator(job_seconds=0.05, download_limit=10_000, **org) as emu:
        env = meltano_env(
            tmp_path,
            ZOHO_CLIENT_ID=org["client_id"],
            ZOHO_CLIENT_SECRET=org["client_secret"],
            ZOHO_REFRESH_TOKEN=org["refresh_token"],
            TAP_ZOHO_BULKREAD_ACCOUNTS_URL=emu.url,  # stands in for the real accounts server
            TAP_ZOHO_BULKREAD_MAX_DOWNLOADS_PER_MINUTE="1000",
            TARGET_JSONL_DESTINATION_PATH=str(tmp_path / "jsonl"),
            XDG_CACHE_HOME=str(tmp_path / "cache"),
        )
        folder = project(tmp_path)
        outputs = run_lines(lines, folder, env)
        owners = {
            row["Id"]: row["Owner.last_name"]
            for row in ZohoTestClient(emu.url, org).export(
                {"query": {"module": "Leads", "fields": ["Owner.last_name"]}}
            )[1]
        }
        contacts = {t["id"] for t in ground_truth(emu.url, "Contacts")}
    secrets_file = (folder / ".env").read_text()
    assert "org-secret-1" in secrets_file and "org-refresh-1" in secrets_file
    assert "org-secret-1" not in (folder / "meltano.yml").read_text()
    listing = outputs["meltano select tap-zoho-bulkread --list"]
    assert re.search(r"\[selected\s*\] Leads\.Owner__last_name", listing), listing[-3000:]
    assert not re.search(r"\[selected\s*\] Leads\.Email", listing)
    leads = [
        json.loads(line) for line in (tmp_path / "jsonl" / "Leads.jsonl").read_text().splitlines()
    ]
    assert {frozenset(r) for r in leads} == {
        frozenset({"id", "Last_Name", "Owner__last_name", "Modified_Time"})
    }
    assert {r["id"]: r["Owner__last_name"] for r in leads} == owners
    loaded = {
        json.loads(line)["id"]
        for line in (tmp_path / "jsonl" / "Contacts.jsonl").read_text().splitlines()
    }
    assert loaded == contacts


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_the_readme_emulator_run_needs_no_other_step(tmp_path: Path) -> None:
    lines = readme_block("Try it on your machine first")
    assert lines[1].startswith(".venv/bin/zoho-bulkread-emulator &")
    command = lines[2].replace(".venv-meltano/bin/", "")
    assert command == "meltano run tap-zoho-bulkread target-duckdb"
    extra = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    port = README_PORT if port_is_free(README_PORT) else 0  # a developer's own emulator may hold it
    with Emulator(port=port, job_seconds=0.05, download_limit=10_000) as emu:
        if port == 0:
            extra["TAP_ZOHO_BULKREAD_ACCOUNTS_URL"] = emu.url
        folder = project(tmp_path)
        run_lines([command], folder, meltano_env(tmp_path, **extra))
        with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as db:
            loaded = {row[0] for row in db.sql("select id from zoho.leads").fetchall()}
        truth = {t["id"] for t in ground_truth(emu.url, "Leads")}
    assert loaded == truth


# -- a real Postgres through MeltanoLabs' target-postgres ------------------------------------

PG_MODULES = ["Leads", "Calls"]


def pg_rows(server, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(f"postgresql://postgres@/postgres?host={server.pgdata}") as connection:
        return connection.execute(sql).fetchall()  # type: ignore[no-any-return]


def utc_text(value) -> str:
    from datetime import timezone

    return value.replace(tzinfo=timezone.utc).isoformat()


def pg_times(server, module: str) -> set[tuple[str, str, str]]:
    rows = pg_rows(server, f'select id, "Created_Time", "Modified_Time" from zoho."{module}"')
    return {(i, utc_text(c), utc_text(m)) for i, c, m in rows}


def long_decimals(server, url: str) -> tuple[dict, dict]:
    """Leads' Exchange_Rate (9 places, up to 23 significant digits): loaded, and Zoho's."""
    from decimal import Decimal

    loaded = dict(pg_rows(server, 'select id, "Exchange_Rate" from zoho."Leads"'))
    truth = {
        t["id"]: Decimal(t["Exchange_Rate"]) if t["Exchange_Rate"] is not None else None
        for t in ground_truth(url, "Leads", fields="Exchange_Rate")
    }
    assert sum(len(v.as_tuple().digits) >= 20 for v in truth.values() if v) > len(truth) / 2
    return loaded, truth


def truth_times(url: str, module: str) -> set[tuple[str, str, str]]:
    return {(t["id"], t["Created_Time"], t["Modified_Time"]) for t in ground_truth(url, module)}


def test_meltano_run_into_postgres_equals_zoho_then_follows_its_changes(emulator, tmp_path) -> None:
    from decimal import Decimal

    import pgserver

    server = pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")
    try:
        env = {
            **emulator_env(emulator, tmp_path),
            "TAP_ZOHO_BULKREAD_MODULES": json.dumps(PG_MODULES),
            "TAP_ZOHO_BULKREAD_MODULE_SETTINGS": json.dumps(
                {"Leads": {"replication_key": "Modified_Time"}}
            ),
            "TARGET_POSTGRES_SQLALCHEMY_URL": f"postgresql+psycopg://postgres@/postgres?host={server.pgdata}",
        }
        meltano_run(env, "target-postgres")
        for module in PG_MODULES:
            assert pg_times(server, module) == truth_times(emulator.url, module), module
        loaded, truth = long_decimals(server, emulator.url)
        assert loaded == truth  # 20+ significant digits, 9 places: exact with INSERT
        # types: exact numerics, integers, arrays, as the raw CSV has them
        _, raw = ZohoTestClient(emulator.url).export(
            {
                "query": {
                    "module": "Leads",
                    "fields": ["Annual_Revenue", "No_of_Employees", "Interests"],
                }
            }
        )
        loaded = {
            i: (r, n, a)
            for i, r, n, a in pg_rows(
                server,
                'select id, "Annual_Revenue", "No_of_Employees", "Interests" from zoho."Leads"',
            )
        }
        for row in raw:
            revenue, employees, interests = loaded[row["Id"]]
            assert revenue == (Decimal(row["Annual_Revenue"]) if row["Annual_Revenue"] else None)
            assert employees == (int(row["No_of_Employees"]) if row["No_of_Employees"] else None)
            assert interests == (row["Interests"].split(";") if row["Interests"] else None)
        users = {u["id"] for u in ZohoTestClient(emulator.url).get("/crm/v8/users").json()["users"]}
        assert {r[0] for r in pg_rows(server, 'select id from zoho."Users"')} == users

        time.sleep(1.1)  # the changes land after the first run's bookmark second
        admin = f"{emulator.url}/__emulator__"
        changed = requests.post(
            f"{admin}/mutate", json={"module": "Leads", "create": 7, "update": 3}, timeout=10
        ).json()
        gone = requests.post(
            f"{admin}/delete", json={"module": "Leads", "count": 2}, timeout=10
        ).json()["deleted"]
        gone += requests.post(
            f"{admin}/delete", json={"module": "Calls", "count": 1}, timeout=10
        ).json()["deleted"]
        meltano_run(env, "target-postgres")
        listed = {r[0] for r in pg_rows(server, 'select id from zoho."Deleted_Records"')}
        assert set(gone) <= listed
        import psycopg

        with psycopg.connect(f"postgresql://postgres@/postgres?host={server.pgdata}") as connection:
            removed = sum(
                connection.execute(deletion_sql("postgres", module)).rowcount
                for module in PG_MODULES
            )
        assert removed == len(gone)
        for module in PG_MODULES:
            assert pg_times(server, module) == truth_times(emulator.url, module), module
        assert set(changed["created"]) | set(changed["updated"]) <= {
            r[0] for r in pg_rows(server, 'select id from zoho."Leads"')
        }
    finally:
        server.cleanup()


def test_deletions_in_module_streams_delete_rows_in_duckdb_with_hard_delete(
    emulator, tmp_path
) -> None:
    env = {
        **emulator_env(emulator, tmp_path),
        "TAP_ZOHO_BULKREAD_DELETIONS_IN_MODULE_STREAMS": "true",
        "TARGET_DUCKDB_HARD_DELETE": "true",
    }
    database = tmp_path / "warehouse.duckdb"
    meltano_run(env, "target-duckdb")
    gone = requests.post(
        f"{emulator.url}/__emulator__/delete", json={"module": "Leads", "count": 3}, timeout=10
    ).json()["deleted"]
    meltano_run(env, "target-duckdb")
    loaded = table_ids(database)
    assert not set(gone) & loaded["leads"]
    for module in MODULES:
        assert loaded[module.lower()] == {t["id"] for t in ground_truth(emulator.url, module)}, (
            module
        )


CHILD_MODULES = ["Quotes", "Quoted_Items", "Products", "Price_Tiers", "Contacts", "Deals",
                 "Contacts_X_Deals", "Events"]  # fmt: skip


def test_meltano_run_into_duckdb_loads_the_child_tables(emulator, tmp_path) -> None:
    env = {
        **emulator_env(emulator, tmp_path),
        "TAP_ZOHO_BULKREAD_MODULES": json.dumps(CHILD_MODULES),
        "TAP_ZOHO_BULKREAD_EVENTS_ICS": "true",
    }
    meltano_run(env, "target-duckdb")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:

        def rows(sql: str) -> list[tuple]:
            return connection.sql(sql).fetchall()

        for module in ("Quoted_Items", "Price_Tiers", "Contacts_X_Deals"):
            loaded = {row[0] for row in rows(f"select id from zoho.{module.lower()}")}
            assert loaded == {t["id"] for t in ground_truth(emulator.url, module)}, module
        # every line item joins its quote, and carries the quote's subject
        assert rows(
            "select count(*) from zoho.quoted_items i left join zoho.quotes q "
            "on i.parent_id = q.id where q.id is null or i.parent_id__subject <> q.subject"
        ) == [(0,)]
        assert rows(
            "select count(*) from zoho.contacts_x_deals x join zoho.contacts c on c.id = x.contact "
            "join zoho.deals d on d.id = x.deal"
        ) == [(len(ground_truth(emulator.url, "Contacts_X_Deals")),)]
        events = requests.get(f"{emulator.url}/__emulator__/ics_events", timeout=30)
        expected = [json.loads(line) for line in events.text.splitlines()]
        loaded_events = rows(
            'select uid, recurrence_id, summary, start, "end" from zoho.events_ics'
        )  # the emulator's pages vary: DURATION or DTEND, its zone before or after the events
        assert sorted(loaded_events, key=str) == sorted(
            ((e["uid"], e["recurrence_id"], e["summary"], e["start"], e["end"]) for e in expected),
            key=str,
        )


def test_meltano_run_with_batch_files_into_postgres_with_copy_equals_zoho(
    emulator, tmp_path
) -> None:
    from decimal import Decimal

    import pgserver

    server = pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")
    try:
        env = {
            **emulator_env(emulator, tmp_path),
            "TAP_ZOHO_BULKREAD_MODULES": json.dumps(["Leads", "Calls", "Price_Tiers", "Products"]),
            "TAP_ZOHO_BULKREAD_BATCH_CONFIG": json.dumps(
                {
                    "encoding": {"format": "jsonl", "compression": "gzip"},
                    "storage": {"root": (tmp_path / "batches").as_uri()},
                    "batch_size": 400,
                }
            ),
            "TARGET_POSTGRES_SQLALCHEMY_URL": f"postgresql+psycopg://postgres@/postgres?host={server.pgdata}",
            "TARGET_POSTGRES_USE_COPY": "true",
        }
        result = meltano_run(env, "target-postgres")
        assert "BATCH" in result.stderr or list((tmp_path / "batches").iterdir())
        for module in ("Leads", "Calls"):
            assert pg_times(server, module) == truth_times(emulator.url, module), module
        _, raw = ZohoTestClient(emulator.url).export(
            {"query": {"module": "Leads", "fields": ["Annual_Revenue", "Description", "Interests"]}}
        )
        loaded = {
            i: (r, d, a)
            for i, r, d, a in pg_rows(
                server, 'select id, "Annual_Revenue", "Description", "Interests" from zoho."Leads"'
            )
        }
        for row in raw:  # exact decimals, multi-line text with quotes, arrays: through COPY too
            revenue, description, interests = loaded[row["Id"]]
            assert revenue == (Decimal(row["Annual_Revenue"]) if row["Annual_Revenue"] else None)
            assert description == (row["Description"] or None)
            assert interests == (row["Interests"].split(";") if row["Interests"] else None)
        # COPY (target-postgres 0.8.1) passes numbers through a float: what the README says
        loaded, truth = long_decimals(server, emulator.url)
        for record_id, exact in truth.items():
            assert loaded[record_id] == (None if exact is None else Decimal(repr(float(exact))))
        assert sum(loaded[i] != v for i, v in truth.items()) > len(truth) / 2
        tiers = {r[0] for r in pg_rows(server, 'select id from zoho."Price_Tiers"')}
        assert tiers == {t["id"] for t in ground_truth(emulator.url, "Price_Tiers")}
        users = {r[0] for r in pg_rows(server, 'select id from zoho."Users"')}
        assert len(users) == 5  # no ACTIVATE_VERSION dropped the BATCH-loaded rows
        # what the README says: BATCH-loaded rows carry no _sdc_* metadata
        assert pg_rows(server, 'select count("_sdc_table_version") from zoho."Leads"') == [(0,)]
    finally:
        server.cleanup()


CHANGING = ["Quotes", "Quoted_Items", "Products", "Contacts", "Deals", "Contacts_X_Deals"]
# what each table is compared by: every row's id and these of its Zoho fields
COMPARED_FIELDS = {"Quoted_Items": ["Description", "Parent_Id"], "Contacts_X_Deals": ["Contact", "Deal"]}  # fmt: skip


class Warehouse:
    """One target of the test: its meltano settings, its rows and the README SQL it needs."""

    def __init__(self, target: str, tmp_path: Path) -> None:
        self.target = target
        self.server = None
        if target == "target-postgres":
            import pgserver

            self.server = pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")
        self.database = tmp_path / "warehouse.duckdb"

    def env(self) -> dict[str, str]:
        if self.server is None:
            return {}
        url = f"postgresql+psycopg://postgres@/postgres?host={self.server.pgdata}"
        return {"TARGET_POSTGRES_SQLALCHEMY_URL": url}

    def execute(self, sql: str) -> list[tuple]:
        """Run ``sql`` and return its rows (a statement without any: ``RETURNING`` none)."""
        if self.server is not None:
            import psycopg

            url = f"postgresql://postgres@/postgres?host={self.server.pgdata}"
            with psycopg.connect(url) as connection:
                cursor = connection.execute(sql)
                return cursor.fetchall() if cursor.description else []
        with duckdb.connect(str(self.database)) as connection:
            return connection.execute(sql).fetchall()

    def rows(self, module: str, fields: list[str]) -> set[tuple]:
        if self.server is not None:
            columns = ", ".join(f'"{name}"' for name in ["id", *fields])
            return set(self.execute(f'select {columns} from zoho."{module}"'))
        columns = ", ".join(["id", *fields]).lower()
        return set(self.execute(f"select {columns} from zoho.{module.lower()}"))

    def after_run(self) -> None:
        """The README's SQL for this target: deletions, and (DuckDB) full-table child tables."""
        target = "postgres" if self.server is not None else "duckdb"
        for module in ("Quotes", "Products", "Contacts", "Deals"):
            self.execute(deletion_sql(target, module))
        if self.server is None:  # target-duckdb ignores ACTIVATE_VERSION
            for module in ("Quoted_Items", "Contacts_X_Deals"):
                self.execute(full_table_sql(module))

    def close(self) -> None:
        if self.server is not None:
            self.server.cleanup()


def truth_rows(url: str, module: str) -> set[tuple]:
    fields = COMPARED_FIELDS.get(module, [])
    rows = ground_truth(url, module, fields=",".join(fields))
    return {(row["id"], *(row[name] for name in fields)) for row in rows}


@pytest.mark.parametrize("target", ["target-duckdb", "target-postgres"])
def test_after_child_rows_change_and_records_are_restored_every_table_equals_zoho(
    emulator, tmp_path, target
) -> None:
    """Line items edited, removed and added, links removed and added, Contacts deleted and
    restored (two of them deleted before the first run, so never loaded): after the second run
    and the README's SQL, every table holds exactly what Zoho holds."""
    warehouse = Warehouse(target, tmp_path)
    admin = f"{emulator.url}/__emulator__"

    def change(path: str, body: dict) -> dict:
        answer = requests.post(f"{admin}/{path}", json=body, timeout=30)
        answer.raise_for_status()
        return answer.json()  # type: ignore[no-any-return]

    try:
        env = {
            **emulator_env(emulator, tmp_path),
            "TAP_ZOHO_BULKREAD_MODULES": json.dumps(CHANGING),
            **warehouse.env(),
        }
        binned = change("delete", {"module": "Contacts", "count": 2})["deleted"]
        meltano_run(env, target)
        warehouse.after_run()
        for module in CHANGING:
            assert warehouse.rows(module, COMPARED_FIELDS.get(module, [])) == truth_rows(
                emulator.url, module
            ), module

        time.sleep(1.1)  # the changes land after the first run's bookmark second
        edited = change("mutate", {"module": "Quoted_Items", "update": 5})["updated"]
        removed = change("delete", {"module": "Quoted_Items", "count": 4})["deleted"]
        change("mutate", {"module": "Quoted_Items", "create": 3})
        unlinked = change("delete", {"module": "Contacts_X_Deals", "count": 3})["deleted"]
        change("mutate", {"module": "Contacts_X_Deals", "create": 2})
        gone = change("delete", {"module": "Contacts", "count": 2})["deleted"]
        restored = change("restore", {"module": "Contacts", "ids": binned})["restored"]
        second = meltano_run(env, target)
        warehouse.after_run()
        # each module took the path its changes call for, and the log says which and why
        assert "Deals: no bulk read job: the records API lists nothing created" in second.stderr
        assert "Products: no bulk read job" in second.stderr
        assert "Quoted_Items: Query API: a record of Quotes was modified" in second.stderr
        assert "Contacts_X_Deals: Query API: a linking module is read in full" in second.stderr
        assert "Contacts: bulk read: records restored from the recycle bin" in second.stderr
        for module in CHANGING:
            loaded = warehouse.rows(module, COMPARED_FIELDS.get(module, []))
            assert loaded == truth_rows(emulator.url, module), module
        ids = {m: {row[0] for row in warehouse.rows(m, [])} for m in CHANGING}
        assert set(restored) == set(binned) and set(binned) <= ids["Contacts"]
        assert not set(gone) & ids["Contacts"] and not set(removed) & ids["Quoted_Items"]
        assert not set(unlinked) & ids["Contacts_X_Deals"]
        descriptions = dict(warehouse.rows("Quoted_Items", ["Description"]))
        live_edits = set(edited) - set(removed)
        assert live_edits and all(descriptions[i].startswith("Updated ") for i in live_edits)
    finally:
        warehouse.close()


# -- the record set: a lead converted after the first run reaches the warehouse --------------

CONVERSION_COLUMNS = ["$converted", "Converted__s", "Converted_Contact", "Converted_Account"]
RECORD_SET_MODES = {
    # the Query API returns converted leads: the records API agrees, COQL reads the change
    "coql-returns-them": ("all", {}, "Leads: Query API: "),
    # the Query API leaves them out: the records API lists one more, the module takes its job
    "coql-leaves-them-out": ("records_api_default", {}, "Leads: bulk read: "),
    "bulk_only": ("all", {"TAP_ZOHO_BULKREAD_BULK_ONLY": "true"}, "Leads: bulk read: "),
}


def converted_row(warehouse: Warehouse, lead: str) -> tuple:
    """The lead's conversion columns and Converted_Date_Time (UTC text) as loaded."""
    if warehouse.server is not None:
        columns = ", ".join(f'"{name}"' for name in [*CONVERSION_COLUMNS, "Converted_Date_Time"])
        sql = f"select {columns} from zoho.\"Leads\" where id = '{lead}'"
    else:
        columns = ", ".join(f'"{name.lower()}"' for name in CONVERSION_COLUMNS)
        sql = f"select {columns}, converted_date_time from zoho.leads where id = '{lead}'"
    (row,) = warehouse.execute(sql)
    *state, when = row
    stamp = when if isinstance(when, str) or when is None else utc_text(when)
    return (*state, stamp.replace("Z", "+00:00") if isinstance(stamp, str) else stamp)


@pytest.mark.parametrize("mode", list(RECORD_SET_MODES))
@pytest.mark.parametrize("target", ["target-duckdb", "target-postgres"])
def test_a_lead_converted_after_the_first_run_arrives_with_its_conversion(
    tmp_path, target, mode
) -> None:
    """Leads on Modified_Time; one old lead is converted and nothing else in Leads changes.

    Zoho's records API hides converted leads unless asked (converted=both); the next run must
    still bring the lead, converted, with the new contact's id and the time, on every path."""
    coql_record_set, extra_env, path = RECORD_SET_MODES[mode]
    warehouse = Warehouse(target, tmp_path)
    with Emulator(job_seconds=0.05, download_limit=10_000, coql_record_set=coql_record_set) as emu:
        try:
            env = {
                **emulator_env(emu, tmp_path),
                "TAP_ZOHO_BULKREAD_MODULES": json.dumps(["Leads"]),
                "TAP_ZOHO_BULKREAD_MODULE_SETTINGS": json.dumps(
                    {"Leads": {"replication_key": "Modified_Time"}}
                ),
                **extra_env,
                **warehouse.env(),
            }
            meltano_run(env, target)
            truth = ground_truth(emu.url, "Leads", fields="$converted,Record_Approval_Status")
            old = next(
                r["id"]
                for r in sorted(truth, key=lambda r: r["Modified_Time"])
                if not r["$converted"] and r["Record_Approval_Status"] == "Approved"
            )
            assert converted_row(warehouse, old)[0] is False

            time.sleep(1.1)  # the conversion lands after the first run's bookmark second
            answer = requests.post(
                f"{emu.url}/__emulator__/convert",
                json={"module": "Leads", "ids": [old]},
                timeout=10,
            )
            answer.raise_for_status()
            (made,) = answer.json()["converted"]
            second = meltano_run(env, target)

            assert path in second.stderr, second.stderr[-3000:]
            (after,) = [
                r
                for r in ground_truth(emu.url, "Leads", fields="Converted_Date_Time")
                if r["id"] == old
            ]
            assert converted_row(warehouse, old) == (
                True, True, made["contact"], made["account"], after["Converted_Date_Time"]
            )  # fmt: skip
            asked = [
                entry.get("query", {})
                for entry in requests.get(f"{emu.url}/__emulator__/requests", timeout=10).json()
                if entry["path"] == "/crm/v8/Leads"
            ]
            assert asked or mode == "bulk_only"
            assert all(q.get("converted") == q.get("approved") == "both" for q in asked), asked
        finally:
            warehouse.close()


@pytest.mark.parametrize("target", ["target-duckdb", "target-postgres"])
def test_a_child_module_zoho_empties_is_empty_in_the_warehouse_after_the_next_run(
    emulator, tmp_path, target
) -> None:
    """Every price tier removed in Zoho: the next run reads the subform whole and finds no row;
    Full_Table_Reads lists that read with 0 rows, and the README's SQL (DuckDB) or
    ACTIVATE_VERSION (Postgres) leaves the table empty, as Zoho's is."""
    warehouse = Warehouse(target, tmp_path)
    modules = ["Products", "Price_Tiers"]
    try:
        env = {
            **emulator_env(emulator, tmp_path),
            "TAP_ZOHO_BULKREAD_MODULES": json.dumps(modules),
            **warehouse.env(),
        }
        meltano_run(env, target)
        loaded = warehouse.rows("Price_Tiers", [])
        assert loaded and {r[0] for r in loaded} == {
            t["id"] for t in ground_truth(emulator.url, "Price_Tiers")
        }

        time.sleep(1.1)  # the removals land after the first run's bookmark second
        answer = requests.post(
            f"{emulator.url}/__emulator__/delete",
            json={"module": "Price_Tiers", "count": len(loaded)},
            timeout=10,
        )
        answer.raise_for_status()
        assert ground_truth(emulator.url, "Price_Tiers") == []
        meltano_run(env, target)
        if warehouse.server is None:  # target-duckdb ignores ACTIVATE_VERSION: the README's SQL
            warehouse.execute(full_table_sql("Price_Tiers"))
            reads = warehouse.execute(
                "select zoho_table_version, row_count from zoho.full_table_reads "
                "where stream = 'Price_Tiers' order by zoho_table_version"
            )
        else:
            reads = warehouse.execute(
                'select zoho_table_version, row_count from zoho."Full_Table_Reads" '
                "where stream = 'Price_Tiers' order by zoho_table_version"
            )
        assert [count for _, count in reads] == [len(loaded), 0]
        assert warehouse.rows("Price_Tiers", []) == set()
        assert {r[0] for r in warehouse.rows("Products", [])} == {
            t["id"] for t in ground_truth(emulator.url, "Products")
        }
    finally:
        warehouse.close()


# -- a user's own Meltano project, from the built wheel and the plugin definition -------------

TARGET_JSONL = """\
name: target-jsonl
namespace: target_jsonl
pip_url: target-jsonl==0.1.4
executable: target-jsonl
settings:
- name: destination_path
  kind: string
- name: do_timestamp_file
  kind: boolean
  value: false
"""


def meltano_in(project_dir: Path, env: dict[str, str], *args: str) -> str:
    """One Meltano command in the user's project; it must succeed without a traceback."""
    result = subprocess.run(
        [str(MELTANO), *args], cwd=project_dir, env=env, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, f"meltano {' '.join(args)}\n{result.stderr[-4000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-4000:]
    return result.stdout + result.stderr


def test_a_new_meltano_project_adds_the_tap_from_its_definition_and_runs_it_twice(
    tmp_path: Path,
) -> None:
    """As the README tells a user: the wheel, `meltano add extractor --from-ref` with the
    repository's definition, the emulator installed alone with `pip install ./emulator`, secrets
    through `meltano config set` (into .env), modules and stream_maps as JSON, two runs."""
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(dist)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = dist.glob("*.whl")
    definition = (ROOT / "plugin" / "tap-zoho-bulkread.yml").read_text()
    assert "pip_url: tap-zoho-bulkread[fast]\n" in definition
    own = tmp_path / "tap-zoho-bulkread.yml"  # only the package's location differs: no index
    own.write_text(definition.replace(
        "pip_url: tap-zoho-bulkread[fast]\n", f"pip_url: tap-zoho-bulkread[fast]@{wheel.as_uri()}\n"
    ))  # fmt: skip
    (tmp_path / "target-jsonl.yml").write_text(TARGET_JSONL)

    emulator_venv = tmp_path / "emulator-venv"
    for command in (
        [sys.executable, "-m", "venv", str(emulator_venv)],
        [str(emulator_venv / "bin" / "pip"), "install", "--quiet", str(ROOT / "emulator")],
    ):
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    server = subprocess.Popen(
        [str(emulator_venv / "bin" / "zoho-bulkread-emulator"), "--port", "0",
         "--job-seconds", "0.05", "--download-limit", "1000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip().removeprefix("listening on ")
        assert url.startswith("http://127.0.0.1:"), server.stderr.read() if server.stderr else ""
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TAP_ZOHO", "MELTANO_"))},
            "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",  # uv, for the venvs
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_VENV_BACKEND": "uv",
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        }
        meltano_in(tmp_path, env, "init", "project", "--no-usage-stats")
        folder = tmp_path / "project"
        meltano_in(folder, env, "add", "extractor", "tap-zoho-bulkread", "--from-ref", str(own))
        meltano_in(folder, env, "add", "loader", "target-jsonl", "--from-ref",
                   str(tmp_path / "target-jsonl.yml"))  # fmt: skip
        for name, value in [
            ("client_id", "emulator-client-id"),
            ("client_secret", "emulator-client-secret"),
            ("refresh_token", "emulator-refresh-token"),
            ("accounts_url", url),
            ("modules", '["Leads", "Accounts"]'),
            ("stream_maps", '{"Leads": {"Email": "__NULL__"}}'),
        ]:
            meltano_in(folder, env, "config", "set", "tap-zoho-bulkread", name, value)
        meltano_in(folder, env, "config", "set", "target-jsonl", "destination_path",
                   str(tmp_path / "jsonl"))  # fmt: skip
        (tmp_path / "jsonl").mkdir()
        secrets = (folder / ".env").read_text()
        assert "emulator-client-secret" in secrets and "emulator-refresh-token" in secrets
        assert "emulator-client-secret" not in (folder / "meltano.yml").read_text()

        tested = meltano_in(folder, env, "invoke", "tap-zoho-bulkread", "--test")
        assert "--test read one record through the records API" in tested
        log = requests.get(f"{url}/__emulator__/requests", timeout=10).json()
        assert not [e for e in log if "/bulk/" in e["path"]]  # --test made no bulk read job
        first = meltano_in(folder, env, "run", "tap-zoho-bulkread", "target-jsonl")
        # the tap's own levels reach Meltano's log (structured-logging): a refused field warns
        assert re.search(r"\[warning\s*\].*nearby_distance__s", first), first[-3000:]
        leads = [json.loads(line) for line in (tmp_path / "jsonl" / "Leads.jsonl").open()]
        assert {r["id"] for r in leads} == {t["id"] for t in ground_truth(url, "Leads")}
        assert not any("Email" in r for r in leads)  # the stream map took it out

        time.sleep(1.1)  # the new Leads after the first run's bookmark second
        created = requests.post(
            f"{url}/__emulator__/mutate", json={"module": "Leads", "create": 3}, timeout=10
        ).json()["created"]
        second = meltano_in(folder, env, "run", "tap-zoho-bulkread", "target-jsonl")
        assert "Leads: Query API" in second  # incremental: the 3 new ones, no job
        lines = (tmp_path / "jsonl" / "Leads.jsonl").read_text().splitlines()
        assert set(created) <= {json.loads(line)["id"] for line in lines[len(leads) :]}

        (state_id,) = [
            line.strip()
            for line in meltano_in(folder, env, "state", "list").splitlines()
            if line.strip().endswith("tap-zoho-bulkread-to-target-jsonl")
        ]
        printed = meltano_in(folder, env, "state", "get", state_id)
        state = json.loads(next(line for line in printed.splitlines() if line.startswith("{")))
        bookmarks = state["singer_state"]["bookmarks"]
        assert bookmarks["Leads"]["replication_key_value"] >= max(
            t["Created_Time"] for t in ground_truth(url, "Leads")
        )
        assert "replication_key_value" in bookmarks["Accounts"]
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_two_meltano_jobs_at_once_share_one_org_with_state_in_postgres(tmp_path: Path) -> None:
    """The README's "Beyond one machine", as written: two jobs of one org at once.

    A new project with the README's two inherited extractors; Meltano's state in Postgres; the
    README's commands, the two jobs started together. The emulator pages every 250 rows, so the
    jobs need 14 downloads together and must share Zoho's 10 a minute without a 429.
    """
    import pgserver
    import psycopg
    import yaml

    section = (ROOT / "README.md").read_text().split("## Beyond one machine")[1]
    extractors = yaml.safe_load(re.findall(r"```yaml\n(.*?)```", section, re.S)[0])
    jobs = {p["name"]: p["config"]["modules"] for p in extractors["plugins"]["extractors"]}
    assert len(jobs) == 2
    folder = project(tmp_path)
    definition = yaml.safe_load((folder / "meltano.yml").read_text())
    definition["plugins"]["extractors"] += extractors["plugins"]["extractors"]
    (folder / "meltano.yml").write_text(yaml.safe_dump(definition, sort_keys=False))
    server = pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")
    try:
        postgres = f"postgresql://postgres@/postgres?host={server.pgdata}"
        with psycopg.connect(postgres, autocommit=True) as connection:
            connection.execute("create database meltano")
        with Emulator(job_seconds=0.05, per_page=250) as org:  # Zoho's 10 downloads a minute
            env = meltano_env(
                tmp_path,
                MELTANO_ENVIRONMENT="emulator",
                MELTANO_DATABASE_URI=f"postgresql+psycopg://postgres@/meltano?host={server.pgdata}",
                TAP_ZOHO_BULKREAD_ACCOUNTS_URL=org.url,
                TAP_ZOHO_BULKREAD_CLIENT_ID="emulator-client-id",
                TAP_ZOHO_BULKREAD_CLIENT_SECRET="emulator-client-secret",
                TAP_ZOHO_BULKREAD_REFRESH_TOKEN="emulator-refresh-token",
                TAP_ZOHO_BULKREAD_QUERY_API_MAX_RECORDS="0",  # every table through bulk read
                TARGET_POSTGRES_SQLALCHEMY_URL=postgres.replace(
                    "postgresql:", "postgresql+psycopg:"
                ),
            )
            first, *together = [line.strip() for line in readme_block("## Beyond one machine")]
            assert first == "meltano upgrade database" and len(together) == 2
            run_lines([first], folder, env)
            started = [
                subprocess.Popen(
                    ["bash", "-c", line],
                    cwd=folder,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for line in together
            ]
            for line, job in zip(together, started, strict=True):
                _, stderr = job.communicate(timeout=600)
                assert job.returncode == 0, (line, stderr[-6000:])
                assert "Traceback" not in stderr, stderr[-3000:]

            log = requests.get(f"{org.url}/__emulator__/requests", timeout=10).json()
            downloads = [e for e in log if e["path"].endswith("/result")]
            assert len(downloads) == 14 and [e for e in log if e.get("status") == 429] == []
            listed = run_lines(["meltano state list"], folder, env)["meltano state list"]
            for (name, modules), line in zip(jobs.items(), together, strict=True):
                schema = re.search(r"SCHEMA=(\w+)", line)
                assert schema and name in line, line
                for module in modules:
                    loaded = {
                        r[0] for r in pg_rows(server, f'select id from {schema[1]}."{module}"')
                    }
                    assert loaded == {t["id"] for t in ground_truth(org.url, module)}, module
                state_id = f"emulator:{name}-to-target-postgres"
                assert state_id in listed, listed
                kept = subprocess.run(
                    [str(MELTANO), "state", "get", state_id], cwd=folder, env=env,
                    capture_output=True, text=True, timeout=300, check=True,
                )  # fmt: skip
                bookmarks = json.loads(kept.stdout)["singer_state"]["bookmarks"]
                incremental = {m for m in bookmarks if "replication_key_value" in bookmarks[m]}
                assert incremental == set(modules), (name, sorted(bookmarks))
    finally:
        server.cleanup()
