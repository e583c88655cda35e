"""The tap with and without the ``fast`` extra: the same messages, whole run against whole run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tap_runner import TapRun, discover, run_tap, select, tap_config
from zoho_bulkread_emulator import Emulator


def without_pyarrow(folder: Path) -> dict[str, str]:
    """An environment in which ``import pyarrow`` fails, as without the ``fast`` extra."""
    shadow = folder / "no-pyarrow" / "pyarrow"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('pyarrow is not installed')\n")
    return {"PYTHONPATH": str(shadow.parent)}


def comparable(run: TapRun) -> tuple[list, list, dict]:
    """What two runs must share: every record, the order of messages, the final bookmarks."""
    records = []
    for message in run.messages:
        if message["type"] == "RECORD":
            record = dict(message["record"])
            # a full-table run's version differs from run to run; it is the message's own
            assert record.pop("zoho_table_version", message.get("version")) == message.get(
                "version"
            )
            records.append((message["stream"], record))
    order = [(m["type"], m.get("stream")) for m in run.messages]
    marks = {
        stream: mark.get("replication_key_value")
        for stream, mark in run.final_state["bookmarks"].items()
    }
    return records, order, marks


@pytest.mark.slow
def test_the_tap_writes_the_same_messages_with_and_without_pyarrow(tmp_path: Path) -> None:
    records = {("crm", "Leads"): 5000, ("crm", "Wide_Records"): 2500, ("crm", "Quotes"): 400}
    records[("crm", "Price_Tiers")] = 500
    streams = {"Leads": None, "Wide_Records": None, "Quoted_Items": None, "Price_Tiers": None}
    with Emulator(job_seconds=0.0, per_page=2000, records=records, download_limit=10_000) as emu:
        config = tap_config(
            emu.url,
            modules=["Leads", "Wide_Records", "Quotes", "Quoted_Items", "Products", "Price_Tiers"],
        )
        catalog = select(discover(tmp_path, config), streams)
        fast = run_tap(tmp_path / "fast", config, catalog=catalog)
        plain = run_tap(tmp_path / "plain", config, catalog=catalog, env=without_pyarrow(tmp_path))
    assert fast.returncode == 0 and plain.returncode == 0, (
        fast.stderr[-3000:] + plain.stderr[-3000:]
    )
    assert "pyarrow is not installed" in plain.stderr
    assert "pyarrow is not installed" not in fast.stderr
    assert "strict decoder" not in fast.stderr  # Arrow read every page itself
    assert comparable(fast) == comparable(plain)
    assert len(fast.records("Leads")) == 5000 and len(fast.records("Wide_Records")) == 2500
    assert fast.records("Quoted_Items") and fast.records("Price_Tiers")
