"""The tap's settings, in one home: each is typed, described and given its default once, here.

The settings schema (what ``--about`` shows, what Meltano and the checks read) is drawn from
:class:`TapConfig` and :class:`ModuleSettings`, and the tap reads its settings through them;
the checks JSON schema cannot express are in ``config_checks``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from singer_sdk import typing as th

from tap_zoho_bulkread.zoho.data_centers import ACCOUNTS_SERVERS, ENVIRONMENT_HOSTS

REPLICATION_KEYS = ("Created_Time", "Modified_Time")
DOT_FIELD = re.compile(r"[A-Za-z]\w*\.[A-Za-z]\w*")
# A lookup dot field ``Owner.last_name`` is the property ``Owner__last_name``: Meltano reads a
# dot in ``meltano select`` as nesting, so the property name must not hold one.


def setting(
    kind: th.JSONTypeHelper[Any] | type[th.JSONTypeHelper[Any]],
    description: str,
    default: Any = None,
    *,
    read: Callable[[Any], Any] | None = None,
    required: bool = False,
    secret: bool = False,
    allowed: list[str] | None = None,
    factory: Callable[[], Any] | None = None,
) -> Any:
    """A setting: its JSON schema type, what it means, its default, how a value is read."""
    metadata = {
        "kind": kind, "description": description, "read": read, "required": required,
        "secret": secret, "allowed": allowed,
    }  # fmt: skip
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def properties_of(definition: type[Any]) -> list[th.Property[Any]]:
    """The schema properties of a settings dataclass: a default only where it has a value."""
    found = []
    for item in fields(definition):
        meta = item.metadata
        has_default = item.default is not MISSING and item.default is not None
        found.append(
            th.Property(
                item.name,
                meta["kind"],
                required=meta["required"],
                secret=meta["secret"],
                default=item.default if has_default and not meta["required"] else None,
                allowed_values=meta["allowed"],
                description=meta["description"],
            )
        )
    return found


def read_settings(definition: type[Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """The values of ``config`` for ``definition``'s fields; a missing or null one is left out."""
    values: dict[str, Any] = {}
    for item in fields(definition):
        value = config.get(item.name)
        if value is not None:
            read = item.metadata["read"]
            values[item.name] = read(value) if read is not None else value
    return values


def _names(value: Any) -> tuple[str, ...]:
    return tuple(str(name) for name in value)


@dataclass(frozen=True)
class ModuleSettings:
    """One module's entry of the ``module_settings`` setting."""

    cvid: str | None = setting(th.StringType, "Custom view id whose records to export.", read=str)
    criteria: Any = setting(
        th.ObjectType(), "Zoho criteria JSON (either version's shape), ANDed with the bookmark."
    )
    replication_key: str | None = setting(
        th.StringType,
        "Overrides the tap-wide replication_key for this module.",
        allowed=list(REPLICATION_KEYS),
    )
    lookup_fields: list[str] = setting(
        th.ArrayType(th.StringType),
        "Dot fields such as Owner.last_name, added to the stream as strings named "
        "Owner__last_name.",
        read=list,
        factory=list,
    )

    @classmethod
    def from_config(cls, value: Mapping[str, Any] | None) -> ModuleSettings:
        """Read one module's entry of ``module_settings`` (already checked)."""
        values = read_settings(cls, value or {})
        if not values.get("cvid"):
            values.pop("cvid", None)  # an empty custom view id is none
        return cls(**values)


MODULE_SETTING_KEYS = tuple(item.name for item in fields(ModuleSettings))
MODULE_SETTINGS_SCHEMA = th.ObjectType(*properties_of(ModuleSettings), additional_properties=False)


