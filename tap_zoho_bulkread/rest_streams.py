"""Streams read through Zoho's REST API beside bulk read: users and deleted records.

Bulk read cannot export users (yet every Owner, Created_By and Modified_By id points at one)
nor records deleted since the last run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_zoho_bulkread.answers import unexpected, zoho_id
from tap_zoho_bulkread.client import ZohoClient
from tap_zoho_bulkread.decode import utc_datetime
from tap_zoho_bulkread.errors import ZohoAPIError
from tap_zoho_bulkread.query import zoho_datetime
from tap_zoho_bulkread.settings import PROGRESS_MARKERS
from tap_zoho_bulkread.stream_base import ZohoStream
from tap_zoho_bulkread.summary import plural

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

USERS_PER_PAGE = 200
MAX_USER_PAGES = 1000  # 200,000 users: far beyond any org, a bound against a looping server

USERS_SCHEMA = th.PropertiesList(
    th.Property("id", th.StringType, required=True, description="Zoho user id"),
    th.Property("full_name", th.StringType),
    th.Property("first_name", th.StringType),
    th.Property("last_name", th.StringType),
    th.Property("email", th.StringType),
    th.Property("status", th.StringType, description="active, disabled, deleted, ..."),
    th.Property("role_id", th.StringType),
    th.Property("role_name", th.StringType),
    th.Property("profile_id", th.StringType),
    th.Property("profile_name", th.StringType),
    th.Property("time_zone", th.StringType),
    th.Property("created_time", th.DateTimeType, description="UTC"),
    th.Property("modified_time", th.DateTimeType, description="UTC"),
).to_dict()


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


def _text(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise unexpected(f"{what} is not text", value)


def _named(value: Any, what: str) -> tuple[str | None, str | None]:
    if not isinstance(value, dict):
        return None, None
    identifier = value.get("id")
    return (zoho_id(identifier, what) if identifier else None), _text(value.get("name"), what)


def _utc(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a datetime: {value!r:.40}")
    return utc_datetime(value)


def user_record(entry: Any) -> dict[str, Any]:
    """One entry of ``GET /users`` as a flat record; a malformed entry is an error."""
    if not isinstance(entry, dict):
        raise unexpected("the users list holds an entry that is not an object", entry)
    role_id, role_name = _named(entry.get("role"), "a user's role id")
    profile_id, profile_name = _named(entry.get("profile"), "a user's profile id")
    try:
        created, modified = _utc(entry.get("created_time")), _utc(entry.get("Modified_Time"))
    except ValueError:
        raise unexpected("a user's created or modified time is not a datetime", entry) from None
    return {
        "id": zoho_id(entry.get("id"), "a user id"),
        "full_name": _text(entry.get("full_name"), "a user's full_name"),
        "first_name": _text(entry.get("first_name"), "a user's first_name"),
        "last_name": _text(entry.get("last_name"), "a user's last_name"),
        "email": _text(entry.get("email"), "a user's email"),
        "status": _text(entry.get("status"), "a user's status"),
        "role_id": role_id,
        "role_name": role_name,
        "profile_id": profile_id,
        "profile_name": profile_name,
        "time_zone": _text(entry.get("time_zone"), "a user's time_zone"),
        "created_time": created,
        "modified_time": modified,
    }


class UsersStream(ZohoStream):
    """Every user of the org, read in full each run (FULL_TABLE).

    Users removed from Zoho can be dropped by the target: the stream ends with ACTIVATE_VERSION.
    """

    name = "Users"
    primary_keys = ("id",)
    replication_key = None
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: Tap, *, client: ZohoClient, users_path: str, scope: str) -> None:
        super().__init__(tap=tap, name=self.name, schema=USERS_SCHEMA)
        self.client = client
        self.users_path = users_path
        self.scope = scope

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Every page of ``GET {users_path}?type=AllUsers``; a missing scope skips the stream.

        Records carry this run's table version; ACTIVATE_VERSION follows only once every page
        is read, so an interrupted or refused read never tells the target to drop users.
        """
        del context
        self._stream_version = time.time_ns() // 1_000_000
        pages = PageGuard()
        for page in range(1, MAX_USER_PAGES + 1):
            params = {"type": "AllUsers", "page": str(page), "per_page": str(USERS_PER_PAGE)}
            try:
                answer = self.client.get_json(self.users_path, params, max_bytes=MAX_PAGE_BYTES)
            except ZohoAPIError as exc:
                if exc.code in ("OAUTH_SCOPE_MISMATCH", "NO_PERMISSION"):
                    self.logger.warning(
                        "Users: the refresh token cannot read users (%s); the stream is skipped. "
                        "Add the scope %s to the refresh token, or deselect Users.",
                        exc.code,
                        self.scope,
                    )
                    return
                raise
            users = answer.get("users", [])
            if not isinstance(users, list):
                raise unexpected("the users answer holds users", users)
            pages.check(users, USERS_PER_PAGE, "the users list")
            yield from (user_record(entry) for entry in users)
            info = answer.get("info")
            more = info.get("more_records") if isinstance(info, dict) else False
            if more is not True:
                self.logger.info("Users: %s read", plural(page, "page"))
                self._activate_version(self._stream_version)
                return
        raise unexpected(f"the users list goes on past {MAX_USER_PAGES} pages", MAX_USER_PAGES)


