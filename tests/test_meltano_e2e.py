"""End to end: `meltano run tap-zoho-bulkread <target>` against the emulator, checked in the files."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import requests

from tap_zoho_bulkread.emulator import Emulator
from tests.tap_runner import job_bodies
from tests.zoho_client import ground_truth

ROOT = Path(__file__).resolve().parents[1]
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
MODULES = ["Leads", "Contacts", "Calls"]

pytestmark = pytest.mark.slow


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(job_seconds=0.05, download_limit=10_000) as emu:
        yield emu


def meltano_env(emulator: Emulator, tmp_path: Path) -> dict[str, str]:
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


def meltano_run(env: dict[str, str], target: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(MELTANO), "run", "tap-zoho-bulkread", target],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def test_meltano_run_into_target_jsonl_delivers_every_record(emulator, tmp_path) -> None:
    env = meltano_env(emulator, tmp_path)
    (tmp_path / "jsonl").mkdir()
    meltano_run(env, "target-jsonl")
    for module in MODULES:
        lines = (tmp_path / "jsonl" / f"{module}.jsonl").read_text().splitlines()
        ids = sorted(json.loads(line)["id"] for line in lines)
        assert ids == sorted(t["id"] for t in ground_truth(emulator.url, module)), module


def test_meltano_run_into_duckdb_twice_loads_only_new_records_the_second_time(
    emulator, tmp_path
) -> None:
    env = meltano_env(emulator, tmp_path)
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
    meltano_run(env, "target-duckdb")
    second = table_ids(database)
    assert second["leads"] == first["leads"] | set(created)
    assert second["contacts"] == first["contacts"]
    new_jobs = job_bodies(emulator.url)[jobs_before:]
    assert len(new_jobs) == len(MODULES)
    assert all(job["query"]["criteria"]["comparator"] == "greater_equal" for job in new_jobs)


def table_ids(database: Path) -> dict[str, set[str]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return {
            module.lower(): {
                row[0] for row in connection.sql(f"select id from zoho.{module.lower()}").fetchall()
            }
            for module in MODULES
        }
