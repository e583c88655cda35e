"""The bulk read job life cycle: create, poll with a deadline, follow pages, download to disk."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tap_zoho_bulkread.client import ZohoClient
from tap_zoho_bulkread.errors import JobFailed, JobTimeout, ZohoAPIError
from tap_zoho_bulkread.query import JobQuery, job_body, uses_page_tokens

FINISHED_STATES = ("COMPLETED", "FAILURE", "FAILED")
MAX_POLL_SECONDS = 30.0
POLL_SHARE = 0.1


@dataclass(frozen=True)
class JobSettings:
    """Where jobs are sent and how patiently they are awaited."""

    product: str
    version: str
    poll_interval_seconds: float
    job_timeout_seconds: float
    max_concurrent_jobs: int = 3

    @property
    def read_path(self) -> str:
        """``/crm/bulk/v8/read`` or ``/bigin/bulk/v2/read``."""
        return f"/{self.product}/bulk/{self.version}/read"


class JobLedger:
    """Jobs in flight across all streams: created, not yet downloaded.

    It also keeps the first-page jobs created ahead for streams whose turn has not come, so
    that Zoho works on several modules at once while the tap reads one.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 1)
        self.in_flight: set[str] = set()
        self.ahead: dict[str, tuple[str, str]] = {}

    def has_room(self) -> bool:
        """Whether one more job may be created now."""
        return len(self.in_flight) < self.limit

    def add(self, job_id: str) -> None:
        """Count a created job."""
        self.in_flight.add(job_id)

    def done(self, job_id: str) -> None:
        """A job's result is downloaded (or the job failed): it no longer counts."""
        self.in_flight.discard(job_id)

    def keep_ahead(self, module: str, job_id: str, body: dict[str, Any]) -> None:
        """Remember a job created ahead for ``module``'s first page."""
        self.ahead[module] = (job_id, fingerprint(body))
        self.add(job_id)

    def take_ahead(self, module: str, body: dict[str, Any]) -> str | None:
        """The job created ahead for exactly this body, if any."""
        job_id, created_for = self.ahead.pop(module, (None, ""))
        if job_id is not None and created_for != fingerprint(body):
            self.done(job_id)  # the query changed since; that job is left unused
            return None
        return job_id


def fingerprint(body: dict[str, Any]) -> str:
    """A stable text form of a job body, to compare two bodies."""
    return json.dumps(body, sort_keys=True)


@dataclass(frozen=True)
class ExportedPage:
    """One completed, downloaded page of an export."""

    job_id: str
    page: int
    count: int
    path: Path
    more_records: bool


