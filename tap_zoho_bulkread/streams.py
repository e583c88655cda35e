"""One singer-sdk stream per Zoho module: the bookmark goes in, typed records come out."""

from __future__ import annotations

import gc
import shutil
import tempfile
import time
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.streams import Stream

from tap_zoho_bulkread.decode import RecordDecoder
from tap_zoho_bulkread.errors import ZohoAPIError, ZohoError
from tap_zoho_bulkread.jobs import Checkpoint
from tap_zoho_bulkread.metadata import FieldSpec
from tap_zoho_bulkread.output import RecordLineWriter
from tap_zoho_bulkread.query import JobQuery, build_query

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_zoho_bulkread.tap import TapZohoBulkRead


@dataclass(frozen=True)
class ModuleSettings:
    """The per-module part of the ``module_settings`` setting."""

    cvid: str | None = None
    criteria: Any = None
    replication_key: str | None = None
    lookup_fields: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, value: dict[str, Any] | None) -> ModuleSettings:
        """Read one module's entry of ``module_settings``."""
        value = value or {}
        return cls(
            cvid=str(value["cvid"]) if value.get("cvid") else None,
            criteria=value.get("criteria"),
            replication_key=value.get("replication_key"),
            lookup_fields=list(value.get("lookup_fields") or []),
        )


CHECKPOINT_KEY = "zoho_export"


