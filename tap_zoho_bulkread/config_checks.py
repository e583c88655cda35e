"""Settings checks JSON schema cannot express, and the config file a user passes in.

Every refusal here is one ``ConfigurationError`` line that names the setting and the fix,
raised before any API call.
"""

from __future__ import annotations

import difflib
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError
from singer_sdk.helpers.capabilities import BATCH_CONFIG, FLATTENING_CONFIG, STREAM_MAPS_CONFIG

from tap_zoho_bulkread.bulk.query import normalize_criteria
from tap_zoho_bulkread.config import DEFAULTS, DOT_FIELD, MODULE_SETTING_KEYS, ModuleSettings
from tap_zoho_bulkread.coql.query import MAX_LIMIT as MAX_QUERY_API_RECORDS
from tap_zoho_bulkread.errors import ConfigurationError
from tap_zoho_bulkread.times import parse_datetime
from tap_zoho_bulkread.zoho.data_centers import DEFAULT_VERSIONS, VERSIONS

MAX_QUERIES_AT_ONCE = 24  # Zoho's largest concurrency limit (25 calls per org), less the turn's
FIX = "Fix it with `meltano config set tap-zoho-bulkread ...` or in the tap's config file."


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
    for name in ("max_concurrent_jobs", "max_tries", "max_downloads_per_minute"):
        if name in config and config[name] is not None and int(config[name]) < 1:
            raise ConfigurationError(f"{name} is {config[name]}; it must be 1 or more.")
    ahead = config.get("max_concurrent_queries")
    if ahead is not None and not 0 <= int(ahead) <= MAX_QUERIES_AT_ONCE:
        raise ConfigurationError(
            f"max_concurrent_queries is {ahead}; use 0 to {MAX_QUERIES_AT_ONCE} (Zoho answers "
            "at most 25 API calls at once per org, on its largest edition)."
        )
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
