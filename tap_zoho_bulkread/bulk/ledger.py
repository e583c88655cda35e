"""The run's bulk read jobs in flight, and the settings every job is created with."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


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
        self.refused: dict[str, str] = {}  # module -> the code Zoho refused its job with

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

    def take_ahead(self, module: str, body: dict[str, Any]) -> str | None:
        """The job created ahead for exactly this body, if any."""
        job_id, created_for = self.ahead.pop(module, (None, ""))
        if job_id is not None and created_for != fingerprint(body):
            self.done(job_id)  # the query changed since; that job is left unused
            return None
        return job_id


def fingerprint(body: dict[str, Any]) -> str:
    """A short, stable digest of a job body, to tell two bodies apart."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
