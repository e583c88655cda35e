"""One singer-sdk stream per Zoho module: the bookmark goes in, typed records come out."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform

from tap_zoho_bulkread.bulk.batches import Batch, newest
from tap_zoho_bulkread.bulk.decode import RecordDecoder
from tap_zoho_bulkread.bulk.jobs import (
    BulkReader,
    Checkpoint,
    ExportedPage,
    create_jobs_ahead,
    download_folder,
)
from tap_zoho_bulkread.bulk.metadata import FieldSpec, dot_field_property
from tap_zoho_bulkread.bulk.query import JobQuery, build_query
from tap_zoho_bulkread.config import DEFAULTS
from tap_zoho_bulkread.errors import Action, ExportFileError, ZohoAPIError, ZohoError, rule_of
from tap_zoho_bulkread.settings import SCOPE_PREFIXES, ModuleSettings
from tap_zoho_bulkread.streams.base import ZohoStream
from tap_zoho_bulkread.streams.deletions import DeletionReader, RestoreFinder
from tap_zoho_bulkread.streams.recycle_bin import RECYCLE_BIN_KEY, encode_ids
from tap_zoho_bulkread.summary import RunSummary
from tap_zoho_bulkread.times import parse_datetime
from tap_zoho_bulkread.writers.batch_files import BatchFileWriter
from tap_zoho_bulkread.writers.records import RecordLineWriter

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig
    from singer_sdk.helpers.types import Context

    from tap_zoho_bulkread.bulk.columnar import ColumnarDecoder


CHECKPOINT_KEY = "zoho_export"
PAGE_END: list[dict[str, Any]] = []  # yielded by record_batches after each page's records
DELETIONS_KEY = "zoho_deletions_since"  # the newest deleted_time marked in this stream
DELETED_AT = "_sdc_deleted_at"
DELETED_AT_SCHEMA = {
    "type": ["string", "null"],
    "format": "date-time",
    "description": "When Zoho deleted the record (deletions_in_module_streams); UTC",
}
TABLE_VERSION = "zoho_table_version"
TABLE_VERSION_SCHEMA = {
    "type": ["integer", "null"],
    "description": "The run's table version (ms since 1970), the same in every row of one "
    "full export: rows of a smaller one are gone from Zoho (ACTIVATE_VERSION says the same).",
}


class ZohoModuleStream(ZohoStream):
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
        tap: Tap,
        *,
        module: str,
        schema: dict[str, Any],
        specs: list[FieldSpec],
        dot_fields: tuple[str, ...],
        replication_key: str | None,
        settings: ModuleSettings,
        bulk_reader: Callable[[Path, str], BulkReader],
        product: str,
        deletions: DeletionReader | None = None,
        child_of: str | None = None,
        summary: RunSummary | None = None,
        restores: RestoreFinder | None = None,
        compression_level: int = DEFAULTS.batch_compression_level,
    ) -> None:
        """A module's stream; ``bulk_reader(work_dir, stream)`` runs its jobs.

        With ``deletions``, the stream also emits ``{id, _sdc_deleted_at}`` for each record Zoho
        lists as deleted since the last run. With ``restores``, records restored from the
        recycle bin since the last run are exported again. ``child_of`` names the parent of a
        subform or linking module. Without a replication key the stream is FULL_TABLE: each run
        exports everything and ends with ACTIVATE_VERSION, so targets can drop rows that
        disappeared.
        """
        if deletions is not None:
            schema = {
                **schema,
                "properties": {**schema["properties"], DELETED_AT: DELETED_AT_SCHEMA},
            }
        if replication_key is None:
            schema = {
                **schema,
                "properties": {**schema["properties"], TABLE_VERSION: TABLE_VERSION_SCHEMA},
            }
        super().__init__(tap=tap, name=module, schema=schema)
        self.deletions = deletions
        self.module = module
        self.specs = specs
        self.dot_fields = dot_fields
        self.settings = settings
        self.primary_keys = ["id"]
        self.replication_key = replication_key
        self.bulk_reader = bulk_reader
        self.product = product
        self.child_of = child_of
        self._line_writer: RecordLineWriter | None = None
        self._newest: str | None = None
        self._refusal: str | None = None  # Zoho's code when it refuses the whole module
        self.summary = summary
        self.restores = restores
        self.compression_level = compression_level  # gzip level of BATCH files

    def _write_schema_message(self) -> None:
        """The SCHEMA message, unless Zoho refuses bulk read of the module as a whole.

        The first job is created before the SCHEMA goes out (or was created ahead of the
        stream's turn), so a module Zoho refuses gets no SCHEMA, and so no empty table in the
        target: one warning, and the run goes on.
        """
        if not self.stream_state.get(CHECKPOINT_KEY):
            with download_folder() as work_dir:
                reader = self.bulk_reader(work_dir, self.name)
                create_jobs_ahead(reader, [(self.module, self.job_query)], ahead=False)
                self._refusal = reader.ledger.refused.get(self.module)
        if self._refusal is None:
            super()._write_schema_message()
            return
        self.logger.warning(
            "%s: Zoho does not export this module through bulk read (%s); the stream is "
            "skipped and no table is made for it. Deselect it to silence this warning.",
            self.module,
            self._refusal,
        )

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
        return parse_datetime(str(value)) if value else None

    def job_query(self, refused: frozenset[str] = frozenset()) -> JobQuery:
        """The export this stream needs: selected fields, bookmark criterion, module settings.

        ``refused`` are properties Zoho refused to export; they are left out of the job.
        """
        selected = [
            name
            for name in self.selected_properties()
            if name not in refused | {DELETED_AT, TABLE_VERSION}
        ]
        dot_properties = {dot_field_property(f): f for f in self.dot_fields}
        return build_query(
            module=self.module,
            selected=[name for name in selected if name != "id" and name not in dot_properties],
            lookup_fields=[dot_properties[name] for name in selected if name in dot_properties],
            replication_key=self.replication_key,
            start=self.starting_timestamp(),
            user_criteria=self.settings.criteria,
            cvid=self.settings.cvid,
            also=self._restored_keys(),
        )

    def _restored_keys(self) -> tuple[str, ...]:
        """Replication key values of records restored since the last run (exported again)."""
        if self.restores is None or not self.replication_key or self.starting_timestamp() is None:
            return ()
        restored = self.restores.change(self.module).restored
        return tuple(value for value in restored.values() if value)  # the query sorts them

    def _keep_recycle_bin(self) -> None:
        """Remember the recycle bin this run saw, once the export holding its restores is read."""
        if self.restores is not None:
            change = self.restores.change(self.module)
            if change.checked:
                self.stream_state[RECYCLE_BIN_KEY] = encode_ids(change.binned)

    def record_batches(
        self, context: Context | None, *, raw_numbers: bool = False
    ) -> Iterator[Batch]:
        """Run the module's bulk read jobs and yield the rows of every page in batches.

        After each page comes an empty batch (``PAGE_END``). With ``raw_numbers`` (the tap's
        own writers only) numbers stay msgspec ``Raw`` text, and batches come as
        ``EncodedRows`` when pyarrow is installed.

        A field Zoho refuses to export (``FIELD_NOT_SUPPORTED``) is left out of the job with a
        warning and stays null; a module it refuses (``MODULE_NOT_SUPPORTED``) ends the stream
        with a warning, and the run goes on.
        """
        if self._refusal is not None:
            return  # said when the SCHEMA was held back
        start = self.starting_timestamp()
        self.logger.info(
            "%s: exporting %d fields%s",
            self.module,
            len(self.selected_properties()),
            f" where {self.replication_key} >= {start.isoformat()}" if start else " (full export)",
        )
        resume = Checkpoint.from_state(self.stream_state.get(CHECKPOINT_KEY))
        self._newest = self.stream_state.get(CHECKPOINT_KEY, {}).get("newest") if resume else None
        if self._newest and self.replication_key:
            # records of the pages read before the interruption count towards the bookmark
            self._increment_stream_state({self.replication_key: self._newest})
        refused: frozenset[str] = frozenset()
        started, emitted = time.monotonic(), [0]
        while True:
            try:
                yield from self._export(refused, resume, emitted, raw_numbers)
                break
            except ZohoAPIError as exc:
                if rule_of(exc.code).on_job is Action.SKIP_MODULE and not emitted[0]:
                    self.logger.warning(
                        "%s: Zoho does not export this module through bulk read (%s); the "
                        "stream is skipped. Deselect it to silence this warning.",
                        self.module,
                        exc.message[:200],
                    )
                    return
                field = self._refused_property(exc, refused) if not emitted[0] else None
                if field is None:
                    raise self._explain(exc) from None
                refused |= {field}
        if self.deletions is not None:
            yield from self._deleted_records()
        if self.replication_key is None and self._stream_version is not None:
            # only after the last page: an interrupted export never makes the target drop rows
            self._activate_version(self._stream_version)
        self._keep_recycle_bin()
        self._save_checkpoint(None)
        self.logger.info(
            "%s: %d records in %.1fs", self.module, emitted[0], time.monotonic() - started
        )

    def _deleted_records(self) -> Iterator[list[dict[str, Any]]]:
        """``{id, _sdc_deleted_at}`` for the records deleted since this stream last asked."""
        assert self.deletions is not None
        state = self.stream_state
        since = state.get(DELETIONS_KEY)
        start = parse_datetime(str(since)) if isinstance(since, str) else None
        batch = [
            {"id": entry["id"], DELETED_AT: entry["deleted_time"]}
            for entry in self.deletions.read(self.module, start)
        ]
        if batch:
            state[DELETIONS_KEY] = max(record[DELETED_AT] for record in batch)
            self.logger.info("%s: %d deleted records marked", self.module, len(batch))
            yield batch

    def _refused_property(self, exc: ZohoAPIError, refused: frozenset[str]) -> str | None:
        """The property of a field Zoho refused at job creation, to leave out; else None."""
        if rule_of(exc.code).on_job is not Action.DROP_FIELD:
            return None
        details = exc.details if isinstance(exc.details, dict) else {}
        name = details.get("api_name") or details.get("field")
        if isinstance(name, dict):
            name = name.get("api_name")
        if not isinstance(name, str):
            return None
        prop = dot_field_property(name) if name in self.dot_fields else name
        selected = self.selected_properties()
        if prop not in selected or prop in refused or prop == "id":
            return None
        if prop == self.replication_key:
            raise ZohoError(
                f"{self.module}: Zoho refuses to export the replication key {prop} "
                f"({exc.code}); set module_settings.{self.module}.replication_key to the other "
                "of Created_Time and Modified_Time, or deselect the stream."
            )
        self.logger.warning(
            "%s: Zoho refuses to export the field %s (%s); it is left out of the export and "
            "stays null. Deselect it to silence this warning.",
            self.module,
            name,
            exc.code,
        )
        return prop

    def _constants(self) -> dict[str, int]:
        """Properties with one value for the whole export: a full-table run's table version."""
        if self.replication_key is not None:
            return {}
        if self._stream_version is None:
            self._stream_version = self._table_version()  # BATCH mode: no _sync_records
        return {TABLE_VERSION: self._stream_version}

    def _export(
        self,
        refused: frozenset[str],
        resume: Checkpoint | None,
        emitted: list[int],
        raw_numbers: bool,
    ) -> Iterator[Batch]:
        """Every page of the export without the ``refused`` fields; counts into ``emitted``."""
        strict = RecordDecoder(
            self.module,
            self.specs,
            self.selected_properties(),
            renamed={f: dot_field_property(f) for f in self.dot_fields},
            absent=refused | {DELETED_AT},
            constants=self._constants(),
            raw_numbers=raw_numbers,
        )
        from tap_zoho_bulkread.bulk import columnar  # noqa: PLC0415 (pyarrow only when decoding)

        decoder = columnar.ColumnarDecoder(strict) if raw_numbers and columnar.AVAILABLE else strict
        if raw_numbers and not columnar.AVAILABLE:
            self.logger.info(
                "%s: pyarrow is not installed, so the Python decoder reads the CSV; install "
                "tap-zoho-bulkread[fast] to decode faster",
                self.module,
            )
        with download_folder() as work_dir:
            reader = self.bulk_reader(work_dir, self.name)
            pages = reader.pages(
                self.job_query(refused), resume=resume, on_checkpoint=self._save_checkpoint
            )
            for page in pages:
                if self._line_writer is not None:
                    self._line_writer.new_page()
                page_started, before = time.monotonic(), emitted[0]
                for batch in self._page_batches(reader, decoder, page):
                    emitted[0] += len(batch)
                    self._note_newest(batch)
                    yield batch
                yield PAGE_END  # BATCH mode closes its file here, before the checkpoint moves
                if self.summary is not None:
                    self.summary.add(self.name, pages=1)
                self.logger.info(
                    "%s: page %d of %s emitted: %d records in %.2fs, %d records so far",
                    self.module,
                    page.page,
                    f"at least {page.page + 1}" if page.more_records else str(page.page),
                    emitted[0] - before,
                    time.monotonic() - page_started,
                    emitted[0],
                )

    def _page_batches(
        self, reader: BulkReader, decoder: RecordDecoder | ColumnarDecoder, page: ExportedPage
    ) -> Iterator[Batch]:
        """A page's records; a page holding other than Zoho's count is downloaded once more.

        The rows already emitted are skipped in the second download (a result's rows come in
        the same order each time); if it still disagrees, the run fails before any bookmark.
        """
        emitted = 0
        for batch in decoder.batches(page.path, page.job_id):
            emitted += len(batch)
            yield batch
        if emitted == page.count:
            return
        self.logger.warning(
            "%s: page %d of job %s held %d records, Zoho counted %d; downloading it once more",
            self.module,
            page.page,
            page.job_id,
            emitted,
            page.count,
        )
        path = reader.download(page.job_id, page.result, page.page, self.module)
        try:
            seen = 0
            for batch in decoder.batches(path, page.job_id):
                fresh = batch[max(emitted - seen, 0) :]
                seen += len(batch)
                if fresh:
                    yield fresh
            if seen != page.count or emitted > seen:
                raise ExportFileError(
                    f"{self.module}: page {page.page} of job {page.job_id} holds {seen} records "
                    f"but Zoho counted {page.count}, twice; the export is incomplete. Run the "
                    "sync again; if it repeats, report the job id to Zoho."
                )
        finally:
            path.unlink(missing_ok=True)

    def _table_version(self) -> int:
        """A FULL_TABLE run's version: new, or the interrupted run's when its export resumes.

        The rows of the pages read before the interruption carry that version; a new one
        would make the target drop them at ACTIVATE_VERSION.
        """
        saved = self.stream_state.get(CHECKPOINT_KEY)
        version = saved.get("version") if isinstance(saved, dict) else None
        if Checkpoint.from_state(saved) is not None and type(version) is int and version > 0:
            return version
        return time.time_ns() // 1_000_000

    def _note_newest(self, batch: Batch) -> None:
        key = self.replication_key
        if not key:
            return
        latest = newest(batch, key)
        if latest is not None and (self._newest is None or latest > self._newest):
            self._newest = latest

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
            if self.replication_key is None:
                state[CHECKPOINT_KEY]["version"] = self._stream_version
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
        if self.replication_key is None:
            self._stream_version = self._table_version()
            self._line_writer = None
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
        # Everything alive now (the SDK, schemas, catalog) lives until exit; moving it out of
        # the cyclic collector's sight keeps each collection short while records churn.
        gc.freeze()
        with self.get_record_counter() as counter, self.get_sync_timer():
            written = 0
            for batch in self._own_batches():
                writer.write_many(batch)
                self.state_manager.is_flushed = False
                counter.increment(len(batch))
                before, written = written, written + len(batch)
                if written // self.STATE_MSG_FREQUENCY > before // self.STATE_MSG_FREQUENCY:
                    self._write_state_message()
        self._write_state_message()

    def _own_batches(self) -> Iterator[Batch]:
        """The export's batches for the tap's own writers (RECORD lines or BATCH files).

        Numbers stay raw JSON text (both writers encode with msgspec); the newest replication
        value is noted before each batch is handed out, and the bookmark is finalised once the
        export is read.
        """
        key = self.replication_key
        self._write_starting_replication_value(None)
        for batch in self.record_batches(None, raw_numbers=True):
            if key and self._newest is not None:
                self._increment_stream_state({key: self._newest}, context=None)
            yield batch
        self._finalize_state(self.stream_state)

    def get_batches(
        self, batch_config: BatchConfig, context: Context | None = None
    ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        """BATCH files written from the decoded rows, a file per ``batch_size`` and per page.

        singer-sdk writes the BATCH message and a STATE after each file; the checkpoint moves
        only after a page's last file is announced, and the bookmark once the export is read.
        """
        del context
        writer = BatchFileWriter(
            batch_config,
            self.tap_name,
            self.name,
            self.compression_level,
        )
        for batch in self._own_batches():
            # an empty batch ends a page: its file goes out before the checkpoint moves
            for url in writer.add(batch) if batch else writer.close():
                yield batch_config.encoding, [url]
        last = writer.close()
        for url in last:
            yield batch_config.encoding, [url]
        if not last:
            self._write_state_message()

    def _explain(self, exc: ZohoAPIError) -> ZohoError:
        """One line for a job Zoho refused: the fix from the table of codes, else its words."""
        rule = rule_of(exc.code)
        fix = rule.fix.format(
            module=self.module, prefix=SCOPE_PREFIXES[self.product], code=exc.code
        )
        if rule.fix_says_all:
            return ZohoError(f"{self.module}: {fix}")
        if fix:
            return ZohoError(
                f"{self.module}: Zoho refused the job ({exc.code}: {exc.message[:200]}); {fix}"
            )
        return ZohoError(f"{self.module}: {exc}")