DELETED_PER_PAGE = 200
MAX_DELETED_PAGES = 5000  # a million deletions per module and run; a bound, not a target
DELETED_TYPES = ("recycle", "permanent")
# Refusals that mean "this module has no deletion list for this token": skip it, warn.
SKIPPABLE_CODES = frozenset(
    {"OAUTH_SCOPE_MISMATCH", "NO_PERMISSION", "INVALID_MODULE", "API_NOT_SUPPORTED",
     "NOT_SUPPORTED", "MODULE_NOT_SUPPORTED"}
)  # fmt: skip

DELETED_SCHEMA = th.PropertiesList(
    th.Property("module", th.StringType, required=True, description="Zoho module api_name"),
    th.Property("id", th.StringType, required=True, description="Id of the deleted record"),
    th.Property("display_name", th.StringType),
    th.Property("type", th.StringType, description="recycle (in the recycle bin) or permanent"),
    th.Property("deleted_time", th.DateTimeType, description="UTC"),
    th.Property("deleted_by_id", th.StringType),
    th.Property("deleted_by_name", th.StringType),
    th.Property("created_by_id", th.StringType),
).to_dict()


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
    by_id, by_name = _named(entry.get("deleted_by"), "a deleting user's id")
    created_by, _ = _named(entry.get("created_by"), "a creating user's id")
    return {
        "module": module,
        "id": zoho_id(entry.get("id"), f"a deleted record id of {module}"),
        "display_name": _text(
            entry.get("display_name"), f"a deleted record's display_name of {module}"
        ),
        "type": kind,
        "deleted_time": deleted_time,
        "deleted_by_id": by_id,
        "deleted_by_name": by_name,
        "created_by_id": created_by,
    }


class DeletionReader:
    """Reads ``GET /{module}/deleted`` (every page, ``type=all``) into flat deleted records."""

    def __init__(
        self,
        client: ZohoClient,
        *,
        path_of: Callable[[str], str],
        scope_of: Callable[[str], str],
        logger: logging.Logger,
    ) -> None:
        self.client = client
        self.path_of = path_of
        self.scope_of = scope_of
        self.logger = logger

    def read(self, module: str, start: datetime | None) -> Iterator[dict[str, Any]]:
        """The deletions of ``module`` since ``start`` (less a second: the boundary again).

        A module whose deletions cannot be read (scope, no deletion list) is a warning.
        """
        headers = {}
        if start is not None:
            headers["If-Modified-Since"] = zoho_datetime(start - timedelta(seconds=1))
        pages = PageGuard()
        for page in range(1, MAX_DELETED_PAGES + 1):
            params = {"type": "all", "page": str(page), "per_page": str(DELETED_PER_PAGE)}
            try:
                answer = self.client.get_json(
                    self.path_of(module), params, headers, max_bytes=MAX_PAGE_BYTES
                )
            except ZohoAPIError as exc:
                if exc.code not in SKIPPABLE_CODES:
                    raise
                self.logger.warning(
                    "%s: the deleted records cannot be read (%s: %s); they are skipped. If it "
                    "is a scope, add %s to the refresh token.",
                    module,
                    exc.code,
                    exc.message[:120],
                    self.scope_of(module),
                )
                return
            entries = answer.get("data", [])
            if not isinstance(entries, list):
                raise unexpected(f"the deleted records of {module} are", entries)
            pages.check(entries, DELETED_PER_PAGE, f"the deleted records of {module}")
            yield from (deleted_record(module, entry) for entry in entries)
            info = answer.get("info")
            if not isinstance(info, dict) or info.get("more_records") is not True:
                return
        raise unexpected(f"the deletions of {module} go on past {MAX_DELETED_PAGES} pages", module)


class DeletedRecordsStream(ZohoStream):
    """Records deleted in Zoho, for every selected module stream, through the REST API.

    Bulk read exports only live records; this stream tells the warehouse which ones are gone.
    Incremental on ``deleted_time``, with one bookmark per module (a state partition each):
    records keep being deleted while the lists are read one module at a time, so one bookmark
    for all would skip the deletions of a module read before a later, newer one.
    ``If-Modified-Since`` is the module's bookmark less a second, so the boundary is read again
    (the target upserts on module + id). A module without a bookmark of its own (the first run,
    or a state written with one bookmark for all modules) is read from ``start_date``.
    """

    name = "Deleted_Records"
    primary_keys = ("module", "id")
    replication_key = "deleted_time"
    is_sorted = False
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(
        self, tap: Tap, *, deletions: DeletionReader, modules: Callable[[], list[str]]
    ) -> None:
        super().__init__(tap=tap, name=self.name, schema=DELETED_SCHEMA)
        self.deletions = deletions
        self.modules = modules

    @property
    def partitions(self) -> list[dict[str, Any]]:
        """One partition, and so one bookmark, per selected module."""
        return [{"module": module} for module in self.modules()]

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The deletions of the partition's module since its bookmark, every page.

        A module whose list cannot be read is one WARNING; its bookmark stays where it was (no
        deletion read before the failure moves it), and the other modules are still read.
        """
        module = str((context or {}).get("module"))
        start = self.get_starting_timestamp(context)
        started, read = time.monotonic(), 0
        try:
            for record in self.deletions.read(module, start):
                read += 1
                yield record
            self.logger.info(
                "Deleted_Records: %s of %s read in %.1fs",
                plural(read, "deletion"),
                module,
                time.monotonic() - started,
            )
        except ZohoAPIError as exc:
            self.get_context_state(context).pop(PROGRESS_MARKERS, None)
            self.logger.warning(
                "%s: the deleted records cannot be read (%s); this module's deletions are "
                "skipped this run and read again from the same bookmark next run",
                module,
                str(exc)[:200],
            )
