"""Settings the JSON schema cannot check, data centers, and the state file a user passes in.

Every refusal here is one ``ConfigurationError`` line that names the setting and the fix,
raised before any API call.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError
from singer_sdk.helpers.capabilities import BATCH_CONFIG, FLATTENING_CONFIG, STREAM_MAPS_CONFIG

from tap_zoho_bulkread.bulk.query import normalize_criteria
from tap_zoho_bulkread.config import DEFAULTS
from tap_zoho_bulkread.coql.query import MAX_LIMIT as MAX_QUERY_API_RECORDS
from tap_zoho_bulkread.errors import ConfigurationError
from tap_zoho_bulkread.streams.base import BatchConfig
from tap_zoho_bulkread.times import parse_datetime
from tap_zoho_bulkread.zoho.recycle_bin import RECYCLE_BIN_KEY, RECYCLE_SEEN_KEY, decode_ids

ACCOUNTS_SERVERS = {
    "us": "https://accounts.zoho.com",
    "eu": "https://accounts.zoho.eu",
    "in": "https://accounts.zoho.in",
    "au": "https://accounts.zoho.com.au",
    "jp": "https://accounts.zoho.jp",
    "cn": "https://accounts.zoho.com.cn",
    "ca": "https://accounts.zohocloud.ca",
    "sa": "https://accounts.zoho.sa",
}
API_DOMAIN_SUFFIXES = {
    "us": "com",
    "eu": "eu",
    "in": "in",
    "au": "com.au",
    "jp": "jp",
    "cn": "com.cn",
    "ca": "ca",
    "sa": "sa",
}
ENVIRONMENT_HOSTS = {"production": "www", "sandbox": "sandbox", "developer": "developer"}
VERSIONS = {"crm": [f"v{n}" for n in range(2, 9)], "bigin": ["v1", "v2"]}
DEFAULT_VERSIONS = {"crm": "v8", "bigin": "v2"}
SCOPE_PREFIXES = {"crm": "ZohoCRM", "bigin": "ZohoBigin"}  # as in ZohoCRM.users.READ
REPLICATION_KEYS = ("Created_Time", "Modified_Time")
MODULE_SETTING_KEYS = ("cvid", "criteria", "replication_key", "lookup_fields")
DOT_FIELD = re.compile(r"[A-Za-z]\w*\.[A-Za-z]\w*")
# A lookup dot field ``Owner.last_name`` is the property ``Owner__last_name``: Meltano reads a
# dot in ``meltano select`` as nesting, so the property name must not hold one.
FIX = "Fix it with `meltano config set tap-zoho-bulkread ...` or in the tap's config file."


def trusted_api_domains(config: dict[str, Any]) -> set[str]:
    """The API domains a token answer may name: the data center's, or the accounts override's.

    The access token goes wherever the token answer's ``api_domain`` says; anything else (plain
    http, another domain) is refused.
    """
    suffix = API_DOMAIN_SUFFIXES.get(str(config.get("data_center") or DEFAULTS.data_center), "com")
    trusted = {f"https://{host}.zohoapis.{suffix}" for host in ENVIRONMENT_HOSTS.values()}
    if config.get("accounts_url"):
        parts = urlsplit(str(config["accounts_url"]))
        trusted.add(f"{parts.scheme}://{parts.netloc}")
    return trusted


@dataclass(frozen=True)
class ModuleSettings:
    """The per-module part of the ``module_settings`` setting."""

    cvid: str | None = None
    criteria: Any = None
    replication_key: str | None = None
    lookup_fields: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, value: dict[str, Any] | None) -> ModuleSettings:
        """Read one module's entry of ``module_settings``."""
        value = value or {}
        return cls(
            cvid=str(value["cvid"]) if value.get("cvid") else None,
            criteria=value.get("criteria"),
            replication_key=value.get("replication_key"),
            lookup_fields=list(value.get("lookup_fields") or []),
        )


