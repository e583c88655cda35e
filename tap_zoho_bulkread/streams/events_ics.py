"""The opt-in Events_ICS stream: Zoho's Events exported by bulk read as an iCalendar file."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_zoho_bulkread.bulk.ics import EVENT_SCHEMA, ics_records
from tap_zoho_bulkread.bulk.jobs import BulkJobs, download_folder
from tap_zoho_bulkread.bulk.query import JobQuery
from tap_zoho_bulkread.errors import Action, ZohoAPIError, ZohoError, rule_of
from tap_zoho_bulkread.streams.base import TABLE_VERSION, ZohoStream, with_table_version
from tap_zoho_bulkread.summary import RunSummary

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

ICS_QUERY = JobQuery("Events", None, None, None, file_type="ics")


class EventsIcsStream(ZohoStream):
    """Every VEVENT of the org's Events, exported in full each run (FULL_TABLE).

    Zoho takes no ``fields`` for an ICS export, so the whole VEVENT is read; the stream ends
    with ACTIVATE_VERSION once every page is read, so targets can drop events that are gone.
    """

    name = "Events_ICS"
    primary_keys = ("id",)
    replication_key = None
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(
        self,
        tap: Tap,
        *,
        jobs: BulkJobs,
        summary: RunSummary | None = None,
    ) -> None:
        super().__init__(tap=tap, name=self.name, schema=with_table_version(EVENT_SCHEMA))
        self.jobs = jobs
        self.summary = summary

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Run the ICS export's jobs page by page and yield a record per VEVENT."""
        del context
        if self.dry_run:
            self.logger.info("Events_ICS: --test makes no bulk read job; the ICS export is not run")
            return
        version = self.new_table_version()
        emitted, started = 0, time.monotonic()
        with download_folder() as work_dir:
            try:
                for page in self.jobs.reader(work_dir, self.name).pages(ICS_QUERY):
                    for record in ics_records(page.path, page.job_id, self.name, page.count):
                        emitted += 1
                        yield {**record, TABLE_VERSION: version}
                    self.logger.info(
                        "Events_ICS: page %d read, %d events so far", page.page, emitted
                    )
            except ZohoAPIError as exc:
                if rule_of(exc.code).on_job is Action.SKIP_MODULE and not emitted:
                    self.logger.warning(
                        "Events_ICS: Zoho does not export Events as ICS for this org (%s); the "
                        "stream is skipped. Set events_ics to false to silence this warning.",
                        exc.message[:200],
                    )
                    return
                raise ZohoError(
                    f"Events_ICS: Zoho refused the ICS export of Events ({exc.code}: "
                    f"{exc.message[:200]}); set events_ics to false, or deselect Events_ICS."
                ) from None
        self.logger.info("Events_ICS: %d events in %.1fs", emitted, time.monotonic() - started)
        self.activate_version()
        if self.summary is not None:
            self.summary.table_read(self.name, version, emitted)
