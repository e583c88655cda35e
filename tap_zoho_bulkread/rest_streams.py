"""Streams read through Zoho's REST API beside bulk read: the org's users.

Bulk read cannot export users, yet every Owner, Created_By and Modified_By id points at one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_zoho_bulkread.answers import unexpected, zoho_id
from tap_zoho_bulkread.client import ZohoClient
from tap_zoho_bulkread.decode import utc_datetime
from tap_zoho_bulkread.errors import ZohoAPIError
from tap_zoho_bulkread.stream_base import ZohoStream

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


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _named(value: Any, what: str) -> tuple[str | None, str | None]:
    if not isinstance(value, dict):
        return None, None
    identifier = value.get("id")
    return (zoho_id(identifier, what) if identifier else None), _text(value.get("name"))


def _utc(value: Any) -> str | None:
    return utc_datetime(value) if isinstance(value, str) and value else None


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
        "full_name": _text(entry.get("full_name")),
        "first_name": _text(entry.get("first_name")),
        "last_name": _text(entry.get("last_name")),
        "email": _text(entry.get("email")),
        "status": _text(entry.get("status")),
        "role_id": role_id,
        "role_name": role_name,
        "profile_id": profile_id,
        "profile_name": profile_name,
        "time_zone": _text(entry.get("time_zone")),
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
        for page in range(1, MAX_USER_PAGES + 1):
            params = {"type": "AllUsers", "page": str(page), "per_page": str(USERS_PER_PAGE)}
            try:
                answer = self.client.get_json(self.users_path, params)
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
            yield from (user_record(entry) for entry in users)
            info = answer.get("info")
            more = info.get("more_records") if isinstance(info, dict) else False
            if more is not True:
                self.logger.info("Users: %d pages read", page)
                self._write_activate_version_message(self._stream_version)
                return
        raise unexpected(f"the users list goes on past {MAX_USER_PAGES} pages", MAX_USER_PAGES)
