"""The bulk read job life cycle: create, poll with a deadline, follow pages, download to disk."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from tap_zoho_bulkread.bulk.checkpoint import Checkpoint
from tap_zoho_bulkread.bulk.ledger import JobLedger, JobSettings, fingerprint
from tap_zoho_bulkread.bulk.polling import JobPoller
from tap_zoho_bulkread.bulk.query import JobQuery, job_body, uses_page_tokens
from tap_zoho_bulkread.errors import (
    TAP_REFUSALS,
    TAP_UNEXPECTED_RESPONSE,
    Action,
    ExportFileError,
    JobFailed,
    ZohoAPIError,
    codes_where,
    refuses_checkpoint,
)
from tap_zoho_bulkread.zoho.answers import (
    MAX_PAGES,
    JobResult,
    created_job_id,
    query_module,
)
from tap_zoho_bulkread.zoho.client import ZohoClient

MAX_JOB_ATTEMPTS = 3
TRANSIENT_JOB_CODES = codes_where("job", Action.NEW_JOB)


def _other_export(status: dict[str, Any], job_id: str, query: JobQuery) -> str:
    """Why a job's status shows it is not an export of ``query`` ("" when it is)."""
    module = query_module(status)
    if module is None:
        return f"the status of job {job_id} does not say which module it exports"
    if module != query.module:
        return f"job {job_id} exports {module[:60]!r}, not {query.module}"
    fields = status["query"].get("fields")
    if query.fields is not None and isinstance(fields, list) and set(fields) != set(query.fields):
        return f"job {job_id} exports other fields"
    return ""


def result_is_gone(exc: ZohoAPIError) -> bool:
    """Zoho lost the job or its result expired: 404, or v8's 400 ``RESOURCE_NOT_FOUND``."""
    return exc.status == 404 or (exc.status == 400 and exc.code == "RESOURCE_NOT_FOUND")


def _worth_a_new_job(exc: Exception) -> bool:
    """A failure that a fresh job for the same page may not meet again."""
    if isinstance(exc, JobFailed):
        return exc.code in TRANSIENT_JOB_CODES
    return isinstance(exc, ZohoAPIError) and result_is_gone(exc)


@dataclass(frozen=True)
class ExportedPage:
    """One completed, downloaded page of an export."""

    job_id: str
    page: int
    result: JobResult
    path: Path
    more_records: bool

    @property
    def count(self) -> int:
        """How many records Zoho says the page holds."""
        return self.result.count


