"""The seam with singer-sdk: every use of a name singer-sdk keeps private is in this file.

singer-sdk gives a stream a record loop, a state layout and a message writer, but not the
hooks this tap needs to write a whole batch of rows at once, to hold back a SCHEMA, to keep
a table version across an interrupted run or to write its own STATE between pages. Those
overrides (marked ``@override``) and calls live here, each behind a name of the tap's own, so a
singer-sdk upgrade is checked in this one file (the dependency is pinned below the next minor).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from singer_sdk import Tap
from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig
from singer_sdk.streams import Stream
from typing_extensions import override

if TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.helpers.types import Context

    from tap_zoho_bulkread.bulk.batches import Batch

__all__ = [
    "PROGRESS_MARKERS",
    "TABLE_VERSION",
    "TABLE_VERSION_SCHEMA",
    "BaseBatchFileEncoding",
    "BatchConfig",
    "ZohoStream",
    "ZohoTapBase",
    "with_table_version",
]

PROGRESS_MARKERS = "progress_markers"  # singer-sdk's key for a bookmark not yet final
TABLE_VERSION = "zoho_table_version"
TABLE_VERSION_SCHEMA = {
    "type": ["integer", "null"],
    "description": "The run's table version (ms since 1970), the same in every row of one "
    "full export: rows of a smaller one are gone from Zoho (ACTIVATE_VERSION says the same; "
    "the stream Full_Table_Reads names each completed read's version).",
}


def with_table_version(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with the ``zoho_table_version`` property of a full-table stream."""
    return {**schema, "properties": {**schema["properties"], TABLE_VERSION: TABLE_VERSION_SCHEMA}}


class RecordWriter(Protocol):
    """Writes RECORD messages straight to stdout, one or a batch at a time."""

    def write(self, record: dict[str, Any]) -> None: ...

    def write_many(self, batch: Batch) -> None: ...


