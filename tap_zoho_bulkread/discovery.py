"""Zoho's metadata (or an input catalog) -> the modules to stream, with schemas and field specs.

Which modules bulk read can export, their fields as JSON schema, lookup dot fields, and the
checks on the module settings that need the metadata. Knows nothing of how records are read.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from singer_sdk.singerlib import Catalog

from tap_zoho_bulkread.bulk.metadata import (
    CHILD_GENERATED_TYPES,
    NOT_EXPORTABLE_TYPES,
    FieldSpec,
    child_module_of,
    dot_field_property,
    dot_fields_from_schema,
    field_specs,
    module_is_exportable,
    nested_api_name,
    record_state_specs,
    specs_from_schema,
    stream_schema,
)
from tap_zoho_bulkread.config import ModuleSettings
from tap_zoho_bulkread.errors import ConfigurationError, ZohoAPIError
from tap_zoho_bulkread.zoho.answers import metadata_entries
from tap_zoho_bulkread.zoho.client import ZohoClient

LOOKUP_TYPES = frozenset({"lookup", "ownerlookup", "userlookup"})
REST_STREAMS = ("Users", "Deleted_Records", "Events_ICS", "Full_Table_Reads")  # not modules


@dataclass(frozen=True)
class DiscoveredModule:
    """A module to stream: its name, JSON schema, how each field is decoded, its dot fields.

    ``child_of`` names the parent of a subform or linking module (whose rows it holds), and
    ``child_kind`` says which of the two it is.
    """

    module: str
    schema: dict[str, Any]
    specs: list[FieldSpec]
    dot_fields: tuple[str, ...] = ()
    child_of: str | None = None
    child_kind: str | None = None  # "subform" or "linking"


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
        description = str(schema.get("description", ""))
        parent = CHILD_DESCRIPTION.match(description)
        found.append(
            DiscoveredModule(
                entry.tap_stream_id,
                schema,
                specs_from_schema(schema),
                dot_fields_from_schema(schema),
                parent.group(2) if parent else None,
                parent.group(1) if parent else None,
            )
        )
    return found


class _FieldsCache:
    """``settings/fields`` of each module, asked for once per discovery."""

    def __init__(self, client: ZohoClient, prefix: str) -> None:
        self.client, self.prefix = client, prefix
        self.known: dict[str, list[dict[str, Any]]] = {}

    def of(self, module: str) -> list[dict[str, Any]]:
        if module not in self.known:
            answer = self.client.get_json(f"{self.prefix}/fields", {"module": module})
            self.known[module] = metadata_entries(answer, "fields", module)
        return self.known[module]


def modules_from_metadata(
    client: ZohoClient,
    *,
    prefix: str,
    product: str = "crm",
    wanted: list[str] | None,
    module_settings: dict[str, ModuleSettings],
    logger: logging.Logger,
) -> list[DiscoveredModule]:
    """The exportable modules of ``{prefix}/modules`` (or ``wanted`` of them), with fields.

    Subform and linking modules are streams of their own; their lookups to the parent and
    linked records come with a dot field for each linked record's name.
    """
    listed = metadata_entries(client.get_json(f"{prefix}/modules"), "modules", "Zoho")
    exportable = {m["api_name"]: m for m in listed if module_is_exportable(m)}
    chosen = wanted or list(exportable)
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
    fields = _FieldsCache(client, prefix)
    found = []
    for module in chosen:
        entries = fields.of(module)
        specs = field_specs(entries, module, logger, frozenset(chosen))
        specs += record_state_specs(exportable[module], product, specs)
        settings = module_settings.get(module) or ModuleSettings()
        check_lookup_fields(module, settings.lookup_fields, entries)
        child_of = None
        dot_fields = list(settings.lookup_fields)
        if exportable[module].get("generated_type") in CHILD_GENERATED_TYPES:
            child_of = _parent_name(exportable[module], entries)
            taken = {entry["api_name"] for entry in entries} | set(dot_fields)
            dot_fields += [
                f
                for f in _linked_names(entries, fields)
                if f not in taken and dot_field_property(f) not in taken
            ]
        dot_fields = _without_collisions(module, [spec.name for spec in specs], dot_fields, logger)
        schema = stream_schema(specs, dot_fields)
        schema["description"] = _describe(module, exportable[module], entries, child_of)
        kind = exportable[module].get("generated_type") if child_of else None
        found.append(DiscoveredModule(module, schema, specs, tuple(dot_fields), child_of, kind))
    return found


def _without_collisions(
    module: str, fields: list[str], dot_fields: list[str], logger: logging.Logger
) -> list[str]:
    """Dot fields whose property names are all distinct, from fields and from each other.

    ``A.B__Last_Name`` and ``A__B.Last_Name`` would both be the property ``A__B__Last_Name``;
    the first in name order keeps it, each other one is left out with a WARNING naming both.
    """
    owner = {name: name for name in fields}
    kept = []
    for dotted in sorted(dot_fields):
        prop = dot_field_property(dotted)
        if prop in owner:
            logger.warning(
                "%s: the dot field %s would be the property %s, which %s already is; it is left "
                "out (rename one of the fields in Zoho to export both)",
                module,
                dotted,
                prop,
                owner[prop],
            )
            continue
        owner[prop] = dotted
        kept.append(dotted)
    return [dotted for dotted in dot_fields if dotted in kept]


CHILD_DESCRIPTION = re.compile(r"Zoho (subform|linking) module of ([A-Za-z0-9_$]+)")


def _parent_name(module: dict[str, Any], entries: list[dict[str, Any]]) -> str:
    """The parent of a child module: ``parent_module``, else the module Parent_Id points to."""
    name = nested_api_name(module, "parent_module")
    if name is None:
        name = next((t for f, t in _lookups(entries) if f == "Parent_Id"), None)
    return name or "an unnamed module"


def _lookups(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(field, target module) of each record lookup among ``entries``."""
    return [
        (str(entry["api_name"]), target)
        for entry in entries
        if entry.get("data_type") == "lookup"
        and (target := nested_api_name(entry, "lookup", "module"))
    ]