@dataclass(frozen=True)
class TapConfig:
    """Every setting of the tap: its type, description and default."""

    client_id: str = setting(
        th.StringType, "OAuth client id of a Zoho self client or server app.", "",
        required=True, secret=True,
    )  # fmt: skip
    client_secret: str = setting(
        th.StringType, "OAuth client secret.", "", required=True, secret=True
    )
    refresh_token: str = setting(
        th.StringType, "Refresh token with the bulk read and module read scopes.", "",
        required=True, secret=True,
    )  # fmt: skip
    data_center: str = setting(
        th.StringType, "Where the Zoho org lives: us, eu, in, au, jp, cn, ca, sa.", "us",
        allowed=list(ACCOUNTS_SERVERS),
    )  # fmt: skip
    environment: str = setting(
        th.StringType, "production, sandbox or developer org.", "production",
        allowed=list(ENVIRONMENT_HOSTS),
    )  # fmt: skip
    accounts_url: str | None = setting(
        th.StringType, "Accounts server override (e.g. an emulator's URL)."
    )
    api_domain: str | None = setting(
        th.StringType, "API domain override; else the one Zoho returns with the token."
    )
    product: str = setting(th.StringType, "crm or bigin.", "crm", allowed=["crm", "bigin"])
    api_version: str | None = setting(
        th.StringType,
        "Bulk read API version: v2..v8 for CRM (default v8), v1..v2 for Bigin (default v2).",
    )
    start_date: str | None = setting(
        th.DateTimeType, "Export records whose replication key is at or after this."
    )
    modules: tuple[str, ...] | None = setting(
        th.ArrayType(th.StringType),
        "Modules to expose as streams; default: every module bulk read can export.",
        read=_names,
    )
    replication_key: str = setting(
        th.StringType,
        "Created_Time appends new records; Modified_Time also captures updates.",
        "Created_Time",
        allowed=list(REPLICATION_KEYS),
    )
    module_settings: Mapping[str, Any] = setting(
        th.ObjectType(additional_properties=MODULE_SETTINGS_SCHEMA),
        "Per module: cvid, criteria, replication_key, lookup_fields (no other key).",
        factory=dict,
    )
    max_concurrent_jobs: int = setting(
        th.IntegerType, "Bulk read jobs in flight at once.", 3, read=int
    )
    poll_interval_seconds: float = setting(
        th.NumberType, "First wait between job status checks; waits then grow.", 5, read=float
    )
    max_concurrent_queries: int | None = setting(
        th.IntegerType,
        "Modules whose change check and Query API read run at once, ahead of their turn (0: "
        "each at its turn). Unset, the tap reads the org's edition (GET /crm/v8/org, scope "
        "ZohoCRM.org.READ): 4 on the Free edition (Zoho answers 5 API calls at once there; the "
        "module being written makes one more), 9 on Standard and above; 4 when the edition "
        "cannot be read, and on Bigin. Several jobs on one org: give each its share.",
        None,
        read=int,
    )
    job_timeout_seconds: float = setting(
        th.NumberType, "Give up on a job still unfinished after this long.", 3600, read=float
    )
    max_tries: int = setting(
        th.IntegerType,
        "Tries per request before giving up on 429s, 5xx answers and dropped connections (a "
        "host name that does not resolve or a refused connection: 3 at most).",
        6,
        read=int,
    )
    retry_wait_seconds: float = setting(
        th.NumberType,
        "First wait between tries (doubling, up to 60s) when Zoho sends no Retry-After.",
        1,
        read=float,
    )
    max_downloads_per_minute: int = setting(
        th.IntegerType,
        "Zoho allows 10 result downloads a minute per org; lower it when other tools share "
        "the org.",
        10,
        read=int,
    )
    deletions_in_module_streams: bool = setting(
        th.BooleanType,
        "Also emit {id, _sdc_deleted_at} in each module's stream for records Zoho lists as "
        "deleted (for targets that delete on _sdc_deleted_at, such as target-duckdb with "
        "hard_delete).",
        False,
        read=bool,
    )
    bulk_only: bool = setting(
        th.BooleanType,
        "Create a bulk read job for every selected module on every run. Off, an incremental "
        "module first asks the records API (one call) whether anything changed since its "
        "bookmark, and makes no job if not; a small change is read through the Query API "
        "(COQL).",
        False,
        read=bool,
    )
    query_api_max_records: int = setting(
        th.IntegerType,
        "The most changed records (0 to 2000) an incremental run reads through the Query API "
        "(COQL) instead of a bulk read job; 0 never uses it.",
        2000,
        read=int,
    )
    events_ics: bool = setting(
        th.BooleanType,
        "Add the stream Events_ICS: Events exported as iCalendar, one record per VEVENT with "
        "recurrence rules and edited occurrences.",
        False,
        read=bool,
    )
    batch_compression_level: int = setting(
        th.IntegerType,
        "gzip level (0-9) of the BATCH files written when batch_config is set; 1 is much "
        "faster than 9, for larger files.",
        1,
        read=int,
    )
    token_cache: bool = setting(
        th.BooleanType,
        "Keep the access token (valid an hour) in a private file in the user's cache folder, "
        "so discovery and syncs share one refresh.",
        True,
        read=bool,
    )
    log_metrics: bool = setting(
        th.BooleanType,
        "Log singer-sdk's METRIC lines (record counts, timings as JSON); off, the run ends "
        "with a readable summary instead.",
        False,
        read=bool,
    )

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> TapConfig:
        """The settings of ``config`` (already checked), a missing or null one by its default."""
        return cls(**read_settings(cls, config))

    def module(self, name: str) -> ModuleSettings:
        """The ``module_settings`` entry of a module (the defaults when it has none)."""
        return ModuleSettings.from_config(self.module_settings.get(name))


DEFAULTS = TapConfig()
CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(*properties_of(TapConfig)).to_dict()
