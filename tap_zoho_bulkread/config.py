"""The tap's settings, typed once, with every default written in one place: here.

The settings schema (`tap.py`) takes its defaults from :data:`DEFAULTS`, and the tap reads its
settings through :class:`TapConfig`, so no default is restated where a setting is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class TapConfig:
    """Every setting of the tap, with its default; see the settings schema for each one."""

    client_id: str = ""
    client_secret: str = ""
    refresh_token: str = ""
    data_center: str = "us"
    environment: str = "production"
    accounts_url: str | None = None
    api_domain: str | None = None
    product: str = "crm"
    api_version: str | None = None  # None: the product's default version
    start_date: str | None = None
    modules: tuple[str, ...] | None = None  # None: every module bulk read can export
    replication_key: str = "Created_Time"
    module_settings: Mapping[str, Any] = field(default_factory=dict)
    max_concurrent_jobs: int = 3
    poll_interval_seconds: float = 5
    job_timeout_seconds: float = 3600
    max_tries: int = 6
    retry_wait_seconds: float = 1
    max_downloads_per_minute: int = 10
    deletions_in_module_streams: bool = False
    bulk_only: bool = False
    query_api_max_records: int = 2000
    events_ics: bool = False
    batch_compression_level: int = 1
    token_cache: bool = True
    log_metrics: bool = False

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> TapConfig:
        """The settings of ``config`` (already checked), a missing or null one by its default."""
        values: dict[str, Any] = {}
        for item in fields(cls):
            value = config.get(item.name)
            if value is None:
                continue
            kind = str(item.type).split(" | ")[0]  # the annotation's text
            if kind in _CONVERSIONS:
                value = _CONVERSIONS[kind](value)
            elif item.name == "modules":
                value = tuple(str(name) for name in value)
            values[item.name] = value
        return cls(**values)


_CONVERSIONS: dict[str, Any] = {"bool": bool, "int": int, "float": float, "str": str}
DEFAULTS = TapConfig()
