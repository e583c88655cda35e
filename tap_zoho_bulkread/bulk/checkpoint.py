"""Where an export stands, kept in state so that a killed run goes on from there."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tap_zoho_bulkread.errors import ZohoAPIError
from tap_zoho_bulkread.zoho.answers import MAX_PAGES, PAGE_TOKEN, zoho_id

RESUME_SECONDS = 23 * 3600  # Zoho keeps results and page tokens for a day


@dataclass(frozen=True)
class Checkpoint:
    """Where an export stands: enough for a restarted run to continue without starting over."""

    export: str
    page: int
    page_token: str | None
    job_id: str
    created: float

    def usable_for(self, export: str) -> bool:
        """Whether this checkpoint belongs to ``export`` and its job is less than a day old."""
        age = time.time() - self.created
        return self.export == export and 0 <= age < RESUME_SECONDS

    def to_state(self) -> dict[str, Any]:
        """The checkpoint as it is kept in the stream's state."""
        return {
            "export": self.export,
            "page": self.page,
            "page_token": self.page_token,
            "job_id": self.job_id,
            "created": datetime.fromtimestamp(self.created, timezone.utc).isoformat(),
        }

    @classmethod
    def from_state(cls, value: Any) -> Checkpoint | None:
        """Read a checkpoint from state; None when absent or not understood."""
        if not isinstance(value, dict):
            return None
        try:
            token = value.get("page_token") or None
            page = int(value["page"])
            if token is not None and not PAGE_TOKEN.fullmatch(str(token)):
                return None
            if not 1 <= page <= MAX_PAGES:
                return None
            return cls(
                export=str(value["export"]),
                page=page,
                page_token=token,
                job_id=zoho_id(value["job_id"], "the checkpoint's job id"),
                created=datetime.fromisoformat(str(value["created"])).timestamp(),
            )
        except (KeyError, TypeError, ValueError, ZohoAPIError):
            return None