def _schema_problem(error: ValidationError) -> str:
    where = ".".join(str(part) for part in error.absolute_path) or "config"
    if error.validator == "required":
        missing = re.findall(r"'(\w+)' is a required property", error.message)
        name = missing[0] if missing else error.message
        return (
            f"the setting {name} is missing (set it, or TAP_ZOHO_BULKREAD_{name.upper()} in "
            "the environment)"
        )
    if error.validator == "additionalProperties":
        return f"{where}: {error.message}; allowed keys: {', '.join(MODULE_SETTING_KEYS)}"
    if error.validator == "type" and isinstance(error.instance, str) and len(error.path) == 1:
        kind = "array" if "array" in str(error.validator_value) else "object"
        return (
            f"{where} arrived as the text {error.instance[:60]!r}, not as JSON: Meltano passes "
            f"text for a setting it does not know as kind {kind}; declare it with "
            f"`kind: {kind}` (the plugin definition plugin/tap-zoho-bulkread.yml declares "
            "every setting), or write it as JSON, not as a string, in the config file"
        )
    return f"{where}: {error.message}"


# Settings singer-sdk itself reads for every tap with these capabilities, with their schemas.
SDK_PROPERTIES: dict[str, Any] = {
    name: schema
    for capability in (STREAM_MAPS_CONFIG, FLATTENING_CONFIG, BATCH_CONFIG)
    for name, schema in capability["properties"].items()
}
SDK_SETTINGS = frozenset(SDK_PROPERTIES)


def check_known_settings(config: dict[str, Any], schema: dict[str, Any]) -> None:
    """Refuse a setting the tap does not have (a typo would silently be the default)."""
    known = set(schema.get("properties", {})) | SDK_SETTINGS
    unknown = sorted(name for name in config if name not in known)
    if not unknown:
        return
    name = unknown[0]
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else "it is none of the tap's settings"
    more = f" (and {len(unknown) - 1} more unknown)" if len(unknown) > 1 else ""
    raise ConfigurationError(
        f"Unknown setting {name[:60]!r}{more}: {hint} Fix or remove it; `tap-zoho-bulkread "
        "--about` lists the settings."
    )


def future_start_date(config: dict[str, Any]) -> str | None:
    """The warning for a ``start_date`` after now (nothing would be exported), if any."""
    text = config.get("start_date")
    if not text or parse_datetime(str(text)) <= datetime.now(timezone.utc):
        return None
    return (
        f"start_date {text} is in the future: no record created before it is exported, so this "
        "run may export nothing. Set a start_date in the past to export existing records."
    )