def name_field(entries: list[dict[str, Any]]) -> str | None:
    """The field naming a module's records: its mandatory ``Name``, ``*_Name`` or ``Subject``."""
    names = [
        str(entry["api_name"])
        for entry in entries
        if entry.get("data_type") == "text" and entry.get("system_mandatory") is True
    ]
    for wanted in ("Name", "_Name", "Subject"):
        for name in names:
            if name == wanted or (wanted.startswith("_") and name.endswith(wanted)):
                return name
    return None


def _linked_names(entries: list[dict[str, Any]], fields: _FieldsCache) -> list[str]:
    """Dot fields naming the records a child row links to (``Parent_Id.Subject`` style)."""
    found = []
    for field_name, target in _lookups(entries):
        if target == "Layouts":
            continue
        try:
            name = name_field(fields.of(target))
        except ZohoAPIError:
            continue  # a linked module the token cannot describe: ids only
        if name:
            found.append(f"{field_name}.{name}")
    return found


def _describe(
    module: str, listed: dict[str, Any], entries: list[dict[str, Any]], child_of: str | None
) -> str:
    """The stream's description: what a child module holds, or where a module's child data is."""
    if child_of is not None:
        kind = listed.get("generated_type")
        how = (
            "one row per subform row; Parent_Id is the id of its record"
            if kind == "subform"
            else "one row per link of a multi-select lookup; its lookups hold both records' ids"
        )
        return f"Zoho {kind} module of {child_of}: {how}."
    children = []
    for entry in entries:
        child = child_module_of(entry) if entry.get("data_type") in NOT_EXPORTABLE_TYPES else None
        if child:
            children.append(f"{entry['api_name']} -> stream {child}")
    text = f"Zoho module {module}."
    if children:
        text += " Child data not in this stream's columns: " + "; ".join(children) + "."
    return text
