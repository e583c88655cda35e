"""Records deleted in Zoho, and restored from its recycle bin, read through the REST API.

Bulk read exports only live records. ``GET /{module}/deleted`` lists the records deleted since
a moment (``If-Modified-Since``); a record restored from the recycle bin simply leaves that
list, so restores are found by comparing the recycle bin with the one seen the run before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from tap_zoho_bulkread.errors import Action, ZohoAPIError, codes_where
from tap_zoho_bulkread.summary import plural
from tap_zoho_bulkread.times import utc_datetime, zoho_datetime
from tap_zoho_bulkread.zoho.answers import named_id, text_value, unexpected, zoho_id
from tap_zoho_bulkread.zoho.changes import EVERY_RECORD_SET
from tap_zoho_bulkread.zoho.client import ZohoClient
from tap_zoho_bulkread.zoho.data_centers import ApiPaths
from tap_zoho_bulkread.zoho.once import OncePerKey
from tap_zoho_bulkread.zoho.pages import MAX_PAGE_BYTES, PageGuard

DELETED_PER_PAGE = 200
MAX_DELETED_PAGES = 5000  # a million deletions per module and run; a bound, not a target
IDS_PER_LOOKUP = 100  # Zoho's limit on ids in one GET /{module}?ids=
DELETED_TYPES = ("recycle", "permanent")
RESTORED = "restored"
# Refusals that mean "this module has no deletion list for this token": skip it, warn.
SKIPPABLE_CODES = codes_where("list", Action.SKIP_LIST)

# The columns of a Deleted_Records row, in order (the stream's schema types them).
DELETED_FIELDS = (
    "module",
    "id",
    "display_name",
    "type",
    "deleted_time",
    "deleted_by_id",
    "deleted_by_name",
    "created_by_id",
)


def deleted_record(module: str, entry: Any) -> dict[str, Any]:
    """One entry of ``GET /{module}/deleted`` as a flat record; a malformed entry is an error."""
    if not isinstance(entry, dict):
        raise unexpected(
            f"the deleted records of {module} hold an entry that is not an object", entry
        )
    kind = entry.get("type")
    if kind not in DELETED_TYPES:
        raise unexpected(f"a deleted record of {module} has the type", kind)
    try:
        deleted_time = utc_datetime(str(entry.get("deleted_time")))
    except ValueError:
        raise unexpected(f"a deleted record of {module} has a deleted_time", entry) from None
    by_id, by_name = named_id(entry.get("deleted_by"), "a deleting user's id")
    created_by, _ = named_id(entry.get("created_by"), "a creating user's id")
    return {
        "module": module,
        "id": zoho_id(entry.get("id"), f"a deleted record id of {module}"),
        "display_name": text_value(
            entry.get("display_name"), f"a deleted record's display_name of {module}"
        ),
        "type": kind,
        "deleted_time": deleted_time,
        "deleted_by_id": by_id,
        "deleted_by_name": by_name,
        "created_by_id": created_by,
    }


def restored_record(module: str, record_id: str) -> dict[str, Any]:
    """The row telling the target that a record left the recycle bin alive."""
    empty = dict.fromkeys(DELETED_FIELDS)
    return {**empty, "module": module, "id": record_id, "type": RESTORED}


DELETED_AT = "_sdc_deleted_at"  # a module stream's mark of a deleted record
DELETED_AT_SCHEMA = {
    "type": ["string", "null"],
    "format": "date-time",
    "description": "When Zoho deleted the record (deletions_in_module_streams); UTC",
}


def with_deleted_at(schema: dict[str, Any]) -> dict[str, Any]:
    """A module stream's ``schema`` with ``_sdc_deleted_at`` (deletions_in_module_streams)."""
    return {**schema, "properties": {**schema["properties"], DELETED_AT: DELETED_AT_SCHEMA}}