@contextmanager
def download_folder() -> Iterator[Path]:
    """A private temporary folder for one stream's downloads, removed with what it holds."""
    folder = Path(tempfile.mkdtemp(prefix="tap-zoho-bulkread-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _checkpoint_unkept(checkpoint: Checkpoint) -> None:
    """Where a checkpoint goes when no one keeps it."""


class JobsAhead(Protocol):
    """Who creates the jobs of the streams after one, while Zoho has room for them."""

    def create_after(self, stream: str, reader: BulkReader) -> None:
        """Create, with ``reader``, the first job of the selected streams after ``stream``."""


class BulkReader:
    """Runs the jobs of one query, page after page, and hands out downloaded files.

    With ``ahead``, each time this reader's ``stream`` leaves room for more jobs, the streams
    after it get theirs created.
    """

    def __init__(
        self,
        client: ZohoClient,
        settings: JobSettings,
        logger: logging.Logger,
        work_dir: Path,
        *,
        ledger: JobLedger | None = None,
        ahead: JobsAhead | None = None,
        stream: str = "",
    ) -> None:
        self.client = client
        self.settings = settings
        self.logger = logger
        self.work_dir = work_dir
        self.ledger = ledger or JobLedger(settings.max_concurrent_jobs)
        self.ahead = ahead
        self.stream = stream
        self.poller = JobPoller(client, settings, logger)
        self.created_at: dict[str, float] = {}
        self.downloads = 0

    def schedule_ahead(self) -> None:
        """Let the streams after this one create their jobs while there is room."""
        if self.ahead is not None:
            self.ahead.create_after(self.stream, self)

    def create(self, body: dict[str, Any], module: str, page: int = 1) -> str:
        """Create a job for ``page`` of an export; return its id."""
        job_id = created_job_id(self.client.post_json(self.settings.read_path, body), module)
        self.logger.info("%s: created bulk read job %s for page %d", module, job_id, page)
        self.ledger.add(job_id)
        self.created_at[job_id] = time.time()
        return job_id

    def status(self, job_id: str) -> tuple[str, dict[str, Any]]:
        """A job's state and details."""
        return self.poller.status(job_id)

    def wait(self, job_id: str, module: str) -> JobResult:
        """Poll a job with growing waits until it completes; raise on FAILURE or timeout."""
        return self.poller.wait(job_id, module)

    def pages(
        self,
        query: JobQuery,
        *,
        resume: Checkpoint | None = None,
        on_checkpoint: Callable[[Checkpoint], None] | None = None,
    ) -> Iterator[ExportedPage]:
        """Export every page of ``query``; each file is removed once the caller moves on.

        The next page's job is created as soon as a page completes, before downloading it,
        so Zoho works on it while this page is downloaded and decoded. ``on_checkpoint`` is
        told, whenever a job is created for the next page to read, what a restarted run needs
        to continue there; ``resume`` is such a checkpoint from an earlier run.
        """
        settings = self.settings
        save = on_checkpoint or _checkpoint_unkept
        first = job_body(query, product=settings.product, version=settings.version)
        export = fingerprint(first)
        resumed = self._resumable(resume, export, query) if resume is not None else None
        page, token, body = 1, None, first
        job_id = ""
        if resumed is not None:
            page, token, job_id = resumed.page, resumed.page_token, resumed.job_id
            body = self._page_body(query, page, token)
            self.logger.info(
                "%s: resuming the interrupted export at page %d%s",
                query.module,
                page,
                f" with job {job_id}" if job_id else " with a new job",
            )
            if resumed.job_id:
                self.created_at[job_id] = resumed.created
                self.ledger.add(job_id)
            else:  # Zoho lost the job or its result expired: the same page, a new job
                job_id = self._resumed_job(body, query.module, page)
            if not job_id:
                page, token, body = 1, None, first
        if not job_id:
            job_id = self.ledger.take_ahead(query.module, first) or self.create(first, query.module)
            self.created_at.setdefault(job_id, time.time())
        save(Checkpoint(export, page, token, job_id, self.created_at[job_id]))
        self.schedule_ahead()
        seen_tokens: set[str] = set()
        unconfirmed = resumed is not None and body is not first  # the checkpoint's job
        while True:
            try:
                job_id, result = self._complete(job_id, body, query.module, page)
            except (JobFailed, ZohoAPIError) as exc:
                if not (unconfirmed and refuses_checkpoint(exc)):
                    raise
                self._checkpoint_refused(query.module, page, exc)
                page, token, body, unconfirmed = 1, None, first, False
                job_id = self.create(first, query.module)
                save(Checkpoint(export, page, token, job_id, self.created_at[job_id]))
                continue
            unconfirmed = False
            if result.page is not None and result.page != page and token is None:
                raise ZohoAPIError(
                    TAP_UNEXPECTED_RESPONSE,
                    200,
                    f"job {job_id} for {query.module} page {page} answered page {result.page}",
                )
            next_body = self._next_page_body(query, result, page, job_id, seen_tokens)
            if next_body is None and result.count == 0:
                # nothing exported: no download (one of Zoho's 10 a minute), no file to read
                self.ledger.done(job_id)
                self.logger.info(
                    "%s: job %s exported no records; nothing to download", query.module, job_id
                )
                return
            next_job = None
            if next_body is not None and self.ledger.has_room():
                # Zoho works on the next page while this one is downloaded and decoded.
                next_job = self.create(next_body, query.module, page + 1)
            job_id, result, path = self._download(job_id, result, body, query.module, page)
            if next_body is not None and next_job is None:
                next_job = self.create(next_body, query.module, page + 1)  # this stream first
            self.schedule_ahead()
            try:
                yield ExportedPage(job_id, page, result, path, next_body is not None)
            finally:
                path.unlink(missing_ok=True)
            if next_job is None or next_body is None:
                return
            page, job_id, body = page + 1, next_job, next_body
            token = body["query"].get("page_token")
            save(Checkpoint(export, page, token, job_id, self.created_at[job_id]))

    def _resumed_job(self, body: dict[str, Any], module: str, page: int) -> str:
        """A new job for the checkpoint's page; "" when Zoho refuses the checkpoint (logged)."""
        try:
            return self.create(body, module, page)
        except ZohoAPIError as exc:
            if not refuses_checkpoint(exc):
                raise
            self._checkpoint_refused(module, page, exc)
            return ""

    def _checkpoint_refused(self, module: str, page: int, exc: Exception) -> None:
        self.logger.warning(
            "%s: Zoho no longer accepts the interrupted export's checkpoint (page %d: %s); the "
            "checkpoint is dropped and the module is exported again from its bookmark (records "
            "already loaded come again; the target keeps one of each)",
            module,
            page,
            exc,
        )

    def _resumable(self, resume: Checkpoint, export: str, query: JobQuery) -> Checkpoint | None:
        """The checkpoint, if its job is confirmed to be this export's; else None, logged."""
        reason = ""
        if not resume.usable_for(export):
            reason = "the query changed or its jobs are over a day old"
        else:
            try:
                _, status = self.status(resume.job_id)
            except ZohoAPIError as exc:
                if not result_is_gone(exc):
                    raise
                # a warning only if Zoho refuses the new job too (the checkpoint is dropped then)
                self.logger.info(
                    "%s: Zoho no longer knows job %s (%s); creating the job for page %d again",
                    query.module,
                    resume.job_id,
                    exc.code,
                    resume.page,
                )
                return replace(resume, job_id="")
            reason = _other_export(status, resume.job_id, query)
        if not reason:
            return resume
        self.logger.info(
            "%s: the interrupted export cannot be resumed (%s); exporting again from the first "
            "page",
            query.module,
            reason,
        )
        return None

    def _page_body(self, query: JobQuery, page: int, token: str | None) -> dict[str, Any]:
        settings = self.settings
        if token:
            return job_body(
                query, product=settings.product, version=settings.version, page_token=token
            )
        return job_body(query, product=settings.product, version=settings.version, page=page)

    def _complete(
        self, job_id: str, body: dict[str, Any], module: str, page: int
    ) -> tuple[str, JobResult]:
        """Wait for a page's job; create it again when Zoho lost it or failed it transiently."""
        for attempt in range(1, MAX_JOB_ATTEMPTS + 1):
            try:
                return job_id, self.wait(job_id, module)
            except (JobFailed, ZohoAPIError) as exc:
                self.ledger.done(job_id)
                if attempt == MAX_JOB_ATTEMPTS or not _worth_a_new_job(exc):
                    raise
                self.logger.warning(
                    "%s: creating the job for page %d again after: %s (attempt %d of %d)",
                    module,
                    page,
                    exc,
                    attempt + 1,
                    MAX_JOB_ATTEMPTS,
                )
                job_id = self.create(body, module, page)
            except BaseException:
                self.ledger.done(job_id)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def download(self, job_id: str, result: JobResult, page: int, module: str) -> Path:
        """Download a result to a file of the tap's own naming in the work folder."""
        self.downloads += 1
        path = self.work_dir / f"page-{self.downloads}.zip"
        started = time.monotonic()
        size = self.client.download(result.download_url, path)
        self.logger.info(
            "%s: downloaded page %d of job %s (%d records, %.1f MB) in %.1fs",
            module,
            page,
            job_id,
            result.count,
            size / 1e6,
            time.monotonic() - started,
        )
        return path

    def _download(
        self, job_id: str, result: JobResult, body: dict[str, Any], module: str, page: int
    ) -> tuple[str, JobResult, Path]:
        """Download a page's result; when it has expired, run the page's job again first."""
        try:
            return job_id, result, self.download(job_id, result, page, module)
        except ZohoAPIError as exc:
            self.ledger.done(job_id)
            if not result_is_gone(exc):
                raise
            self.logger.warning(
                "%s: the result of job %s is gone (%s); creating the job for page %d again",
                module,
                job_id,
                exc.message,
                page,
            )
            job_id, result = self._complete(self.create(body, module, page), body, module, page)
            return job_id, result, self.download(job_id, result, page, module)
        finally:
            self.ledger.done(job_id)

    def _next_page_body(
        self, query: JobQuery, result: JobResult, page: int, job_id: str, seen: set[str]
    ) -> dict[str, Any] | None:
        """The job body of the page after ``page``, or None when this was the last."""
        if not result.more_records:
            return None
        if page >= MAX_PAGES:
            raise ExportFileError(
                f"{query.module}: job {job_id} says more records follow page {MAX_PAGES}, Zoho's "
                "last page (100 million records); split the export with module_settings "
                "criteria."
            )
        settings = self.settings
        token = result.next_page_token
        if uses_page_tokens(settings.product, settings.version) and token:
            if token in seen:
                raise ZohoAPIError(
                    TAP_UNEXPECTED_RESPONSE,
                    200,
                    f"job {job_id} for {query.module} repeated an earlier page's "
                    "next_page_token; the export would never end",
                )
            seen.add(token)
            return job_body(
                query, product=settings.product, version=settings.version, page_token=token
            )
        return job_body(query, product=settings.product, version=settings.version, page=page + 1)


# Zoho's refusals of a module as a whole: its stream is skipped, whatever the query.
MODULE_REFUSALS = codes_where("job", Action.SKIP_MODULE)


def create_jobs_ahead(
    reader: BulkReader,
    upcoming: Iterable[JobQuery],
    *,
    ahead: bool = True,
) -> None:
    """Create the first job of each upcoming export while the ledger has room.

    Zoho runs jobs in parallel; creating them ahead overlaps its job time with the tap's
    downloading and decoding of the current stream. Output stays one stream at a time. A job
    Zoho refuses here is left to its stream, which meets (and handles) the refusal on its turn.
    """
    ledger, settings = reader.ledger, reader.settings
    for query in upcoming:  # read lazily: a query is built only while there is room
        if not ledger.has_room():
            return
        module = query.module
        if module in ledger.ahead or module in ledger.refused:
            continue
        body = job_body(query, product=settings.product, version=settings.version)
        try:
            job_id = reader.create(body, module)
        except ZohoAPIError as exc:
            if not ahead and exc.code in TAP_REFUSALS:
                raise  # an answer that is not Zoho's: the run ends here, as it would later
            if exc.code not in MODULE_REFUSALS:
                if ahead:
                    reader.logger.info("%s: no job created ahead (%s)", module, exc.code)
                return  # a limit or a passing failure: the stream meets it on its turn
            ledger.refused[module] = exc.code  # said once, by the stream on its turn
            continue
        ledger.keep_ahead(module, job_id, body)
        if ahead:
            reader.logger.info("%s: job %s created ahead of its turn", module, job_id)


class BulkJobs:
    """The run's bulk read jobs: one ledger of jobs in flight, a reader per stream."""

    def __init__(
        self,
        client: ZohoClient,
        settings: JobSettings,
        logger: logging.Logger,
        ahead: JobsAhead | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.logger = logger
        self.ledger = JobLedger(settings.max_concurrent_jobs)
        self.ahead = ahead  # set once the streams exist

    def reader(self, work_dir: Path, stream: str = "") -> BulkReader:
        """A job runner for ``stream``, writing its downloads under ``work_dir``."""
        return BulkReader(
            self.client, self.settings, self.logger, work_dir,
            ledger=self.ledger, ahead=self.ahead, stream=stream,
        )  # fmt: skip

    def first_job(self, query: JobQuery) -> str | None:
        """Create the export's first job now, unless it was created ahead of its turn.

        Returns Zoho's code when it refuses to export the module as a whole.
        """
        with download_folder() as work_dir:
            create_jobs_ahead(self.reader(work_dir, query.module), [query], ahead=False)
        return self.ledger.refused.get(query.module)