def validate_against_schema(config: dict[str, Any], schema: dict[str, Any]) -> None:
    """Check the config against the tap's settings schema, in every mode (discovery too)."""
    check_known_settings(config, schema)
    # singer-sdk's own settings too: a stream_maps that is text would end the sync in a traceback
    full = {**schema, "properties": {**SDK_PROPERTIES, **schema.get("properties", {})}}
    errors = sorted(Draft7Validator(full).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        problems = "; ".join(_schema_problem(error) for error in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        fix = "" if "not as JSON" in problems else f" {FIX}"
        raise ConfigurationError(f"Invalid settings: {problems}{more}.{fix}")


def check_settings(config: dict[str, Any]) -> None:
    """Check what JSON schema cannot express, before any API call."""
    product = str(config.get("product") or DEFAULTS.product)
    version = str(config.get("api_version") or DEFAULT_VERSIONS[product])
    if version not in VERSIONS[product]:
        raise ConfigurationError(
            f"api_version {version!r} is not a {product} bulk read version; use one of "
            f"{', '.join(VERSIONS[product])}."
        )
    if config.get("start_date"):
        try:
            parse_datetime(str(config["start_date"]))
        except ValueError:
            raise ConfigurationError(
                f"start_date {config['start_date']!r} is not a date or datetime; write it as "
                "2024-01-31 or 2024-01-31T08:00:00Z."
            ) from None
    if "modules" in config and config["modules"] is not None and not config["modules"]:
        raise ConfigurationError(
            "modules is an empty list; name the modules to export, or remove the setting to "
            "export every module."
        )
    level = config.get("batch_compression_level")
    if level is not None and not 0 <= int(level) <= 9:
        raise ConfigurationError(f"batch_compression_level is {level}; use 0 (none) to 9.")
    if config.get("batch_config"):
        check_batch_config(BatchConfig.from_dict(config["batch_config"]))
    for name in ("max_concurrent_jobs", "max_tries", "max_downloads_per_minute"):
        if name in config and config[name] is not None and int(config[name]) < 1:
            raise ConfigurationError(f"{name} is {config[name]}; it must be 1 or more.")
    small = config.get("query_api_max_records")
    if small is not None and not 0 <= int(small) <= MAX_QUERY_API_RECORDS:
        raise ConfigurationError(
            f"query_api_max_records is {small}; use 0 (never) to {MAX_QUERY_API_RECORDS} "
            "(the records one Query API call returns)."
        )
    for name in ("poll_interval_seconds", "job_timeout_seconds", "retry_wait_seconds"):
        if name in config and config[name] is not None and float(config[name]) <= 0:
            raise ConfigurationError(f"{name} is {config[name]}; it must be above 0.")
    for module, value in (config.get("module_settings") or {}).items():
        settings = ModuleSettings.from_config(value)
        if settings.criteria:
            normalize_criteria(settings.criteria, f"module_settings.{module}.criteria")
        for dotted in settings.lookup_fields:
            if not DOT_FIELD.fullmatch(dotted):
                raise ConfigurationError(
                    f"module_settings.{module}.lookup_fields: {dotted!r} is not a dot field "
                    "such as Owner.last_name"
                )


def check_config_file(path: Path) -> None:
    """Refuse a ``--config`` file that is missing or not a JSON object, in one line."""
    where = f"The config file {str(path)[:200]}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(
            f"{where} does not exist; pass the path of a JSON file of settings, or --config ENV "
            "to read TAP_ZOHO_BULKREAD_* variables."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"{where} cannot be read ({type(exc).__name__}); check its path and permissions."
        ) from None
    try:
        config = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        detail = f"{exc.msg} at line {exc.lineno}" if isinstance(exc, ValueError) else "too deep"
        raise ConfigurationError(
            f"{where} is not JSON ({detail}); write settings as a JSON object such as "
            '{"client_id": "...", "client_secret": "...", "refresh_token": "..."}.'
        ) from None
    if not isinstance(config, dict):
        raise ConfigurationError(
            f"{where} holds a JSON {type(config).__name__}, not a JSON object of settings."
        )


def read_state(text: str, source: str) -> dict[str, Any]:
    """Parse and check a state file: the tap's own state, or Meltano's ``singer_state`` wrapper.

    A state the tap cannot use would otherwise mean a full export or a crash mid-run; it is
    refused instead, naming what is wrong.
    """
    where, fix = state_wording(source)
    if not text.strip():
        raise ConfigurationError(f"{where} is empty; {fix}.")
    try:
        state = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{where} is not JSON ({exc.msg} at line {exc.lineno}); {fix}."
        ) from None
    if isinstance(state, dict) and set(state) == {"singer_state"}:
        state = state["singer_state"]  # what `meltano state get` prints
    if not isinstance(state, dict):
        raise ConfigurationError(f"{where} must hold a JSON object, not {type(state).__name__}.")
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        raise ConfigurationError(f"{where}: 'bookmarks' must be an object of streams.")
    for stream, bookmark in bookmarks.items():
        if not isinstance(bookmark, dict):
            raise ConfigurationError(
                f"{where}: the bookmark of {stream} must be an object such as "
                '{"replication_key": "Created_Time", "replication_key_value": '
                '"2024-01-31T08:00:00+00:00"}, not ' + f"{json.dumps(bookmark)[:60]}."
            )
        for holder in (bookmark, bookmark.get("progress_markers")):
            value = holder.get("replication_key_value") if isinstance(holder, dict) else None
            if value is None:
                continue
            try:
                parse_datetime(str(value))
            except ValueError:
                raise ConfigurationError(
                    f"{where}: the bookmark of {stream} is {str(value)[:60]!r}, not a "
                    "datetime; fix or remove it (removing it exports the stream in full)."
                ) from None
        _check_recycle_bins(where, stream, bookmark)
    return state