class BulkReader:
    """Runs the jobs of one query, page after page, and hands out downloaded files."""

    def __init__(
        self,
        client: ZohoClient,
        settings: JobSettings,
        logger: logging.Logger,
        work_dir: Path,
        *,
        ledger: JobLedger | None = None,
        schedule_ahead: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.logger = logger
        self.work_dir = work_dir
        self.ledger = ledger or JobLedger(settings.max_concurrent_jobs)
        self.schedule_ahead = schedule_ahead or (lambda: None)

    def create(self, body: dict[str, Any], module: str) -> str:
        """Create a job; return its id."""
        answer = self.client.post_json(self.settings.read_path, body)
        try:
            details = answer["data"][0]["details"]
            job_id = str(details["id"])
        except (KeyError, IndexError, TypeError):
            raise ZohoAPIError(
                "UNEXPECTED_RESPONSE", 200, f"job creation for {module} answered {answer!r:.200}"
            ) from None
        self.logger.info(
            "%s: created bulk read job %s (page request %s)", module, job_id, _page_of(body)
        )
        self.ledger.add(job_id)
        return job_id

    def wait(self, job_id: str, module: str) -> dict[str, Any]:
        """Poll a job with growing waits until it completes; raise on FAILURE or timeout."""
        started = time.monotonic()
        interval = self.settings.poll_interval_seconds
        last_state = ""
        while True:
            answer = self.client.get_json(f"{self.settings.read_path}/{job_id}")
            try:
                status = answer["data"][0]
                state = str(status["state"])
            except (KeyError, IndexError, TypeError):
                raise ZohoAPIError(
                    "UNEXPECTED_RESPONSE", 200, f"status of job {job_id} was {answer!r:.200}"
                ) from None
            elapsed = time.monotonic() - started
            if state != last_state:
                self.logger.info("%s: job %s is %s after %.1fs", module, job_id, state, elapsed)
                last_state = state
            if state == "COMPLETED":
                return dict(status.get("result") or {})
            if state in ("FAILURE", "FAILED"):
                error = (status.get("result") or {}).get("error_message") or {}
                raise JobFailed(
                    module, job_id, str(error.get("code", "UNKNOWN")), str(error.get("message", ""))
                )
            if elapsed + interval > self.settings.job_timeout_seconds:
                raise JobTimeout(module, job_id, state, elapsed)
            time.sleep(interval)
            # Waits grow with the time already spent (a tenth of it), so a late poll never
            # wastes more than a small share of the job's own time.
            interval = min(
                max(self.settings.poll_interval_seconds, elapsed * POLL_SHARE),
                max(MAX_POLL_SECONDS, self.settings.poll_interval_seconds),
            )

    def pages(self, query: JobQuery) -> Iterator[ExportedPage]:
        """Export every page of ``query``; each file is removed once the caller moves on.

        The next page's job is created as soon as a page completes, before downloading it,
        so Zoho works on it while this page is downloaded and decoded.
        """
        settings = self.settings
        page = 1
        first = job_body(query, product=settings.product, version=settings.version)
        job_id = self.ledger.take_ahead(query.module, first)
        if job_id is None:
            job_id = self.create(first, query.module)
        else:
            self.logger.info("%s: using job %s, created ahead of its turn", query.module, job_id)
        self.schedule_ahead()
        while True:
            try:
                result = self.wait(job_id, query.module)
            except BaseException:
                self.ledger.done(job_id)
                raise
            next_body = self._next_page_body(query, result, page)
            # Prefetch: Zoho works on the next page while this one is downloaded and decoded.
            next_job = None
            if next_body is not None and self.ledger.has_room():
                next_job = self.create(next_body, query.module)
            path = self.work_dir / f"{job_id}.zip"
            started = time.monotonic()
            try:
                size = self.client.download(str(result["download_url"]), path)
            finally:
                self.ledger.done(job_id)
            self.logger.info(
                "%s: downloaded page %d of job %s (%d records, %.1f MB) in %.1fs",
                query.module,
                page,
                job_id,
                int(result.get("count") or 0),
                size / 1e6,
                time.monotonic() - started,
            )
            if next_body is not None and next_job is None:
                next_job = self.create(next_body, query.module)  # this stream goes first
            self.schedule_ahead()
            try:
                yield ExportedPage(
                    job_id, page, int(result.get("count") or 0), path, next_body is not None
                )
            finally:
                path.unlink(missing_ok=True)
            if next_job is None:
                return
            job_id = next_job
            page += 1

    def _next_page_body(
        self, query: JobQuery, result: dict[str, Any], page: int
    ) -> dict[str, Any] | None:
        """The job body of the page after ``page``, or None when this was the last."""
        if not result.get("more_records"):
            return None
        settings = self.settings
        token = result.get("next_page_token")
        if uses_page_tokens(settings.product, settings.version) and token:
            return job_body(
                query, product=settings.product, version=settings.version, page_token=str(token)
            )
        return job_body(query, product=settings.product, version=settings.version, page=page + 1)


def _page_of(body: dict[str, Any]) -> str:
    query = body.get("query", {})
    return "page_token" if "page_token" in query else str(query.get("page", 1))
