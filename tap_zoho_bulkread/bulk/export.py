"""One module's export read to the end: fields Zoho refuses, recounted pages, the newest value.

The stream says what to export (an ``ExportPlan``) and gets the decoded rows back in batches,
with a ``PageEnd`` after each page's rows; it never sees a job, a file or a retry. Nothing here
knows singer-sdk.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tap_zoho_bulkread.bulk.batches import Batch, newest
from tap_zoho_bulkread.bulk.checkpoint import Checkpoint
from tap_zoho_bulkread.bulk.decode import RecordDecoder
from tap_zoho_bulkread.bulk.jobs import BulkJobs, BulkReader, ExportedPage, download_folder
from tap_zoho_bulkread.bulk.metadata import FieldSpec, dot_field_property
from tap_zoho_bulkread.bulk.query import JobQuery, build_query
from tap_zoho_bulkread.errors import Action, ExportFileError, ZohoAPIError, ZohoError, rule_of

if TYPE_CHECKING:
    from tap_zoho_bulkread.bulk.columnar import ColumnarDecoder


@dataclass(frozen=True)
class ExportPlan:
    """What one stream exports, decided by the stream from its catalog and state."""

    module: str
    stream: str
    specs: list[FieldSpec]
    selected: list[str]  # the selected properties, ``id`` and the replication key included
    dot_fields: tuple[str, ...]
    replication_key: str | None
    start: datetime | None = None  # the bookmark (or start_date) the export starts at
    criteria: Any = None  # the module's own criteria setting
    cvid: str | None = None
    also: tuple[str, ...] = ()  # replication key values of records restored since the last run
    absent: frozenset[str] = frozenset()  # selected properties no job ever asks for
    constants: dict[str, int] = field(default_factory=dict)  # one value in every row

    @property
    def exported(self) -> list[str]:
        """The selected properties an export carries (not the absent ones, not constants)."""
        return [p for p in self.selected if p not in self.absent and p not in self.constants]

    def job_query(self, refused: frozenset[str] = frozenset()) -> JobQuery:
        """The export's job: the selected fields less those Zoho refused, the bookmark."""
        dot_properties = {dot_field_property(name): name for name in self.dot_fields}
        asked = [name for name in self.exported if name not in refused]
        return build_query(
            module=self.module,
            selected=[name for name in asked if name != "id" and name not in dot_properties],
            lookup_fields=[dot_properties[name] for name in asked if name in dot_properties],
            replication_key=self.replication_key,
            start=self.start,
            user_criteria=self.criteria,
            cvid=self.cvid,
            also=self.also,
        )


@dataclass(frozen=True)
class PageEnd:
    """Follows the rows of one page: BATCH files close here, before the checkpoint moves."""

    number: int
    records: int


ExportItem = Batch | PageEnd


