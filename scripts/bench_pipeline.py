"""`make bench` part 4: whole pipelines, tap | target, RECORD against BATCH, side by side.

Each pipeline is the tap's stdout piped into a target's stdin, as `meltano run` does, against
the emulator in its own process and a throwaway Postgres (`pgserver`). Printed per pipeline:
wall time, rows per second, and each side's peak RSS; then BATCH against RECORD.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LOADERS = ROOT / ".meltano" / "loaders"


def _select_all(catalog: dict[str, Any], stream: str) -> dict[str, Any]:
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            item["metadata"]["selected"] = entry["tap_stream_id"] == stream
    return catalog


def _wait(process: subprocess.Popen[bytes]) -> tuple[int, float]:
    """Wait for a child; its exit status and its own peak RSS in MB."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_maxrss / 1024


def run_pipeline(
    tap: list[str], config: dict[str, Any], work: Path, target: list[str] | None, name: str
) -> dict[str, float]:
    """Run tap (| target); wall seconds and both sides' peak RSS."""
    config_path = work / f"{name}-tap.json"
    config_path.write_text(json.dumps(config))
    started = time.monotonic()
    sink = open(os.devnull, "wb")  # noqa: SIM115 - closed below, after both processes end
    tap_log = open(work / f"{name}-tap.log", "wb")  # noqa: SIM115
    producer = subprocess.Popen(
        [*tap, "--config", str(config_path), "--catalog", str(work / "catalog.json")],
        stdout=subprocess.PIPE if target else sink,
        stderr=tap_log,
    )
    consumer = None
    if target:
        target_log = open(work / f"{name}-target.log", "wb")  # noqa: SIM115
        consumer = subprocess.Popen(target, stdin=producer.stdout, stdout=sink, stderr=target_log)
        assert producer.stdout is not None
        producer.stdout.close()
    tap_code, tap_mb = _wait(producer)
    target_code, target_mb = _wait(consumer) if consumer else (0, 0.0)
    elapsed = time.monotonic() - started
    sink.close()
    tap_log.close()
    if tap_code or target_code:
        logs = sorted(work.glob(f"{name}-*.log"))
        tails = "\n".join(f"{p.name}: {p.read_text(errors='replace')[-1500:]}" for p in logs)
        raise SystemExit(f"{name} failed (tap {tap_code}, target {target_code}):\n{tails}")
    return {"seconds": elapsed, "tap_mb": tap_mb, "target_mb": target_mb}


def pipeline_benchmark(
    emulator_url: str, tap: list[str], credentials: dict[str, str], work: Path, rows: int
) -> dict[str, dict[str, float]]:
    """Every pipeline of the table in docs/performance.md, on ``rows`` Leads (all fields)."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(work))  # pgserver's sockets; quiet without one
    import pgserver
    import psycopg

    config = {**credentials, "accounts_url": emulator_url, "modules": ["Leads"],
              "poll_interval_seconds": 0.5}  # fmt: skip
    config_path = work / "discover.json"
    config_path.write_text(json.dumps(config))
    found = subprocess.run(
        [*tap, "--config", str(config_path), "--discover"], capture_output=True, check=True
    )
    catalog = _select_all(json.loads(found.stdout), "Leads")
    (work / "catalog.json").write_text(json.dumps(catalog))
    batch = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": (work / "batches").as_uri()},
        "batch_size": 50_000,
    }
    server = pgserver.get_server(work / "pg", cleanup_mode="stop")
    url = f"postgresql+psycopg://postgres@/postgres?host={server.pgdata}"
    results: dict[str, dict[str, float]] = {}
    try:
        plans: list[tuple[str, dict[str, Any], str | None, dict[str, Any]]] = [
            ("tap alone, RECORD", config, None, {}),
            ("tap alone, BATCH", {**config, "batch_config": batch}, None, {}),
            ("target-postgres, RECORD (defaults)", config, "target-postgres", {}),
            ("target-postgres, RECORD, validate_records off", config, "target-postgres",
             {"validate_records": False}),
            ("target-postgres, BATCH", {**config, "batch_config": batch}, "target-postgres",
             {"validate_records": False}),
            ("target-postgres, BATCH, use_copy", {**config, "batch_config": batch},
             "target-postgres", {"validate_records": False, "use_copy": True}),
            ("target-duckdb, RECORD (it refuses BATCH)", config, "target-duckdb", {}),
        ]  # fmt: skip
        for number, (label, tap_config, loader, settings) in enumerate(plans):
            target = None
            schema = f"bench{number}"
            if loader == "target-postgres":
                target_config = {"sqlalchemy_url": url, "default_target_schema": schema,
                                 "add_record_metadata": True, "activate_version": True,
                                 "hard_delete": True, **settings}  # fmt: skip
            else:
                target_config = {"filepath": str(work / "bench.duckdb"),
                                 "default_target_schema": schema}  # fmt: skip
            if loader:
                (work / f"{schema}.json").write_text(json.dumps(target_config))
                executable = LOADERS / loader / "venv" / "bin" / loader
                target = [str(executable), "--config", str(work / f"{schema}.json")]
            result = run_pipeline(tap, tap_config, work, target, schema)
            if loader == "target-postgres":
                with psycopg.connect(f"postgresql://postgres@/postgres?host={server.pgdata}") as db:
                    (loaded,) = db.execute(f'select count(*) from {schema}."Leads"').fetchone()
            elif loader == "target-duckdb":
                import duckdb

                with duckdb.connect(str(work / "bench.duckdb"), read_only=True) as db:
                    (loaded,) = db.sql(f"select count(*) from {schema}.leads").fetchone()
            else:
                loaded = rows
            if loaded != rows:
                raise SystemExit(f"{label}: {loaded} rows loaded, {rows} exported")
            results[label] = result
            print(
                f"   {label:<48} {result['seconds']:7.1f}s {rows / result['seconds']:>9,.0f} rows/s"
                f"   tap {result['tap_mb']:5.0f} MB   target {result['target_mb']:5.0f} MB",
                flush=True,
            )
    finally:
        server.cleanup()
    record = results["target-postgres, RECORD, validate_records off"]["seconds"]
    defaults = results["target-postgres, RECORD (defaults)"]["seconds"]
    for label in ("target-postgres, BATCH", "target-postgres, BATCH, use_copy"):
        seconds = results[label]["seconds"]
        print(
            f"   {label}: {defaults / seconds:.2f}x faster than RECORD with the target's "
            f"defaults (target >= 2x), {record / seconds:.2f}x than RECORD without validation"
        )
    print(f"   RECORD, validate_records off vs on: {defaults / record:.2f}x faster")
    taps = [r["tap_mb"] for r in results.values()]
    print(f"   tap peak RSS across all pipelines: {min(taps):.0f}-{max(taps):.0f} MB (flat)")
    return results
