"""The Users stream, read through Zoho's REST API beside bulk read, and the REST list checks.

Bulk read cannot export users, yet every Owner, Created_By and Modified_By id points at one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_zoho_bulkread.errors import Action, ZohoAPIError, rule_of
from tap_zoho_bulkread.streams.base import TABLE_VERSION, ZohoStream, with_table_version
from tap_zoho_bulkread.summary import RunSummary, plural
from tap_zoho_bulkread.times import utc_datetime
from tap_zoho_bulkread.zoho.answers import named_id, text_value, unexpected, zoho_id
from tap_zoho_bulkread.zoho.client import ZohoClient
from tap_zoho_bulkread.zoho.pages import MAX_PAGE_BYTES, PageGuard

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
    role_id, role_name = named_id(entry.get("role"), "a user's role id")
    profile_id, profile_name = named_id(entry.get("profile"), "a user's profile id")
    try:
        created, modified = _utc(entry.get("created_time")), _utc(entry.get("Modified_Time"))
    except ValueError:
        raise unexpected("a user's created or modified time is not a datetime", entry) from None
    return {
        "id": zoho_id(entry.get("id"), "a user id"),
        "full_name": text_value(entry.get("full_name"), "a user's full_name"),
        "first_name": text_value(entry.get("first_name"), "a user's first_name"),
        "last_name": text_value(entry.get("last_name"), "a user's last_name"),
        "email": text_value(entry.get("email"), "a user's email"),
        "status": text_value(entry.get("status"), "a user's status"),
        "role_id": role_id,
        "role_name": role_name,
        "profile_id": profile_id,
        "profile_name": profile_name,
        "time_zone": text_value(entry.get("time_zone"), "a user's time_zone"),
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

    def __init__(
        self,
        tap: Tap,
        *,
        client: ZohoClient,
        users_path: str,
        scope: str,
        summary: RunSummary | None = None,
    ) -> None:
        super().__init__(tap=tap, name=self.name, schema=with_table_version(USERS_SCHEMA))
        self.client = client
        self.users_path = users_path
        self.scope = scope
        self.summary = summary

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Every page of ``GET {users_path}?type=AllUsers``; a missing scope skips the stream.

        Records carry this run's table version; ACTIVATE_VERSION follows only once every page
        is read, so an interrupted or refused read never tells the target to drop users.
        """
        del context
        version = self.new_table_version()
        pages, read = PageGuard(), 0
        for page in range(1, MAX_USER_PAGES + 1):
            params = {"type": "AllUsers", "page": str(page), "per_page": str(USERS_PER_PAGE)}
            try:
                answer = self.client.get_json(self.users_path, params, max_bytes=MAX_PAGE_BYTES)
            except ZohoAPIError as exc:
                if rule_of(exc.code).on_list is Action.SKIP_LIST:
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
            for entry in users:
                read += 1
                yield {**user_record(entry), TABLE_VERSION: version}
            info = answer.get("info")
            more = info.get("more_records") if isinstance(info, dict) else False
            if more is not True:
                self.logger.info("Users: %s read", plural(page, "page"))
                self.activate_version()
                if self.summary is not None:
                    self.summary.table_read(self.name, version, read)
                return
        raise unexpected(f"the users list goes on past {MAX_USER_PAGES} pages", MAX_USER_PAGES)
