"""The module streams of a run in their order: who comes next, and what each kept of its bin.

The tap's parts ask through this, by name, what only the streams know: the bulk jobs to create
ahead for the streams after the current one, and the recycle bin each module kept at the last
run. Nothing below the streams calls into a stream directly.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, cast

from tap_zoho_bulkread.bulk.jobs import BulkReader, create_jobs_ahead
from tap_zoho_bulkread.streams.deletions import DeletedRecordsStream
from tap_zoho_bulkread.streams.modules import ZohoModuleStream
from tap_zoho_bulkread.zoho.recycle_bin import RECYCLE_SEEN_KEY, decode_ids

if TYPE_CHECKING:
    from singer_sdk import Tap

    from tap_zoho_bulkread.run_parts import PartsHolder


class ModuleStreams:
    """The tap's module streams, as the jobs scheduler and the restore finder see them.

    ``reads_at_once``: how many modules are checked (and read through the Query API) ahead of
    their turn at the same time, in threads of their own; None: as many as the org's edition
    allows, asked of the run's parts when a module first could be read ahead.
    """

    def __init__(self, tap: Tap, reads_at_once: int | None = 0) -> None:
        self.tap = tap
        self.reads_at_once = reads_at_once
        self._queued: set[str] = set()
        self._waiting: deque[ZohoModuleStream] = deque()
        self._readers = 0  # threads reading ahead now
        self._lock = threading.Lock()

    def all(self) -> list[ZohoModuleStream]:
        """Every module stream, in the order the tap syncs them."""
        return [s for s in self.tap.streams.values() if isinstance(s, ZohoModuleStream)]

    def selected_parents(self) -> list[str]:
        """The selected modules with records of their own (not subforms or linking modules)."""
        return [s.module for s in self.all() if s.selected and not s.child_of]

    def create_after(self, stream: str, reader: BulkReader) -> None:
        """Create the first job of the selected module streams after ``stream``, if room.

        A stream with a checkpoint resumes its own jobs instead.
        """
        create_jobs_ahead(
            reader,
            (
                s.job_query()
                for s in self._after(stream)
                if not s.module_state.resumes and s.export_needed()
            ),
        )

    def read_ahead(self, stream: str) -> None:
        """Check and read, ahead of their turn, the selected module streams after ``stream``.

        Each is checked (and read through the Query API when the planner says so) in one of
        ``reads_at_once`` threads; at its turn the stream takes what was read, or does the work
        itself if it was not done. What singer-sdk writes on first use (the stream's state entry,
        its selection mask) is made here, in the sync's own thread.
        """
        if self.reads_at_once == 0:
            return
        for later in self._after(stream):
            if later.name in self._queued or not later.reads_ahead():
                continue
            limit = self._reads_at_once()
            if limit < 1:
                return
            self._queued.add(later.name)
            with self._lock:
                self._waiting.append(later)
                if self._readers >= limit:
                    continue
                self._readers += 1
            threading.Thread(target=self._read_waiting, name="read-ahead", daemon=True).start()

    def _reads_at_once(self) -> int:
        if self.reads_at_once is None:
            self.reads_at_once = cast("PartsHolder", self.tap).parts.queries_at_once
        return self.reads_at_once

    def _read_waiting(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self._readers -= 1
                    return
                stream = self._waiting.popleft()
            stream.read_ahead()

    def _after(self, stream: str) -> list[ZohoModuleStream]:
        """The selected module streams synced after ``stream`` (none if it is not one)."""
        streams = [s for s in self.all() if s.selected and not s.dry_run]
        names = [s.name for s in streams]
        return streams[names.index(stream) + 1 :] if stream in names else []

    def restore_key(self, module: str) -> str:
        """The field the module's export filters on (Created_Time for a full table)."""
        return self._stream(module).replication_key or "Created_Time"

    def previous_bin(self, module: str) -> set[str] | None:
        """The ids in the module's recycle bin at the last run, and those listed after that look.

        None when the module's state keeps no bin (the first run, or a state of 0.2).
        """
        streams = self.tap.streams
        if module not in streams or not streams[module].selected:
            return None  # a module this run does not read keeps no bin up to date
        kept = self._stream(module).module_state.kept_bin()
        if kept is None:
            return None
        # read, not through the SDK's writeable state: that would add a partition to the state
        # of a Deleted_Records stream that may not even be selected
        deleted = self.tap.state.get("bookmarks", {}).get(DeletedRecordsStream.name, {})
        seen = [
            partition[RECYCLE_SEEN_KEY]
            for partition in deleted.get("partitions", [])
            if partition.get("context") == {"module": module} and RECYCLE_SEEN_KEY in partition
        ]
        return kept.union(*map(decode_ids, seen))

    def _stream(self, module: str) -> ZohoModuleStream:
        stream = self.tap.streams[module]
        assert isinstance(stream, ZohoModuleStream)
        return stream
