"""A bulk read job awaited: polls whose waits grow with the job's time, a heartbeat, a deadline."""

from __future__ import annotations

import logging
import time
from typing import Any

from tap_zoho_bulkread.bulk.ledger import JobSettings
from tap_zoho_bulkread.errors import JobFailed, JobTimeout
from tap_zoho_bulkread.summary import plural
from tap_zoho_bulkread.zoho.answers import JobResult, failure_of, job_result, job_status, zoho_id
from tap_zoho_bulkread.zoho.client import ZohoClient

MAX_POLL_SECONDS = 30.0
POLL_SHARE = 0.1
HEARTBEAT_SECONDS = 60.0


class JobPoller:
    """Asks after a job, with waits that grow with the time it has taken, until it is done."""

    def __init__(self, client: ZohoClient, settings: JobSettings, logger: logging.Logger) -> None:
        self.client = client
        self.settings = settings
        self.logger = logger

    def status(self, job_id: str) -> tuple[str, dict[str, Any]]:
        """A job's state and details."""
        answer = self.client.get_json(f"{self.settings.read_path}/{zoho_id(job_id, 'job id')}")
        return job_status(answer, job_id)

    def wait(self, job_id: str, module: str) -> JobResult:
        """Poll a job with growing waits until it completes; raise on FAILURE or timeout."""
        started = time.monotonic()
        interval = self.settings.poll_interval_seconds
        last_state, last_said = "", 0.0
        while True:
            state, status = self.status(job_id)
            elapsed = time.monotonic() - started
            if state != last_state:
                self.logger.info("%s: job %s is %s after %.1fs", module, job_id, state, elapsed)
                last_state, last_said = state, elapsed
            elif elapsed - last_said >= HEARTBEAT_SECONDS:
                self.logger.info(
                    "%s: job %s is still %s after %s",
                    module,
                    job_id,
                    state,
                    plural(round(elapsed / 60), "minute"),
                )
                last_said = elapsed
            if state == "COMPLETED":
                return job_result(status, job_id)
            if state in ("FAILURE", "FAILED"):
                code, message = failure_of(status)
                raise JobFailed(module, job_id, code, message)
            if elapsed + interval > self.settings.job_timeout_seconds:
                raise JobTimeout(module, job_id, state, elapsed)
            time.sleep(interval)
            # Waits grow with the time already spent (a tenth of it), so a late poll never
            # wastes more than a small share of the job's own time.
            interval = min(
                max(self.settings.poll_interval_seconds, elapsed * POLL_SHARE),
                max(MAX_POLL_SECONDS, self.settings.poll_interval_seconds),
            )
