"""One singer-sdk stream per Zoho module: the bookmark goes in, typed records come out."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_zoho_bulkread.bulk.checkpoint import Checkpoint
from tap_zoho_bulkread.bulk.export import ExportItem, ExportPlan, ModuleExport, PageEnd, rows
from tap_zoho_bulkread.bulk.query import JobQuery
from tap_zoho_bulkread.config import ModuleSettings
from tap_zoho_bulkread.coql.read import DeltaExport
from tap_zoho_bulkread.discovery import DiscoveredModule
from tap_zoho_bulkread.errors import ZohoAPIError, refused_job
from tap_zoho_bulkread.module_state import ModuleState
from tap_zoho_bulkread.planner import ModuleRun
from tap_zoho_bulkread.read_path import ModuleReadPath
from tap_zoho_bulkread.run_parts import RunParts
from tap_zoho_bulkread.streams.base import (
    TABLE_VERSION,
    with_table_version,
)
from tap_zoho_bulkread.streams.batched import BatchedStream
from tap_zoho_bulkread.zoho.data_centers import SCOPE_PREFIXES
from tap_zoho_bulkread.zoho.deletions import DELETED_AT, with_deleted_at

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context


class ZohoModuleStream(BatchedStream):
    """The records of one Zoho module, exported through bulk read jobs.

    Exports come sorted by id, not by the replication key, so the stream is unsorted: the
    bookmark advances only once the whole export has been read. Without a replication key the
    stream is FULL_TABLE: each run exports everything and ends with ACTIVATE_VERSION, so targets
    can drop rows that disappeared.
    """

    is_sorted = False
    # decode.py already gives every value its schema type; the SDK's generic conformance
    # would only cost time (and it turns the string "false" into True).
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(
        self,
        tap: Tap,
        found: DiscoveredModule,
        *,
        replication_key: str | None,
        settings: ModuleSettings,
        parts: RunParts,
    ) -> None:
        """A module's stream, with the run's ``parts`` (its jobs, planner and REST readers).

        With ``deletions_in_module_streams`` a parent module's stream also emits
        ``{id, _sdc_deleted_at}`` for each record Zoho lists as deleted since the last run.
        """
        self.deletions = None if found.child_of else parts.module_deletions
        schema = found.schema if self.deletions is None else with_deleted_at(found.schema)
        if replication_key is None:
            schema = with_table_version(schema)
        super().__init__(tap=tap, name=found.module, schema=schema)
        self.module, self.found, self.settings, self.parts = found.module, found, settings, parts
        self.child_of = found.child_of
        self.primary_keys = ["id"]
        self.replication_key = replication_key
        facts = ModuleRun(
            self.module, replication_key, found.child_of, found.child_kind,
            own_filter=bool(settings.cvid or settings.criteria),
        )  # fmt: skip
        self.read_path = ModuleReadPath(
            facts, self.logger, parts.planner, parts.delta_reader, parts.change_probe
        )
        self.compression_level = parts.settings.batch_compression_level
        self._export: ModuleExport | DeltaExport | None = None  # the export being read
        self._refusal: str | None = None  # Zoho's code when it refuses the whole module

    @property
    def module_state(self) -> ModuleState:
        """The tap's own keys in this stream's state: checkpoint, bin, deletions."""
        return ModuleState(self.stream_state)

    @override
    def schema_wanted(self) -> bool:
        """False when Zoho refuses bulk read of the module as a whole (no SCHEMA, no table).

        The first job is created before the SCHEMA goes out (or was created ahead of the
        stream's turn), so a module Zoho refuses gets no SCHEMA, and so no empty table in the
        target: one warning, and the run goes on.
        """
        if self.dry_run:
            return True  # --test makes no job
        self.parts.order.read_ahead(self.name)
        if not self.module_state.resumes and self.export_needed():
            self._refusal = self.parts.jobs.first_job(self.job_query())
        if self._refusal is None:
            return True
        self.logger.warning(
            "%s: Zoho does not export this module through bulk read (%s); the stream is "
            "skipped and no table is made for it. Deselect it to silence this warning.",
            self.module,
            self._refusal,
        )
        return False

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Run the module's bulk read jobs and yield every row of every page."""
        return rows(self.record_batches(context))

    def starting_timestamp(self) -> datetime | None:
        """Where the export starts: the bookmark, or ``start_date`` when later or alone."""
        if not self.replication_key:
            return None
        return self.module_state.start(self.replication_key, self.parts.settings.start_date)

    @override
    def newest_value(self) -> str | None:
        """The newest replication value of the rows read so far (pages of earlier runs too)."""
        return self._export.newest if self._export is not None else None

    def job_query(self) -> JobQuery:
        """The export this stream needs: selected fields, bookmark criterion, module settings."""
        return self.export_plan(ahead=True).job_query()

    def _restored_keys(self) -> tuple[str, ...]:
        """Replication key values of records restored since the last run (exported again)."""
        if not self.replication_key or self.starting_timestamp() is None:
            return ()
        restored = self.parts.restore_finder.change(self.module).restored
        return tuple(value for value in restored.values() if value)  # the query sorts them

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
            try:
                found = self.read_path.sample()
            except ZohoAPIError as exc:
                raise self._refused(exc) from None
            yield from ([[{"id": found}]] if found else [])
            return
        export: ModuleExport | DeltaExport | None = None
        if not self.export_needed():
            export = self.read_path.query_api_export(self.export_plan())
            if export is None and not self.export_needed():
                yield from self._after_export()
                return
        resumed = export is None and self.module_state.resume().checkpoint is not None
        self._export = export = export or self._bulk_export(raw_numbers)
        if export.newest:
            # records of the pages read before the interruption count towards the bookmark
            self.note_progress(export.newest)
        started = time.monotonic()
        try:
            for item in export.items():
                if isinstance(item, PageEnd):
                    self.parts.summary.add(self.name, pages=1)
                yield item
        except ZohoAPIError as exc:
            raise self._refused(exc) from None
        if export.skipped:
            return
        self.module_state.export_read(self.parts.run_started, resumed)
        yield from self._after_export(activate=self.replication_key is None, rows=export.emitted)
        self._save_checkpoint(None)
        self.logger.info(
            "%s: %d records in %.1fs", self.module, export.emitted, time.monotonic() - started
        )

    def _bulk_export(self, raw_numbers: bool) -> ModuleExport:
        resume = self.module_state.resume()
        if resume.dropped:
            self.logger.warning("%s", resume.warning(self.module))
        return ModuleExport(
            self.export_plan(), self.parts.jobs, self.logger, resume=resume.checkpoint,
            newest=resume.newest, on_checkpoint=self._save_checkpoint, raw_numbers=raw_numbers,
        )  # fmt: skip

    def _refused(self, exc: ZohoAPIError) -> Exception:
        """A refusal from Zoho as one line naming the fix."""
        return refused_job(self.module, SCOPE_PREFIXES[self.parts.api.product], exc)

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
            if self.table_version is not None:
                self.parts.summary.table_read(self.name, self.table_version, rows)
        if not self.child_of:
            change = self.parts.restore_finder.change(self.module)
            if change.checked:  # the export holding its restores is read: remember the bin
                self.module_state.keep_bin(change.binned)

    def reads_ahead(self) -> bool:
        """Whether this module's read path may be decided and read before its turn.

        Made ready here, in the sync's thread: its state entry and selection, which singer-sdk
        writes on first use.
        """
        if self.read_path.planner is None or self.module_state.resumes:
            return False
        _ = self.mask
        return True

    def read_ahead(self) -> None:
        """Decide the read path and, for the Query API, read, before the module's turn.

        Any failure is left for the turn, which does the work again and meets it there.
        """
        try:
            if not self.export_needed():
                self.read_path.query_api_export(self.export_plan(ahead=True), ahead=True)
        except Exception as exc:
            self.logger.debug("%s: read ahead of its turn failed (%s)", self.module, exc)

    def export_needed(self) -> bool:
        """Whether this run makes bulk read jobs for the module (decided and logged once)."""
        if self.read_path.decision is not None:
            return self.read_path.decision.bulk
        state = self.module_state
        return self.read_path.decide(
            resumes=state.resumes, start=self.starting_timestamp(),
            last_export_began=state.last_export_began(),
            restored_records=bool(self.replication_key and self._restored_keys()),
        ).bulk  # fmt: skip

    def export_plan(self, *, ahead: bool = False) -> ExportPlan:
        """What the stream exports: its fields, selection, bookmark and settings.

        ``ahead``: only its job is wanted (before the stream's turn: no table version yet).
        """
        constants, absent = {}, {DELETED_AT}
        if self.replication_key is None and ahead:
            absent.add(TABLE_VERSION)
        elif self.replication_key is None:
            if self.table_version is None:
                self.table_version = self._table_version()  # BATCH mode: no prepare_sync
            constants[TABLE_VERSION] = self.table_version
        return ExportPlan(
            module=self.module, stream=self.name, specs=self.found.specs,
            selected=self.selected_properties(), dot_fields=self.found.dot_fields,
            replication_key=self.replication_key, start=self.starting_timestamp(),
            criteria=self.settings.criteria, cvid=self.settings.cvid, also=self._restored_keys(),
            absent=frozenset(absent), constants=constants,
        )  # fmt: skip

    def _deleted_records(self) -> Iterator[list[dict[str, Any]]]:
        """``{id, _sdc_deleted_at}`` for the records deleted since this stream last asked."""
        assert self.deletions is not None
        batch = self.deletions.marks(self.module, self.module_state.deletions_since())
        if batch:
            self.module_state.deletions_marked(max(record[DELETED_AT] for record in batch))
            self.logger.info("%s: %d deleted records marked", self.module, len(batch))
            yield batch

    def _table_version(self) -> int:
        """A FULL_TABLE run's version: new, or the resumed run's (its rows carry that one)."""
        return self.module_state.resumed_table_version() or self.new_table_version()

    def _save_checkpoint(self, checkpoint: Checkpoint | None) -> None:
        """Keep (or, once the export is read, drop) the resume point in state, and emit it.

        Only pages whose records were all emitted lie behind a checkpoint; the bookmark
        itself still moves only when the export is complete.
        """
        newest = self._export.newest if self._export is not None else None
        version = self.table_version if self.replication_key is None else None
        if self.module_state.keep_checkpoint(checkpoint, newest, version):
            self.emit_state()

    @override
    def prepare_sync(self) -> None:
        """A full-table sync gets its table version (the resumed run's, or a new one)."""
        if self.replication_key is None:
            self.table_version = self._table_version()
            self._line_writer = None  # its RECORD lines carry the new version