class ZohoStream(Stream):
    """A singer-sdk stream whose failures the tap reports itself, in one line.

    Subclasses may offer a ``direct_writer`` and ``direct_batches``: the record loop then writes
    whole batches; ``schema_wanted`` may hold the SCHEMA back; ``prepare_sync`` runs first.
    """

    @override
    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        """Log, except the SDK's "unhandled error" line for an error the tap reports itself."""
        if level >= logging.ERROR and message.startswith("An unhandled error occurred"):
            return
        super().log(message, *args, level=level, **kwargs)

    @property
    def dry_run(self) -> bool:
        """Whether this is ``--test`` (singer-sdk caps each stream at a record or so)."""
        return self.ABORT_AT_RECORD_COUNT is not None

    def selected_properties(self) -> list[str]:
        """The properties selected in the catalog (``id`` and the replication key always)."""
        mask = self.mask
        return [
            name
            for name in self.schema["properties"]
            if name in ("id", self.replication_key) or mask.get(("properties", name), True)
        ]

    # -- table versions -------------------------------------------------------------------

    @property
    def table_version(self) -> int | None:
        """The table version of the sync (ms since 1970), once one is set."""
        return self._stream_version

    @table_version.setter
    def table_version(self, version: int | None) -> None:
        self._stream_version = version

    def new_table_version(self) -> int:
        """Start a new table version for this sync and return it."""
        self._stream_version = time.time_ns() // 1_000_000
        return self._stream_version

    def activate_version(self) -> None:
        """ACTIVATE_VERSION of this sync's table version after a full read, except for BATCH.

        Rows a target loads from BATCH files carry no table version (target-postgres leaves
        ``_sdc_table_version`` NULL), so an ACTIVATE_VERSION would make it drop them.
        """
        if self._stream_version is not None and not self.get_batch_config(self.config):
            self._write_activate_version_message(self._stream_version)

    # -- state ----------------------------------------------------------------------------

    def emit_state(self) -> None:
        """Write a STATE message now, whether or not the SDK thinks the state changed."""
        self.state_manager.is_flushed = False
        self._write_state_message()

    def start_replication(self) -> None:
        """Remember where this sync starts, as the SDK does before its own record loop."""
        self._write_starting_replication_value(None)

    def note_progress(self, value: str, *, context: Context | None = None) -> None:
        """The newest replication value seen so far; it becomes the bookmark at the end."""
        if self.replication_key:
            self._increment_stream_state({self.replication_key: value}, context=context)

    def finalize_progress(self) -> None:
        """Promote the progress marker to the bookmark: the whole export was read."""
        self._finalize_state(self.stream_state)

    def drop_progress(self, context: Context | None) -> None:
        """Forget the progress of this sync: the bookmark stays where it was."""
        self.get_context_state(context).pop(PROGRESS_MARKERS, None)

    @override
    def _increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        """Keep the newest replication value as a progress marker, promoted at the end.

        The SDK would do the same for an unsorted stream, but it also writes "Progress is not
        resumable" into the state and logs it as a warning; this tap does resume, through its
        checkpoint.
        """
        key = self.replication_key
        value = latest_record.get(key) if key else None
        if value is None:
            return
        state = self.get_context_state(context) if context else self.stream_state
        markers = state.setdefault(PROGRESS_MARKERS, {})
        old = markers.get("replication_key_value")
        if old is None or value > old:
            markers["replication_key"] = key
            markers["replication_key_value"] = value

    # -- messages -------------------------------------------------------------------------

    def schema_wanted(self) -> bool:
        """Whether the SCHEMA goes out; a subclass may hold it back (no table is made)."""
        return True

    def direct_writer(self) -> RecordWriter | None:
        """A writer that bypasses the SDK's per-record path, when nothing changes records."""
        return None

    def direct_batches(self) -> Iterator[Batch] | None:
        """The sync's rows in batches for ``direct_writer``; None: the SDK's per-record loop."""
        return None

    def prepare_sync(self) -> None:
        """Runs when the sync of the stream begins, before any record."""

    @override
    def _write_schema_message(self) -> None:
        if self.schema_wanted():
            super()._write_schema_message()

    @override
    def _write_record_message(self, record: dict[str, Any]) -> None:
        writer = self.direct_writer()
        if writer is None:
            super()._write_record_message(record)
            return
        writer.write(record)
        self.state_manager.is_flushed = False

    @override
    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> Generator[dict[str, Any], Any, Any]:
        """singer-sdk's record loop, done per batch of rows instead of per row when it can be.

        Writing, counting and bookmarking a batch at once is what lets the tap run near the
        speed of parsing the CSV. It applies only in the plain case (no partitions, child
        streams, dry-run limit or stream maps); otherwise the SDK's own loop runs.
        """
        self.prepare_sync()
        writer = self.direct_writer()
        plain = (
            context is None
            and write_messages
            and self.selected
            and not self.child_streams
            and self.ABORT_AT_RECORD_COUNT is None
        )
        batches = self.direct_batches() if plain and writer is not None else None
        if writer is None or batches is None:
            yield from super()._sync_records(context, write_messages=write_messages)
            return
        # Everything alive now (the SDK, schemas, catalog) lives until exit; moving it out of
        # the cyclic collector's sight keeps each collection short while records churn.
        gc.freeze()
        with self.get_record_counter() as counter, self.get_sync_timer():
            written = 0
            for batch in batches:
                writer.write_many(batch)
                self.state_manager.is_flushed = False
                counter.increment(len(batch))
                before, written = written, written + len(batch)
                if written // self.STATE_MSG_FREQUENCY > before // self.STATE_MSG_FREQUENCY:
                    self._write_state_message()
        self._write_state_message()


class ZohoTapBase(Tap):
    """The tap's overrides of singer-sdk's private Tap hooks, behind names of the tap's own."""

    def check_config(self) -> None:
        """Refuse bad settings with one clear line (every mode, discovery included)."""

    def on_termination(self, signum: int) -> None:
        """SIGTERM or SIGINT arrived; raise to unwind."""

    #: streams synced after every other, in this order (singer-sdk sorts the rest by name)
    SYNCED_LAST: tuple[str, ...] = ()

    @property
    @override
    def streams(self) -> dict[str, Stream]:
        """singer-sdk's streams (sorted by name), those of ``SYNCED_LAST`` moved to the end."""
        found = super().streams  # the SDK's cached dict: reordered in place
        for name in self.SYNCED_LAST:
            if name in found:
                found[name] = found.pop(name)
        return found

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        del raise_errors  # discovery with bad settings would fail later with a traceback
        self.check_config()
        return []

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        del frame
        self.on_termination(signum)