class ZohoModuleStream(Stream):
    """The records of one Zoho module, exported through bulk read jobs.

    Exports come sorted by id, not by the replication key, so the stream is unsorted: the
    bookmark advances only once the whole export has been read.
    """

    is_sorted = False
    # decode.py already gives every value its schema type; the SDK's generic conformance
    # would only cost time (and it turns the string "false" into True).
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(
        self,
        tap: TapZohoBulkRead,
        *,
        module: str,
        schema: dict[str, Any],
        specs: list[FieldSpec],
        replication_key: str | None,
        settings: ModuleSettings,
    ) -> None:
        super().__init__(tap=tap, name=module, schema=schema)
        self.module = module
        self.specs = specs
        self.settings = settings
        self.primary_keys = ["id"]
        self.replication_key = replication_key
        self._zoho_tap = tap
        self._line_writer: RecordLineWriter | None = None
        self._newest: str | None = None

    def _fast_record_writer(self) -> RecordLineWriter | None:
        """The direct RECORD writer, when no stream map or flattening changes records."""
        maps = self.stream_maps
        if len(maps) != 1 or type(maps[0]) is not SameRecordTransform:
            return None
        if maps[0].flattening_enabled or maps[0].stream_alias != self.name:
            return None
        if self._line_writer is None:
            self._line_writer = RecordLineWriter(self.name, self._stream_version)
        return self._line_writer

    def _write_record_message(self, record: dict[str, Any]) -> None:
        """Write a RECORD; records hold only selected, typed properties, so most go direct."""
        writer = self._fast_record_writer()
        if writer is None:
            super()._write_record_message(record)
            return
        writer.write(record)
        self.state_manager.is_flushed = False

    def selected_properties(self) -> list[str]:
        """The properties selected in the catalog (``id`` and the replication key always)."""
        mask = self.mask
        return [
            name
            for name in self.schema["properties"]
            if name in ("id", self.replication_key) or mask.get(("properties", name), True)
        ]

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Run the module's bulk read jobs and yield every row of every page."""
        for batch in self.record_batches(context):
            yield from batch

    def starting_timestamp(self) -> datetime | None:
        """Where the export starts: the bookmark, or ``start_date`` when later or alone.

        The same value singer-sdk writes as the starting replication value when the sync
        begins, computed from state alone so a job can be created before the stream's turn.
        """
        if not self.replication_key:
            return None
        state = self.stream_state
        value = None
        if state.get("replication_key") == self.replication_key:
            value = state.get("replication_key_value")
        start_date = self.config.get("start_date")
        if start_date:
            value = self.compare_start_date(value, start_date) if value else start_date
        if not value:
            return None
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)

    def job_query(self) -> JobQuery:
        """The export this stream needs: selected fields, bookmark criterion, module settings."""
        selected = self.selected_properties()
        lookup_fields = [f for f in self.settings.lookup_fields if f in selected]
        return build_query(
            module=self.module,
            selected=[name for name in selected if name != "id" and name not in lookup_fields],
            lookup_fields=lookup_fields,
            replication_key=self.replication_key,
            start=self.starting_timestamp(),
            user_criteria=self.settings.criteria,
            cvid=self.settings.cvid,
        )

    def record_batches(self, context: Context | None) -> Iterator[list[dict[str, Any]]]:
        """Run the module's bulk read jobs and yield the rows of every page in batches."""
        selected = self.selected_properties()
        query = self.job_query()
        start = self.starting_timestamp()
        self.logger.info(
            "%s: exporting %d fields%s",
            self.module,
            len(selected),
            f" where {self.replication_key} >= {start.isoformat()}" if start else " (full export)",
        )
        decoder = RecordDecoder(self.module, self.specs, selected)
        resume = Checkpoint.from_state(self.stream_state.get(CHECKPOINT_KEY))
        self._newest = self.stream_state.get(CHECKPOINT_KEY, {}).get("newest") if resume else None
        if self._newest and self.replication_key:
            # records of the pages read before the interruption count towards the bookmark
            self._increment_stream_state({self.replication_key: self._newest})
        work_dir = Path(tempfile.mkdtemp(prefix=f"tap-zoho-{self.module}-"))
        started, total = time.monotonic(), 0
        try:
            reader = self._zoho_tap.bulk_reader(work_dir, self.name)
            pages = reader.pages(query, resume=resume, on_checkpoint=self._save_checkpoint)
            for page in pages:
                if self._line_writer is not None:
                    self._line_writer.new_page()
                page_started, before = time.monotonic(), total
                for batch in decoder.batches(page.path, page.job_id):
                    total += len(batch)
                    self._note_newest(batch)
                    yield batch
                self.logger.info(
                    "%s: decoded and emitted page %d of job %s: %d records in %.2fs",
                    self.module,
                    page.page,
                    page.job_id,
                    total - before,
                    time.monotonic() - page_started,
                )
        except ZohoAPIError as exc:
            raise self._explain(exc) from None
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
        self._save_checkpoint(None)
        self.logger.info("%s: %d records in %.1fs", self.module, total, time.monotonic() - started)

    def _note_newest(self, batch: list[dict[str, Any]]) -> None:
        key = self.replication_key
        if key:
            values = [r[key] for r in batch if r.get(key) is not None]
            if values and (self._newest is None or max(values) > self._newest):
                self._newest = max(values)

    def _save_checkpoint(self, checkpoint: Checkpoint | None) -> None:
        """Keep (or, once the export is read, drop) the resume point in state, and emit it.

        Only pages whose records were all emitted lie behind a checkpoint; the bookmark
        itself still moves only when the export is complete.
        """
        state = self.stream_state
        if checkpoint is None:
            if state.pop(CHECKPOINT_KEY, None) is None:
                return
        else:
            state[CHECKPOINT_KEY] = {**checkpoint.to_state(), "newest": self._newest}
        self.state_manager.is_flushed = False
        self._write_state_message()

    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> Generator[dict[str, Any], Any, Any]:
        """singer-sdk's record loop, done per batch of rows instead of per row when it can be.

        Writing, counting and bookmarking a batch at once is what lets the tap run near the
        speed of parsing the CSV. It applies only in the plain case (no partitions, child
        streams, dry-run limit or stream maps); otherwise the SDK's own loop runs.
        """
        writer = self._fast_record_writer()
        plain = (
            context is None
            and write_messages
            and writer is not None
            and self.selected
            and not self.child_streams
            and self.ABORT_AT_RECORD_COUNT is None
        )
        if not plain or writer is None:
            yield from super()._sync_records(context, write_messages=write_messages)
            return
        key = self.replication_key
        # Everything alive now (the SDK, schemas, catalog) lives until exit; moving it out of
        # the cyclic collector's sight keeps each collection short while records churn.
        gc.freeze()
        with self.get_record_counter() as counter, self.get_sync_timer():
            self._write_starting_replication_value(None)
            written = 0
            for batch in self.record_batches(None):
                writer.write_many(batch)
                self.state_manager.is_flushed = False
                if key and self._newest is not None:
                    self._increment_stream_state({key: self._newest}, context=None)
                counter.increment(len(batch))
                before, written = written, written + len(batch)
                if written // self.STATE_MSG_FREQUENCY > before // self.STATE_MSG_FREQUENCY:
                    self._write_state_message()
                yield from batch
            self._finalize_state(self.stream_state)
        self._write_state_message()

    def _explain(self, exc: ZohoAPIError) -> ZohoError:
        tap = self._zoho_tap
        if exc.code == "OAUTH_SCOPE_MISMATCH":
            prefix = "ZohoCRM" if tap.product == "crm" else "ZohoBigin"
            return ZohoError(
                f"{self.module}: the refresh token lacks the scopes {prefix}.bulk.read and "
                f"{prefix}.modules.{self.module}.READ. Create a refresh token with them, or "
                "deselect the stream."
            )
        if exc.code in ("NO_PERMISSION", "AUTHORIZATION_FAILED"):
            return ZohoError(
                f"{self.module}: the Zoho user has no permission to read this module "
                f"({exc.code}). Ask the org admin for access, or deselect the stream."
            )
        return ZohoError(f"{self.module}: {exc}")
