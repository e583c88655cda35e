"""`make demo`: the main job, end to end, against the local Zoho emulator.

Starts the emulator, runs `meltano run tap-zoho-bulkread target-duckdb` into a DuckDB file,
checks every table against the emulator's ground truth, changes some records, runs again to
show the incremental run, and stops the emulator.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".demo"
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
EMULATOR = ROOT / ".venv" / "bin" / "zoho-bulkread-emulator"
DATABASE = WORK / "warehouse.duckdb"


def admin(url: str, path: str, body: dict | None = None) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{url}/__emulator__/{path}", data=data, method="POST" if data else "GET"
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()  # type: ignore[no-any-return]


def ground_truth_counts(url: str, modules: list[str]) -> dict[str, int]:
    return {m: len(admin(url, f"records/{m}").splitlines()) for m in modules}


def table_counts() -> dict[str, int]:
    import duckdb

    with duckdb.connect(str(DATABASE), read_only=True) as connection:
        tables = [
            row[0]
            for row in connection.sql(
                "select table_name from information_schema.tables "
                "where table_schema = 'zoho' order by 1"
            ).fetchall()
        ]
        counts = {}
        for table in tables:
            row = connection.sql(f"select count(*) from zoho.{table}").fetchone()
            counts[table] = int(row[0]) if row else 0
        return counts


def meltano_run(env: dict[str, str], label: str) -> dict[str, int]:
    print(f"\n== {label}: meltano run tap-zoho-bulkread target-duckdb", flush=True)
    started = time.monotonic()
    result = subprocess.run(
        [str(MELTANO), "run", "tap-zoho-bulkread", "target-duckdb"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    (WORK / f"{label.replace(' ', '-')}.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        print(result.stderr[-4000:], file=sys.stderr)
        raise SystemExit(f"meltano run failed (exit {result.returncode}); see {WORK}")
    emitted = {
        m: int(n)
        for m, n in re.findall(
            r"tap-zoho-bulkread[^|\n]*?\|? ([A-Za-z_]\w*): (\d+) records in", result.stderr
        )
    }
    print(
        f"   finished in {time.monotonic() - started:.1f}s; records emitted per module: {emitted}"
    )
    return emitted


def report(truth: dict[str, int], tables: dict[str, int]) -> bool:
    print(f"   {'module':<14}{'emulator':>10}{'duckdb':>10}")
    good = True
    for module, count in sorted(truth.items()):
        loaded = tables.get(module.lower(), 0)
        good &= loaded == count
        print(f"   {module:<14}{count:>10}{loaded:>10}{'' if loaded == count else '   MISMATCH'}")
    return good


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    emulator = subprocess.Popen(
        # a higher download limit only so that two runs back to back do not wait out Zoho's
        # per-minute download window; the tap itself still keeps to 10 a minute per run
        [str(EMULATOR), "--port", "0", "--job-seconds", "1", "--download-limit", "100"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        url = emulator.stdout.readline().strip().removeprefix("listening on ")
        print(f"== Zoho emulator {url}")
        env = {
            **os.environ,
            "MELTANO_ENVIRONMENT": "emulator",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_DATABASE_URI": f"sqlite:///{WORK / 'meltano.db'}",
            "TAP_ZOHO_BULKREAD_ACCOUNTS_URL": url,
            # the emulator's own dummy credentials, not secrets
            "TAP_ZOHO_BULKREAD_CLIENT_ID": "emulator-client-id",
            "TAP_ZOHO_BULKREAD_CLIENT_SECRET": "emulator-client-secret",
            "TAP_ZOHO_BULKREAD_REFRESH_TOKEN": "emulator-refresh-token",
            "TARGET_DUCKDB_FILEPATH": str(DATABASE),
        }
        first = meltano_run(env, "first run")
        modules = sorted(first)
        if not modules:
            raise SystemExit(f"the tap reported no module; see {WORK}")
        truth = ground_truth_counts(url, modules)
        ok = report(truth, table_counts())

        print("\n== changing data in Zoho: 25 new Leads, 10 new Contacts, 5 Leads updated")
        admin(url, "mutate", {"module": "Leads", "create": 25, "update": 5})
        admin(url, "mutate", {"module": "Contacts", "create": 10})
        second = meltano_run(env, "second run")
        truth = ground_truth_counts(url, modules)
        ok &= report(truth, table_counts())
        print(
            f"\n   the second run read {sum(second.values())} records instead of "
            f"{sum(truth.values())}: the 35 new ones plus the records sitting exactly on each "
            "bookmark (greater_equal re-reads the boundary; the target upserts them by id)."
        )
        verdict = "OK: every table matches the emulator" if ok else "FAILED: counts differ"
        print(f"\n== {verdict}; DuckDB file: {DATABASE}")
        return 0 if ok else 1
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
