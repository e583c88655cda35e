"""Zoho's metadata (or an input catalog) -> the modules to stream, with schemas and field specs.

Which modules bulk read can export, their fields as JSON schema, lookup dot fields, and the
checks on the module settings that need the metadata. Knows nothing of how records are read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from singer_sdk.singerlib import Catalog

from tap_zoho_bulkread.answers import metadata_entries
from tap_zoho_bulkread.client import ZohoClient
from tap_zoho_bulkread.errors import ConfigurationError
from tap_zoho_bulkread.metadata import (
    FieldSpec,
    field_specs,
    module_is_exportable,
    specs_from_schema,
    stream_schema,
)
from tap_zoho_bulkread.settings import ModuleSettings, dot_field_property

LOOKUP_TYPES = frozenset({"lookup", "ownerlookup", "userlookup"})
REST_STREAMS = ("Users", "Deleted_Records")


@dataclass(frozen=True)
class DiscoveredModule:
    """A module to stream: its name, JSON schema and how each field is decoded."""

    module: str
    schema: dict[str, Any]
    specs: list[FieldSpec]


def check_lookup_fields(
    module: str, lookup_fields: list[str], fields: list[dict[str, Any]]
) -> None:
    """Refuse dot fields whose first part is not a lookup field of the module."""
    types = {entry.get("api_name"): entry.get("data_type") for entry in fields}
    for dotted in lookup_fields:
        if dot_field_property(dotted) in types:
            raise ConfigurationError(
                f"module_settings.{module}.lookup_fields: {dotted!r} would be the property "
                f"{dot_field_property(dotted)!r}, which is already a field of {module}."
            )
        base = dotted.split(".", 1)[0]
        if types.get(base) not in LOOKUP_TYPES:
            found = "is not a field of" if base not in types else "is not a lookup field of"
            raise ConfigurationError(
                f"module_settings.{module}.lookup_fields: {base!r} {found} {module}; a dot field "
                "starts with a lookup such as Owner or Account_Name."
            )


def modules_from_catalog(catalog: Catalog, logger: logging.Logger) -> list[DiscoveredModule]:
    """The module streams of an input catalog (no API call); warns when nothing is selected."""
    if not any(entry.metadata.resolve_selection().get((), False) for entry in catalog.values()):
        logger.warning(
            "No stream is selected in the catalog, so nothing is exported. Select streams "
            "with `meltano select tap-zoho-bulkread <Module> '*'` (or set "
            '"selected": true in the catalog).'
        )
    found = []
    for entry in catalog.values():
        if entry.tap_stream_id in REST_STREAMS:
            continue
        schema = entry.schema.to_dict()
        found.append(DiscoveredModule(entry.tap_stream_id, schema, specs_from_schema(schema)))
    return found


def modules_from_metadata(
    client: ZohoClient,
    *,
    prefix: str,
    wanted: list[str] | None,
    module_settings: dict[str, ModuleSettings],
    logger: logging.Logger,
) -> list[DiscoveredModule]:
    """The exportable modules of ``{prefix}/modules`` (or ``wanted`` of them), with fields."""
    listed = metadata_entries(client.get_json(f"{prefix}/modules"), "modules", "Zoho")
    exportable = [m["api_name"] for m in listed if module_is_exportable(m)]
    chosen = wanted or exportable
    unknown = sorted(set(chosen) - set(exportable))
    if unknown:
        raise ConfigurationError(
            f"modules: {unknown} cannot be exported by bulk read in this org. "
            f"Exportable modules: {', '.join(sorted(exportable))}."
        )
    unknown_settings = sorted(set(module_settings) - set(chosen))
    if unknown_settings:
        raise ConfigurationError(
            f"module_settings names {unknown_settings}, which are not among the synced "
            f"modules ({', '.join(sorted(chosen))})."
        )
    found = []
    for module in chosen:
        entries = metadata_entries(
            client.get_json(f"{prefix}/fields", {"module": module}), "fields", module
        )
        specs = field_specs(entries, module, logger)
        settings = module_settings.get(module) or ModuleSettings()
        check_lookup_fields(module, settings.lookup_fields, entries)
        found.append(DiscoveredModule(module, stream_schema(specs, settings.lookup_fields), specs))
    return found