class ModuleExport:
    """Reads one export to its end; counts the rows and notes the newest replication value.

    A field Zoho refuses to export (``FIELD_NOT_SUPPORTED``) is left out of the job with a
    warning and stays null; a module it refuses (``MODULE_NOT_SUPPORTED``) ends the export with
    a warning (``skipped``). Any other refusal is raised as Zoho's ``ZohoAPIError``.
    """

    def __init__(
        self,
        plan: ExportPlan,
        jobs: BulkJobs,
        logger: logging.Logger,
        *,
        resume: Checkpoint | None = None,
        newest: str | None = None,
        on_checkpoint: Callable[[Checkpoint], None] | None = None,
        raw_numbers: bool = False,
    ) -> None:
        """``newest`` is the newest replication value of pages read before an interruption."""
        self.plan = plan
        self.jobs = jobs
        self.logger = logger
        self.resume = resume
        self.on_checkpoint = on_checkpoint
        self.raw_numbers = raw_numbers
        self.newest = newest
        self.emitted = 0
        self.skipped = False

    def items(self) -> Iterator[ExportItem]:
        """Every page's rows in batches, a ``PageEnd`` after each page."""
        plan = self.plan
        self.logger.info(
            "%s: exporting %d fields%s",
            plan.module,
            len(plan.selected),
            f" where {plan.replication_key} >= {plan.start.isoformat()}"
            if plan.start
            else " (full export)",
        )
        refused: frozenset[str] = frozenset()
        while True:
            try:
                yield from self._pages(refused)
                return
            except ZohoAPIError as exc:
                if rule_of(exc.code).on_job is Action.SKIP_MODULE and not self.emitted:
                    self.logger.warning(
                        "%s: Zoho does not export this module through bulk read (%s); the "
                        "stream is skipped. Deselect it to silence this warning.",
                        plan.module,
                        exc.message[:200],
                    )
                    self.skipped = True
                    return
                prop = self._refused_property(exc, refused) if not self.emitted else None
                if prop is None:
                    raise
                refused |= {prop}

    def _refused_property(self, exc: ZohoAPIError, refused: frozenset[str]) -> str | None:
        """The property of a field Zoho refused at job creation, to leave out; else None."""
        plan = self.plan
        if rule_of(exc.code).on_job is not Action.DROP_FIELD:
            return None
        details = exc.details if isinstance(exc.details, dict) else {}
        name = details.get("api_name") or details.get("field")
        if isinstance(name, dict):
            name = name.get("api_name")
        if not isinstance(name, str):
            return None
        prop = dot_field_property(name) if name in plan.dot_fields else name
        if prop not in plan.selected or prop in refused or prop == "id":
            return None
        if prop == plan.replication_key:
            raise ZohoError(
                f"{plan.module}: Zoho refuses to export the replication key {prop} "
                f"({exc.code}); set module_settings.{plan.module}.replication_key to the other "
                "of Created_Time and Modified_Time, or deselect the stream."
            )
        self.logger.warning(
            "%s: Zoho refuses to export the field %s (%s); it is left out of the export and "
            "stays null. Deselect it to silence this warning.",
            plan.module,
            name,
            exc.code,
        )
        return prop

    def _decoder(self, refused: frozenset[str]) -> RecordDecoder | ColumnarDecoder:
        plan = self.plan
        strict = RecordDecoder(
            plan.module,
            plan.specs,
            plan.selected,
            renamed={f: dot_field_property(f) for f in plan.dot_fields},
            absent=refused | plan.absent,
            constants=plan.constants,
            raw_numbers=self.raw_numbers,
            logger=self.logger,
        )
        if not self.raw_numbers:
            return strict
        from tap_zoho_bulkread.bulk import columnar  # noqa: PLC0415 (pyarrow only when decoding)

        if columnar.AVAILABLE:
            return columnar.ColumnarDecoder(strict)
        self.logger.info(
            "%s: pyarrow is not installed, so the Python decoder reads the CSV; install "
            "tap-zoho-bulkread[fast] to decode faster",
            plan.module,
        )
        return strict

    def _pages(self, refused: frozenset[str]) -> Iterator[ExportItem]:
        plan = self.plan
        decoder = self._decoder(refused)
        with download_folder() as work_dir:
            reader = self.jobs.reader(work_dir, plan.stream)
            pages = reader.pages(
                plan.job_query(refused), resume=self.resume, on_checkpoint=self.on_checkpoint
            )
            for page in pages:
                page_started, before = time.monotonic(), self.emitted
                for batch in self._page_batches(reader, decoder, page):
                    self.emitted += len(batch)
                    self._note_newest(batch)
                    yield batch
                yield PageEnd(page.page, self.emitted - before)
                self.logger.info(
                    "%s: page %d of %s emitted: %d records in %.2fs, %d records so far",
                    plan.module,
                    page.page,
                    f"at least {page.page + 1}" if page.more_records else str(page.page),
                    self.emitted - before,
                    time.monotonic() - page_started,
                    self.emitted,
                )

    def _page_batches(
        self, reader: BulkReader, decoder: RecordDecoder | ColumnarDecoder, page: ExportedPage
    ) -> Iterator[Batch]:
        """A page's records; a page holding other than Zoho's count is downloaded once more.

        The rows already emitted are skipped in the second download (a result's rows come in
        the same order each time); if it still disagrees, the run fails before any bookmark.
        """
        module = self.plan.module
        emitted = 0
        for batch in decoder.batches(page.path, page.job_id):
            emitted += len(batch)
            yield batch
        if emitted == page.count:
            return
        self.logger.warning(
            "%s: page %d of job %s held %d records, Zoho counted %d; downloading it once more",
            module,
            page.page,
            page.job_id,
            emitted,
            page.count,
        )
        path = reader.download(page.job_id, page.result, page.page, module)
        try:
            seen = 0
            for batch in decoder.batches(path, page.job_id):
                fresh = batch[max(emitted - seen, 0) :]
                seen += len(batch)
                if fresh:
                    yield fresh
            if seen != page.count or emitted > seen:
                raise ExportFileError(
                    f"{module}: page {page.page} of job {page.job_id} holds {seen} records "
                    f"but Zoho counted {page.count}, twice; the export is incomplete. Run the "
                    "sync again; if it repeats, report the job id to Zoho."
                )
        finally:
            path.unlink(missing_ok=True)

    def _note_newest(self, batch: Batch) -> None:
        key = self.plan.replication_key
        if not key:
            return
        latest = newest(batch, key)
        if latest is not None and (self.newest is None or latest > self.newest):
            self.newest = latest


def rows(items: Iterator[ExportItem]) -> Iterator[dict[str, Any]]:
    """The records of an export, without the page ends."""
    for item in items:
        if not isinstance(item, PageEnd):
            yield from item