class DeletionReader:
    """Reads Zoho's lists of deleted records (every page) and asks which records exist."""

    def __init__(
        self,
        client: ZohoClient,
        api: ApiPaths,
        logger: logging.Logger,
    ) -> None:
        """``api`` names each module's records path (``/crm/v8/Leads``) and read scope."""
        self.client = client
        self.api = api
        self.logger = logger

    def read(self, module: str, start: datetime | None) -> Iterator[dict[str, Any]]:
        """The deletions of ``module`` since ``start``; one that cannot be listed is a warning."""
        try:
            yield from self.since(module, start)
        except ZohoAPIError as exc:
            if exc.code not in SKIPPABLE_CODES:
                raise
            self.warn_unlisted(module, exc)

    def marks(self, module: str, start: datetime | None) -> list[dict[str, Any]]:
        """``{id, _sdc_deleted_at}`` for each deletion of ``module`` since ``start``."""
        return [
            {"id": entry["id"], DELETED_AT: entry["deleted_time"]}
            for entry in self.read(module, start)
        ]

    def since(self, module: str, start: datetime | None) -> Iterator[dict[str, Any]]:
        """The deletions of ``module`` since ``start`` (less a second: the boundary again)."""
        headers = {}
        if start is not None:
            headers["If-Modified-Since"] = zoho_datetime(start - timedelta(seconds=1))
        return self._listing(module, "all", headers)

    def warn_unlisted(self, module: str, exc: ZohoAPIError) -> None:
        """One warning for a module whose deletions cannot be read; the run goes on.

        A refusal of SKIPPABLE_CODES (a scope, a module without the list) names the scope to
        add; anything else says the deletions are read again from the same bookmark next run.
        """
        if exc.code in SKIPPABLE_CODES:
            self.logger.warning(
                "%s: the deleted records cannot be read (%s: %s); they are skipped. If it is a "
                "scope, add %s to the refresh token.",
                module,
                exc.code,
                exc.message[:120],
                self.api.module_scope(module),
            )
            return
        self.logger.warning(
            "%s: the deleted records cannot be read (%s); this module's deletions are "
            "skipped this run and read again from the same bookmark next run",
            module,
            str(exc)[:200],
        )

    def recycle_bin(self, module: str) -> set[str]:
        """The ids of every record now in the module's recycle bin (the whole list)."""
        return {record["id"] for record in self._listing(module, "recycle", {})}

    def existing(self, module: str, ids: Iterable[str], key_field: str) -> dict[str, str | None]:
        """Those of ``ids`` that are live records of ``module``, with their ``key_field`` (UTC).

        ``GET /{module}?ids=...&fields=key_field``, 100 ids a call; ids of deleted or purged
        records are not in the answer.
        """
        wanted, found = sorted(ids), {}
        what = f"the records of {module} asked by id"
        for first in range(0, len(wanted), IDS_PER_LOOKUP):
            asked = wanted[first : first + IDS_PER_LOOKUP]
            params = {"ids": ",".join(asked), "fields": key_field, **EVERY_RECORD_SET}
            asked_ids = set(asked)
            answer = self.client.get_json(
                self.api.records(module), params, max_bytes=MAX_PAGE_BYTES
            )
            entries = answer.get("data", [])
            if not isinstance(entries, list) or len(entries) > len(asked):
                raise unexpected(f"{what} are", entries)
            for entry in entries:
                if not isinstance(entry, dict):
                    raise unexpected(f"{what} hold an entry that is not an object", entry)
                record_id = zoho_id(entry.get("id"), f"a record id of {module}")
                if record_id not in asked_ids:
                    raise unexpected(f"{what} hold one not asked for", record_id)
                value = entry.get(key_field)
                try:
                    found[record_id] = None if value is None else utc_datetime(str(value))
                except ValueError:
                    raise unexpected(f"{what} have a {key_field} that is", value) from None
        return found

    def _listing(self, module: str, kind: str, headers: dict[str, str]) -> Iterator[dict[str, Any]]:
        pages = PageGuard()
        what = f"the deleted records of {module}"
        for page in range(1, MAX_DELETED_PAGES + 1):
            params = {"type": kind, "page": str(page), "per_page": str(DELETED_PER_PAGE)}
            answer = self.client.get_json(
                f"{self.api.records(module)}/deleted", params, headers, max_bytes=MAX_PAGE_BYTES
            )
            entries = answer.get("data", [])
            if not isinstance(entries, list):
                raise unexpected(f"{what} are", entries)
            pages.check(entries, DELETED_PER_PAGE, what)
            yield from (deleted_record(module, entry) for entry in entries)
            info = answer.get("info")
            if not isinstance(info, dict) or info.get("more_records") is not True:
                return
        raise unexpected(f"the deletions of {module} go on past {MAX_DELETED_PAGES} pages", module)


@dataclass(frozen=True)
class BinChange:
    """A module's recycle bin now, and the records that left it alive since the last run.

    ``restored`` maps each restored record's id to its replication key value (UTC), so the
    module's export can ask for it again. ``checked`` is False when the bin could not be read.
    """

    binned: frozenset[str] = frozenset()
    restored: dict[str, str | None] = field(default_factory=dict)
    checked: bool = False
    compared: bool = False  # the bin of the last run was known: ``restored`` is complete


class RecycleBinMemory(Protocol):
    """What the last run kept of each module's recycle bin, and what its export filters on."""

    def previous_bin(self, module: str) -> set[str] | None:
        """The ids the bin held at the last run (None before the first run that kept them)."""

    def restore_key(self, module: str) -> str:
        """The field whose value the module's export filters on."""


class RestoreFinder:
    """Finds, once per run and module, the records restored from the recycle bin since the last.

    ``memory`` says what the bin held at the last run and which field the export filters on.
    """

    def __init__(
        self, reader: DeletionReader, memory: RecycleBinMemory, logger: logging.Logger
    ) -> None:
        self.reader = reader
        self.memory = memory
        self.logger = logger
        self._changes: OncePerKey[BinChange] = OncePerKey()

    def change(self, module: str) -> BinChange:
        """What the module's recycle bin did since the last run (read once a run)."""
        return self._changes.get(module, partial(self._find, module))

    def _find(self, module: str) -> BinChange:
        previous = self.memory.previous_bin(module)
        try:
            binned = self.reader.recycle_bin(module)
            left = previous - binned if previous is not None else set()
            restored = (
                self.reader.existing(module, left, self.memory.restore_key(module)) if left else {}
            )
        except ZohoAPIError as exc:
            self.reader.warn_unlisted(module, exc)
            return BinChange()
        if restored:
            self.logger.info(
                "%s: %s restored from the recycle bin since the last run",
                module,
                plural(len(restored), "record"),
            )
        return BinChange(frozenset(binned), restored, checked=True, compared=previous is not None)
