"""One singer-sdk stream per Zoho module: the bookmark goes in, typed records come out."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform

from tap_zoho_bulkread.bulk.batches import Batch
from tap_zoho_bulkread.bulk.export import ExportItem, ExportPlan, ModuleExport, PageEnd, rows
from tap_zoho_bulkread.bulk.jobs import BulkReader, Checkpoint, create_jobs_ahead, download_folder
from tap_zoho_bulkread.bulk.metadata import FieldSpec, dot_field_property
from tap_zoho_bulkread.bulk.query import JobQuery, build_query
from tap_zoho_bulkread.config import DEFAULTS
from tap_zoho_bulkread.coql.read import DeltaExport, DeltaReader, DeltaUnusable
from tap_zoho_bulkread.errors import Action, ZohoAPIError, ZohoError, rule_of
from tap_zoho_bulkread.planner import ModuleRun, ReadPlan, ReadPlanner
from tap_zoho_bulkread.settings import SCOPE_PREFIXES, ModuleSettings
from tap_zoho_bulkread.streams.base import (
    TABLE_VERSION,
    BaseBatchFileEncoding,
    BatchConfig,
    ZohoStream,
    with_table_version,
)
from tap_zoho_bulkread.summary import RunSummary
from tap_zoho_bulkread.times import parse_datetime, zoho_datetime
from tap_zoho_bulkread.writers.batch_files import BatchFileWriter
from tap_zoho_bulkread.writers.records import RecordLineWriter
from tap_zoho_bulkread.zoho.changes import ChangeProbe
from tap_zoho_bulkread.zoho.deletions import DeletionReader, RestoreFinder
from tap_zoho_bulkread.zoho.recycle_bin import RECYCLE_BIN_KEY, encode_ids

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context


CHECKPOINT_KEY = "zoho_export"
EXPORTED_AT_KEY = "zoho_last_export_began"  # when the last whole export's run began (UTC)
DELETIONS_KEY = "zoho_deletions_since"  # the newest deleted_time marked in this stream
DELETED_AT = "_sdc_deleted_at"
DELETED_AT_SCHEMA = {
    "type": ["string", "null"],
    "format": "date-time",
    "description": "When Zoho deleted the record (deletions_in_module_streams); UTC",
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
        child_kind: str | None = None,
        summary: RunSummary | None = None,
        restores: RestoreFinder | None = None,
        planner: ReadPlanner | None = None,
        sampler: ChangeProbe | None = None,
        delta: DeltaReader | None = None,
        run_started: datetime | None = None,
        compression_level: int = DEFAULTS.batch_compression_level,
    ) -> None:
        """A module's stream; ``bulk_reader(work_dir, stream)`` runs its jobs.

        With ``deletions``, the stream also emits ``{id, _sdc_deleted_at}`` for each record Zoho
        lists as deleted since the last run. With ``restores``, records restored from the
        recycle bin since the last run are exported again. ``planner`` decides the read path
        (none: ``bulk_only``, a job every run): nothing when the records API says nothing
        changed, the Query API (``delta`` reads it) for a small change, else a bulk read job;
        ``run_started`` (before any job of the run) is kept as when the export began, which
        tells whether the bookmark's own second can have changed since. ``sampler`` reads one
        record for ``--test``.
        ``child_of`` names the parent of a subform or linking module. Without a replication key
        the stream is FULL_TABLE: each run exports everything and ends with ACTIVATE_VERSION, so
        targets can drop rows that disappeared.
        """
        if deletions is not None:
            schema = {
                **schema,
                "properties": {**schema["properties"], DELETED_AT: DELETED_AT_SCHEMA},
            }
        if replication_key is None:
            schema = with_table_version(schema)
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
        self.child_kind = child_kind
        self._line_writer: RecordLineWriter | None = None
        self._export: ModuleExport | DeltaExport | None = None  # the export being read
        self._refusal: str | None = None  # Zoho's code when it refuses the whole module
        self.summary = summary
        self.restores = restores
        self.compression_level = compression_level  # gzip level of BATCH files
        self.planner = planner  # decides the read path; None: bulk_only
        self.sampler = sampler  # reads one record for --test
        self.delta = delta
        self.run_started = run_started or datetime.now(timezone.utc)
        self._decision: ReadPlan | None = None

    def schema_wanted(self) -> bool:
        """False when Zoho refuses bulk read of the module as a whole (no SCHEMA, no table).

        The first job is created before the SCHEMA goes out (or was created ahead of the
        stream's turn), so a module Zoho refuses gets no SCHEMA, and so no empty table in the
        target: one warning, and the run goes on.
        """
        if self.dry_run:
            return True  # --test makes no job
        if not self.stream_state.get(CHECKPOINT_KEY) and self.export_needed():
            with download_folder() as work_dir:
                reader = self.bulk_reader(work_dir, self.name)
                create_jobs_ahead(reader, [(self.module, self.job_query)], ahead=False)
                self._refusal = reader.ledger.refused.get(self.module)
        if self._refusal is None:
            return True
        self.logger.warning(
            "%s: Zoho does not export this module through bulk read (%s); the stream is "
            "skipped and no table is made for it. Deselect it to silence this warning.",
            self.module,
            self._refusal,
        )
        return False

    def direct_writer(self) -> RecordLineWriter | None:
        """The direct RECORD writer, when no stream map or flattening changes records."""
        maps = self.stream_maps
        if len(maps) != 1 or type(maps[0]) is not SameRecordTransform:
            return None
        if maps[0].flattening_enabled or maps[0].stream_alias != self.name:
            return None
        if self._line_writer is None:
            self._line_writer = RecordLineWriter(self.name, self.table_version)
        return self._line_writer

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
        return rows(self.record_batches(context))

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
        if self.restores is not None and not self.child_of:
            change = self.restores.change(self.module)
            if change.checked:
                self.stream_state[RECYCLE_BIN_KEY] = encode_ids(change.binned)

    def record_batches(
        self, context: Context | None, *, raw_numbers: bool = False
    ) -> Iterator[ExportItem]:
        """Run the module's bulk read jobs and yield the rows of every page in batches.

        After each page's rows comes its ``PageEnd``. With ``raw_numbers`` (the tap's own
        writers only) numbers stay msgspec ``Raw`` text, and batches come as ``EncodedRows``
        when pyarrow is installed. After the export come the module's deletions (with
        ``deletions_in_module_streams``), and a full-table run's ACTIVATE_VERSION.
        """
        del context
        if self._refusal is not None:
            return  # said when the SCHEMA was held back
        if self.dry_run:
            yield from self._sample()
            return
        export: ModuleExport | DeltaExport | None = None
        resume = None
        if not self.export_needed():
            export = self._query_api_export()
            if export is None and not self.export_needed():
                yield from self._after_export()
                return
        if export is None:
            start = self.starting_timestamp()
            self.logger.info(
                "%s: exporting %d fields%s",
                self.module,
                len(self.selected_properties()),
                f" where {self.replication_key} >= {start.isoformat()}"
                if start
                else " (full export)",
            )
            saved = self.stream_state.get(CHECKPOINT_KEY)
            resume = Checkpoint.from_state(saved)
            if saved and resume is None:
                self.logger.warning(
                    "%s: the state's checkpoint (%s) is not one the tap writes; it is dropped "
                    "and the module is exported from its bookmark",
                    self.module,
                    json.dumps(saved)[:120],
                )
            export = ModuleExport(
                self._export_plan(),
                self.bulk_reader,
                self.logger,
                resume=resume,
                newest=saved.get("newest") if resume and isinstance(saved, dict) else None,
                on_checkpoint=self._save_checkpoint,
                raw_numbers=raw_numbers,
            )
        self._export = export
        if export.newest:
            # records of the pages read before the interruption count towards the bookmark
            self.note_progress(export.newest)
        started, page_begins = time.monotonic(), True
        try:
            for item in export.items():
                if isinstance(item, PageEnd):
                    page_begins = True
                    if self.summary is not None:
                        self.summary.add(self.name, pages=1)
                elif page_begins and self._line_writer is not None:
                    self._line_writer.new_page()  # time_extracted: when the page was read
                    page_begins = False
                yield item
        except ZohoAPIError as exc:
            raise self._explain(exc) from None
        if export.skipped:
            return
        if resume is None:
            self.stream_state[EXPORTED_AT_KEY] = zoho_datetime(self.run_started)
        else:  # its first pages were read in another run, from jobs made then
            self.stream_state.pop(EXPORTED_AT_KEY, None)
        yield from self._after_export(activate=self.replication_key is None, rows=export.emitted)
        self._save_checkpoint(None)
        self.logger.info(
            "%s: %d records in %.1fs", self.module, export.emitted, time.monotonic() - started
        )

    @property
    def dry_run(self) -> bool:
        """Whether this is ``--test`` (singer-sdk caps each stream at a record or so)."""
        return self.ABORT_AT_RECORD_COUNT is not None

    def _sample(self) -> Iterator[list[dict[str, Any]]]:
        """``--test``: one record's id through the records API, one small request, no job."""
        if self.sampler is None:
            return
        try:
            found = self.sampler.one_record(self.module)
        except ZohoAPIError as exc:
            if rule_of(exc.code).on_list is not Action.SKIP_LIST:
                raise self._explain(exc) from None
            self.logger.info(
                "%s: the records API does not list this module (%s); --test makes no job for it",
                self.module,
                exc.code,
            )
            return
        self.logger.info(
            "%s: --test read %s through the records API (no bulk read job)",
            self.module,
            "one record" if found else "no record (the module is empty)",
        )
        if found:
            yield [{"id": found}]

    def _query_api_export(self) -> DeltaExport | None:
        """The change read through the Query API, or None (the decision is bulk read then)."""
        decision = self._decision
        if decision is None or not decision.where or self.delta is None:
            return None
        started = time.monotonic()
        try:
            export = self.delta.read(self._export_plan(), decision.where, decision.order_by)
        except DeltaUnusable as exc:
            self._decision = ReadPlan(True, f"the Query API read was given up: {exc}")
            self.logger.info("%s: bulk read after all: %s", self.module, exc)
            return None
        self.logger.info(
            "%s: %d records read through the Query API in %.1fs",
            self.module,
            len(export.records),
            time.monotonic() - started,
        )
        return export

    def _after_export(
        self, *, activate: bool = False, rows: int = 0
    ) -> Iterator[list[dict[str, Any]]]:
        """What follows the export, read or skipped: deletions, the recycle bin kept.

        ``activate``: a full table was read (``rows`` rows); ACTIVATE_VERSION comes only after
        its last page, so an interrupted export never makes the target drop rows, and the read
        is noted for Full_Table_Reads.
        """
        if self.deletions is not None:
            yield from self._deleted_records()
        if activate:
            self.activate_version()
            if self.summary is not None and self.table_version is not None:
                self.summary.table_read(self.name, self.table_version, rows)
        self._keep_recycle_bin()

    def export_needed(self) -> bool:
        """Whether this run makes bulk read jobs for the module (decided and logged once)."""
        if self._decision is None:
            self._decision = (
                self.planner.plan(self._run_facts())
                if self.planner is not None
                else ReadPlan(True, "bulk_only is set")
            )
            self.logger.info("%s: %s: %s", self.module, self._decision.path, self._decision.why)
        return self._decision.bulk

    def _run_facts(self) -> ModuleRun:
        """What the planner is told of this module: its settings and its state."""
        return ModuleRun(
            module=self.module,
            replication_key=self.replication_key,
            child_of=self.child_of,
            child_kind=self.child_kind,
            resumes=bool(self.stream_state.get(CHECKPOINT_KEY)),
            start=self.starting_timestamp(),
            last_export_began=self._last_export_began(),
            restored_records=bool(self.replication_key and self._restored_keys()),
            own_filter=bool(self.settings.cvid or self.settings.criteria),
        )

    def _last_export_began(self) -> datetime | None:
        began = self.stream_state.get(EXPORTED_AT_KEY)
        try:
            return parse_datetime(began) if isinstance(began, str) else None
        except ValueError:
            return None

    def _export_plan(self) -> ExportPlan:
        constants = {}
        if self.replication_key is None:
            if self.table_version is None:
                self.table_version = self._table_version()  # BATCH mode: no prepare_sync
            constants[TABLE_VERSION] = self.table_version
        return ExportPlan(
            module=self.module,
            stream=self.name,
            specs=self.specs,
            selected=self.selected_properties(),
            dot_fields=self.dot_fields,
            replication_key=self.replication_key,
            query=self.job_query,
            absent=frozenset({DELETED_AT}),
            constants=constants,
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

    def _table_version(self) -> int:
        """A FULL_TABLE run's version: new, or the interrupted run's when its export resumes.

        The rows of the pages read before the interruption carry that version; a new one
        would make the target drop them at ACTIVATE_VERSION.
        """
        saved = self.stream_state.get(CHECKPOINT_KEY)
        version = saved.get("version") if isinstance(saved, dict) else None
        if Checkpoint.from_state(saved) is not None and type(version) is int and version > 0:
            return version
        return self.new_table_version()

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
            newest = self._export.newest if self._export is not None else None
            state[CHECKPOINT_KEY] = {**checkpoint.to_state(), "newest": newest}
            if self.replication_key is None:
                state[CHECKPOINT_KEY]["version"] = self.table_version
        self.emit_state()

    def prepare_sync(self) -> None:
        """A full-table sync gets its table version (the resumed run's, or a new one)."""
        if self.replication_key is None:
            self.table_version = self._table_version()
            self._line_writer = None

    def own_items(self) -> Iterator[ExportItem]:
        """The export for the tap's own writers (RECORD lines or BATCH files).

        Numbers stay raw JSON text (both writers encode with msgspec); the newest replication
        value is noted before each batch is handed out, and the bookmark is finalised once the
        export is read.
        """
        self.start_replication()
        for item in self.record_batches(None, raw_numbers=True):
            export = self._export
            if not isinstance(item, PageEnd) and export is not None and export.newest:
                self.note_progress(export.newest)
            yield item
        self.finalize_progress()

    def direct_batches(self) -> Iterator[Batch]:
        """The export's rows in batches, for the direct RECORD writer."""
        return (item for item in self.own_items() if not isinstance(item, PageEnd))

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
        for item in self.own_items():
            # a page's file goes out before the checkpoint moves past the page
            urls = writer.close() if isinstance(item, PageEnd) else writer.add(item)
            for url in urls:
                yield batch_config.encoding, [url]
        last = writer.close()
        for url in last:
            yield batch_config.encoding, [url]
        if not last:
            self.emit_state()

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