def under_meltano() -> bool:
    """Whether Meltano runs the tap (it names the extractor in the plugin's environment)."""
    return bool(os.environ.get("MELTANO_EXTRACTOR_NAME"))


def state_wording(source: str) -> tuple[str, str]:
    """What a message calls the state, and how to replace it: Meltano's commands under Meltano.

    Meltano writes its state to a new file each run, so naming that file helps no one.
    """
    if under_meltano():
        return (
            "The state Meltano keeps for this pipeline (`meltano state list` names its id; "
            "`meltano state get <state id>` shows it)",
            "set one the tap wrote with `meltano state set <state id> '<state>'`, or drop it "
            "with `meltano state clear <state id>` for a full export",
        )
    return (
        f"The state file {source}",
        "pass a state the tap wrote, or no --state for a full export",
    )


def _check_recycle_bins(where: str, stream: str, bookmark: dict[str, Any]) -> None:
    """Refuse recycle bin ids (a stream's, or a partition's) that the tap did not write."""
    partitions = bookmark.get("partitions")
    holders = [("", bookmark)] + [
        (f" {str(p.get('context', {}).get('module'))[:60]} partition", p)
        for p in (partitions if isinstance(partitions, list) else [])
        if isinstance(p, dict) and isinstance(p.get("context", {}), dict)
    ]
    for part, holder in holders:
        for key in (RECYCLE_BIN_KEY, RECYCLE_SEEN_KEY):
            if key not in holder:
                continue
            try:
                decode_ids(holder[key])
            except ValueError:
                raise ConfigurationError(
                    f"{where}: the {stream}{part} state holds a damaged {key}; remove that key "
                    "(the next run then reads the recycle bin afresh and finds restores from "
                    "there on)."
                ) from None


def check_batch_config(batch_config: BatchConfig) -> None:
    """Refuse the encodings this tap does not write, naming the one it does."""
    encoding = batch_config.encoding
    if encoding.format != "jsonl" or encoding.compression not in ("gzip", "none", None):
        raise ConfigurationError(
            f"batch_config.encoding {encoding.format}/{encoding.compression} is not supported; "
            'use {"format": "jsonl", "compression": "gzip"} (parquet would turn exact Zoho '
            "decimals into floats)."
        )
    if batch_config.batch_size < 1:
        raise ConfigurationError("batch_config.batch_size must be 1 or more.")
    check_local_storage(batch_config.storage.root)


def check_local_storage(root: str) -> None:
    """Refuse a local ``batch_config.storage.root`` the tap could not create or write into.

    Checked before any API call, so a bad folder fails in one line instead of after the export.
    """
    parts = urlsplit(root)
    if parts.scheme not in ("", "file") or parts.netloc not in ("", "localhost"):
        return  # remote storage: its client says what is wrong
    folder = Path(parts.path or ".")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    problem = ""
    if existing == folder and not folder.is_dir():
        problem = "it is not a folder"
    elif not existing.is_dir():
        problem = f"{existing} is not a folder"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"{existing} is not writable"
    if problem:
        raise ConfigurationError(
            f"batch_config.storage.root {root[:200]} cannot hold the batch files ({problem}); "
            "choose a folder the tap can create or write."
        )
