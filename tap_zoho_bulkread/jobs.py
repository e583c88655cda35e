"""The bulk read job life cycle: create, poll with a deadline, follow pages, download to disk."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tap_zoho_bulkread.client import ZohoClient
from tap_zoho_bulkread.errors import JobFailed, JobTimeout, ZohoAPIError
from tap_zoho_bulkread.query import JobQuery, job_body, uses_page_tokens

FINISHED_STATES = ("COMPLETED", "FAILURE", "FAILED")
MAX_POLL_SECONDS = 30.0


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
        self, client: ZohoClient, settings: JobSettings, logger: logging.Logger, work_dir: Path
    ) -> None:
        self.client = client
        self.settings = settings
        self.logger = logger
        self.work_dir = work_dir

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
            interval = min(
                interval * 1.5, max(MAX_POLL_SECONDS, self.settings.poll_interval_seconds)
            )

    def pages(self, query: JobQuery) -> Iterator[ExportedPage]:
        """Export every page of ``query``; each file is removed once the caller moves on.

        The next page's job is created as soon as a page completes, before downloading it,
        so Zoho works on it while this page is downloaded and decoded.
        """
        settings = self.settings
        page = 1
        job_id = self.create(
            job_body(query, product=settings.product, version=settings.version), query.module
        )
        while True:
            result = self.wait(job_id, query.module)
            next_body = self._next_page_body(query, result, page)
            # Prefetch: Zoho works on the next page while this one is downloaded and decoded.
            prefetch = next_body is not None and settings.max_concurrent_jobs > 1
            next_job = self.create(next_body, query.module) if prefetch and next_body else None
            path = self.work_dir / f"{job_id}.zip"
            started = time.monotonic()
            size = self.client.download(str(result["download_url"]), path)
            self.logger.info(
                "%s: downloaded page %d of job %s (%d records, %.1f MB) in %.1fs",
                query.module,
                page,
                job_id,
                int(result.get("count") or 0),
                size / 1e6,
                time.monotonic() - started,
            )
            try:
                yield ExportedPage(
                    job_id, page, int(result.get("count") or 0), path, next_body is not None
                )
            finally:
                path.unlink(missing_ok=True)
            if next_body is None:
                return
            job_id = next_job or self.create(next_body, query.module)
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
