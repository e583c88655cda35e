"""REST lists read page by page: each page checked before the next is asked for."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tap_zoho_bulkread.zoho.answers import unexpected

MAX_PAGE_BYTES = 4 * 1024 * 1024  # a page of 200 users or deletions is far under 1 MB


class PageGuard:
    """Checks each page of a REST list against what was asked, and against the page before.

    A page longer than ``per_page`` is not Zoho's; a page whose entries are those of the page
    before is a server repeating itself, which would otherwise be read up to the page cap.
    """

    def __init__(self) -> None:
        self.previous: str | None = None

    def check(self, entries: list[Any], per_page: int, what: str) -> None:
        """Refuse a page over ``per_page`` entries or equal to the one before it."""
        if len(entries) > per_page:
            raise unexpected(
                f"{what} holds {len(entries)} entries on a page of {per_page} asked for", what
            )
        digest = hashlib.sha256(
            json.dumps(entries, sort_keys=True, default=str).encode()
        ).hexdigest()
        if entries and digest == self.previous:
            raise unexpected(f"{what} sends the same page twice; the list does not advance", what)
        self.previous = digest
