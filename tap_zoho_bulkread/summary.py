"""The closing lines of a run: per stream records, pages and time; totals; downloads and waits."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any


def plural(count: int | float, noun: str, nouns: str | None = None) -> str:
    """``1 page``, ``2 pages``, ``0 records``: a count with its noun in the right number."""
    word = noun if count == 1 else (nouns or f"{noun}s")
    return f"{count:g} {word}" if isinstance(count, float) else f"{count} {word}"


@dataclass
class StreamTally:
    """What one stream did in this run."""

    records: int = 0
    pages: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class TableRead:
    """A full-table read that completed: its stream, table version, rows and when."""

    stream: str
    version: int
    rows: int
    finished_at: str

    def record(self) -> dict[str, Any]:
        """The read as a Full_Table_Reads record."""
        return {
            "stream": self.stream,
            "zoho_table_version": self.version,
            "row_count": self.rows,
            "finished_at": self.finished_at,
        }


class RunSummary:
    """Tallies the streams report as they finish, for the run's last lines."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.streams: dict[str, StreamTally] = {}
        self.lock = threading.Lock()
        self._table_reads: list[TableRead] = []

    def table_read(self, stream: str, version: int, rows: int) -> None:
        """Note a full-table read that completed (its table version now holds every row)."""
        finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self.lock:
            self._table_reads.append(TableRead(stream, version, rows, finished))

    def table_reads(self) -> list[TableRead]:
        """The full-table reads completed so far in this run."""
        with self.lock:
            return list(self._table_reads)

    def add(self, stream: str, *, records: int = 0, seconds: float = 0.0, pages: int = 0) -> None:
        """Count a stream's records, export pages and time."""
        with self.lock:
            tally = self.streams.setdefault(stream, StreamTally())
            tally.records += records
            tally.pages += pages
            tally.seconds += seconds

    def metrics_handler(self) -> logging.Handler:
        """A handler for singer-sdk's metrics logger that tallies records and sync time."""
        return _MetricTally(self)

    def lines(self, downloads: int, download_wait: float) -> list[str]:
        """The summary: a line per stream, then the totals."""
        found = [
            f"Summary: {name}: {plural(t.records, 'record')}"
            + (f" from {plural(t.pages, 'page')}" if t.pages else "")
            + f" in {t.seconds:.1f}s"
            for name, t in self.streams.items()
        ]
        total = sum(t.records for t in self.streams.values())
        found.append(
            f"Summary: {plural(total, 'record')} from {plural(len(self.streams), 'stream')} in "
            f"{time.monotonic() - self.started:.1f}s; {plural(downloads, 'download')}, "
            f"{download_wait:.1f}s waited for Zoho's download limit"
        )
        return found


class _MetricTally(logging.Handler):
    """Reads singer-sdk's METRIC records (``record_count``, ``sync_duration``) per stream."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__(logging.DEBUG)
        self.summary = summary

    def emit(self, record: logging.LogRecord) -> None:
        """Tally one metric point, if it is one of those the summary shows."""
        args: Any = record.args
        point = args[0] if isinstance(args, tuple) and args else None
        metric = getattr(getattr(point, "metric", None), "value", None)
        stream = getattr(point, "tags", {}).get("stream")
        value = getattr(point, "value", None)
        if not isinstance(stream, str) or not isinstance(value, (int, float)):
            return
        if metric == "record_count":
            self.summary.add(stream, records=int(value))
        elif metric == "sync_duration":
            self.summary.add(stream, seconds=float(value))
