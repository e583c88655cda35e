"""Zoho metadata -> streams: which modules bulk read can export, and each field's JSON schema."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from tap_zoho_bulkread.bulk.kinds import (
    KIND_BOOLEAN,
    KIND_DATE,
    KIND_DATETIME,
    KIND_INTEGER,
    KIND_MULTI,
    KIND_NUMBER,
    KIND_STRING,
    KIND_TAGS,
    kind_of,
)
from tap_zoho_bulkread.zoho.answers import API_NAME

DOT_PROPERTY_SEPARATOR = "__"


def dot_field_property(dotted: str) -> str:
    """The stream property of a lookup dot field: ``Owner.last_name`` -> ``Owner__last_name``."""
    return dotted.replace(".", DOT_PROPERTY_SEPARATOR, 1)


# Bulk read refuses these; Zoho has no metadata flag for it, so this list is kept by hand.
DENIED_MODULES = frozenset(
    {
        "Notes",
        "Attachments",
        "Emails",
        "Actions_Performed",
        "Activities",
        "Approvals",
        "Associated_Products",
        "Email_Analytics",
        "Email_Template_Analytics",
        "Feeds",
        "Home",
        "Reports",
        "Dashboards",
        "Forecasts",
        "Projects_Tasks",
        "Social",
        "Visits",
        "Documents",
    }
)
CHILD_GENERATED_TYPES = frozenset({"subform", "linking"})
EXPORTABLE_GENERATED_TYPES = frozenset({"default", "custom"}) | CHILD_GENERATED_TYPES
NOT_EXPORTABLE_TYPES = frozenset({"multiselectlookup", "multiuserlookup", "subform"})
# Where Zoho's v8 fields metadata names the module holding a left-out field's rows (the
# official v8 SDK's Subform, MinifiedModule and Multiselectlookup models): the last key holds
# the module's api name, as a plain string or, under "api_name", in an object.
CHILD_MODULE_PATHS = (
    ("subform", "module"),
    ("associated_module", "module"),
    ("associated_module", "api_name"),
    ("multiselectlookup", "linking_details", "module", "api_name"),
    ("multiuserlookup", "linking_details", "module", "api_name"),
)

STRING_TYPES = frozenset(
    {
        "text",
        "textarea",
        "email",
        "phone",
        "website",
        "picklist",
        "autonumber",
        "formula",
        "fileupload",
        "imageupload",
        "profileimage",
        "event_reminder",
        "bigint",
        "lookup",
        "ownerlookup",
        "userlookup",
    }
)
NUMBER_TYPES = frozenset({"double", "currency", "percent", "decimal", "rollup_summary"})

# How decode.py turns a CSV cell into a value, per column.
# A formula field's values take the type its ``formula.return_type`` names (Zoho's v8 fields
# metadata; the official v8 SDK's ``Formula`` model).
FORMULA_KINDS = {
    "double": KIND_NUMBER,
    "currency": KIND_NUMBER,
    "decimal": KIND_NUMBER,
    "boolean": KIND_BOOLEAN,
    "date": KIND_DATE,
    "datetime": KIND_DATETIME,
    "text": KIND_STRING,
}
MAX_DECIMAL_PLACES = 30
_DESCRIPTION = re.compile(
    r"Zoho data type: (?P<type>[A-Za-z0-9_]+)(?: returning (?P<returns>[a-z_]+))?"
    r"(?:, (?P<scale>\d{1,2}) decimal places)?(?:; .*)?",
    re.S,
)
RECORD_STATE_NOTE = "a column of Zoho's exports the fields metadata does not list"


@dataclass(frozen=True)
class FieldSpec:
    """One exportable field: its Zoho name, Zoho type and how it is decoded.

    ``scale`` is a number field's ``decimal_place``: a value read without it (the Query API's
    JSON numbers) is written with that many decimals, as bulk read's CSV writes it.
    ``returns`` is a formula's ``return_type``; ``note`` ends the description.
    """

    name: str
    data_type: str
    kind: str
    scale: int | None = None
    returns: str | None = None
    note: str = ""

    @property
    def optional(self) -> bool:
        """A record state column: known from real exports, not listed by the metadata."""
        return self.note == RECORD_STATE_NOTE

    def json_schema(self) -> dict[str, Any]:
        """The JSON schema of the field: every property nullable, no enums."""
        schema = dict(kind_of(self.kind).schema)
        text = f"Zoho data type: {self.data_type}"
        if self.returns:
            text += f" returning {self.returns}"
        if self.scale is not None:
            text += f", {self.scale} decimal places"
        schema["description"] = text + (f"; {self.note}" if self.note else "")
        return schema


def field_kind(
    api_name: str, data_type: str, json_type: str | None, returns: str | None = None
) -> str | None:
    """How a field is decoded, or None when bulk read cannot export it.

    ``returns`` is a formula's ``formula.return_type``; a formula without a known one is text.
    """
    if data_type in NOT_EXPORTABLE_TYPES:
        return None
    if data_type == "formula":
        return FORMULA_KINDS.get(returns or "text", KIND_STRING)
    if api_name == "Tag" or (json_type == "jsonarray" and data_type == "text"):
        return KIND_TAGS
    if data_type == "multiselectpicklist":
        return KIND_MULTI
    if data_type == "integer":
        return KIND_INTEGER
    if data_type in NUMBER_TYPES:
        return KIND_NUMBER
    if data_type == "boolean":
        return KIND_BOOLEAN
    if data_type == "date":
        return KIND_DATE
    if data_type == "datetime":
        return KIND_DATETIME
    if data_type in STRING_TYPES:
        return KIND_STRING
    return None


def field_specs(
    fields: list[dict[str, Any]],
    module: str,
    logger: logging.Logger,
    streams: frozenset[str] | None = None,
) -> list[FieldSpec]:
    """Turn ``settings/fields`` entries into field specs; unknown types become strings.

    ``streams``: the modules discovered as streams (all when None), to say where a left-out
    field's rows are.
    """
    specs: list[FieldSpec] = []
    for entry in fields:
        name = entry.get("api_name")
        data_type = str(entry.get("data_type") or "")
        if not isinstance(name, str) or not name:
            continue
        returns = _return_type(entry)
        kind = field_kind(name, data_type, entry.get("json_type"), returns)
        if kind is None and data_type in NOT_EXPORTABLE_TYPES:
            child = child_module_of(entry)
            if child is None:
                where = "bulk read cannot export it"
            elif streams is None or child in streams:
                where = f"its rows are the stream {child}"
            else:
                where = f"its rows are the module {child}: add it to modules to export them"
            logger.info(
                "%s.%s (%s) is not a column of %s; %s", module, name, data_type, module, where
            )
            continue
        if kind is None:
            logger.warning(
                "%s.%s has the unknown Zoho type %r; it is exported as a string",
                module,
                name,
                data_type,
            )
            kind = KIND_STRING
        scale = _decimal_place(entry) if kind == KIND_NUMBER else None
        specs.append(FieldSpec(name, data_type, kind, scale, returns))
    return specs


def _state_spec(name: str, data_type: str, kind: str) -> FieldSpec:
    return FieldSpec(name, data_type, kind, note=RECORD_STATE_NOTE)


# Record state columns real exports carry beside the listed fields (docs/record-sets.md says
# where each name comes from): a lead's conversion, every record's approval, lock and change log
# state, and Zia enrichment on Leads and Contacts.
CONVERSION_SPECS = (
    _state_spec("$converted", "boolean", KIND_BOOLEAN),
    _state_spec("Converted__s", "boolean", KIND_BOOLEAN),
    _state_spec("Converted_Date_Time", "datetime", KIND_DATETIME),
    _state_spec("Converted_Account", "lookup", KIND_STRING),
    _state_spec("Converted_Contact", "lookup", KIND_STRING),
    _state_spec("Converted_Deal", "lookup", KIND_STRING),
)
RECORD_STATE_SPECS = (
    _state_spec("Record_Approval_Status", "picklist", KIND_STRING),
    _state_spec("Locked__s", "boolean", KIND_BOOLEAN),
    _state_spec("Change_Log_Time__s", "datetime", KIND_DATETIME),
)
ENRICHMENT_SPECS = (
    _state_spec("Last_Enriched_Time__s", "datetime", KIND_DATETIME),
    _state_spec("Enrich_Status__s", "picklist", KIND_STRING),
)
ENRICHED_MODULES = frozenset({"Leads", "Contacts"})


def record_state_specs(
    module: dict[str, Any], product: str, listed: list[FieldSpec]
) -> list[FieldSpec]:
    """The record state columns a module's exports carry that its fields metadata left out.

    Conversion columns where the modules metadata says ``convertable``; approval, lock and
    change log columns on every module of its own (a subform's or link's rows have none);
    enrichment on CRM Leads and Contacts, where real exports showed it.
    """
    if module.get("generated_type") in CHILD_GENERATED_TYPES:
        return []
    name = module.get("api_name")
    wanted = (
        (CONVERSION_SPECS if module.get("convertable") is True else ())
        + RECORD_STATE_SPECS
        + (ENRICHMENT_SPECS if product == "crm" and name in ENRICHED_MODULES else ())
    )
    taken = {spec.name for spec in listed}
    return [spec for spec in wanted if spec.name not in taken]


def _return_type(entry: dict[str, Any]) -> str | None:
    """A formula's ``formula.return_type`` when it is one of the known ones, else None."""
    formula = entry.get("formula")
    returns = formula.get("return_type") if isinstance(formula, dict) else None
    return returns if returns in FORMULA_KINDS else None


def _decimal_place(entry: dict[str, Any]) -> int | None:
    """A number field's ``decimal_place``, when it is a plausible one."""
    places = entry.get("decimal_place")
    if type(places) is int and 0 <= places <= MAX_DECIMAL_PLACES:
        return places
    return None


def nested_api_name(entry: dict[str, Any], *path: str) -> str | None:
    """The plain ``api_name`` at ``path`` in a metadata entry (validated), or None."""
    node: Any = entry
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    name = node.get("api_name") if isinstance(node, dict) else None
    return name if isinstance(name, str) and API_NAME.fullmatch(name) else None


def child_module_of(entry: dict[str, Any]) -> str | None:
    """The module holding a subform's or multi-select lookup's rows, as the metadata names it."""
    for path in CHILD_MODULE_PATHS:
        node: Any = entry
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, str) and API_NAME.fullmatch(node):
            return node
    return None


HIDDEN_STATUSES = frozenset({"system_hidden", "scheduled_for_deletion"})


def module_is_exportable(module: dict[str, Any]) -> bool:
    """Whether bulk read can export a module listed by ``settings/modules``.

    The metadata decides first (``api_supported``, ``generated_type``, a ``status`` that hides
    the module from everyone); the deny-list covers what it does not say.
    """
    return (
        module.get("api_supported", True) is True
        and module.get("generated_type", "default") in EXPORTABLE_GENERATED_TYPES
        and module.get("status") not in HIDDEN_STATUSES
        and module.get("api_name") not in DENIED_MODULES
    )


def stream_schema(specs: list[FieldSpec], lookup_fields: list[str]) -> dict[str, Any]:
    """The stream's JSON schema: ``id`` first, then fields, then lookup dot fields."""
    properties: dict[str, Any] = {"id": {"type": ["string"], "description": "Zoho record id"}}
    for spec in specs:
        properties[spec.name] = spec.json_schema()
    for dotted in lookup_fields:
        schema = FieldSpec(dotted, "lookup_field", KIND_STRING).json_schema()
        schema["description"] = DOT_FIELD_DESCRIPTION + dotted
        properties[dot_field_property(dotted)] = schema
    return {"type": "object", "properties": properties}


def specs_from_schema(schema: dict[str, Any]) -> list[FieldSpec]:
    """Rebuild field specs from a catalog schema (so a sync with --catalog needs no metadata)."""
    specs = []
    for name, prop in schema.get("properties", {}).items():
        if name == "id":
            continue
        description = str(prop.get("description", ""))
        found = _DESCRIPTION.fullmatch(description)
        data_type = found["type"] if found else description.removeprefix("Zoho data type: ")
        kind = _kind_from_json_schema(name, prop)
        scale = int(found["scale"]) if found and found["scale"] and kind == KIND_NUMBER else None
        returns = found["returns"] if found else None
        note = RECORD_STATE_NOTE if description.endswith(RECORD_STATE_NOTE) else ""
        specs.append(FieldSpec(name, data_type, kind, scale, returns, note))
    return specs


DOT_FIELD_DESCRIPTION = "Zoho lookup dot field "


def dot_fields_from_schema(schema: dict[str, Any]) -> tuple[str, ...]:
    """The dot fields of a catalog schema, as ``stream_schema`` described them."""
    found = []
    for prop in schema.get("properties", {}).values():
        description = str(prop.get("description", "")) if isinstance(prop, dict) else ""
        if description.startswith(DOT_FIELD_DESCRIPTION):
            found.append(description.removeprefix(DOT_FIELD_DESCRIPTION))
    return tuple(found)


def _kind_from_json_schema(name: str, prop: dict[str, Any]) -> str:
    types = prop.get("type", [])
    types = [types] if isinstance(types, str) else types
    if "array" in types:
        return KIND_TAGS if name == "Tag" else KIND_MULTI
    for kind in (KIND_INTEGER, KIND_NUMBER, KIND_BOOLEAN):
        if kind in types:
            return kind
    if prop.get("format") == "date-time":
        return KIND_DATETIME
    if prop.get("format") == "date":
        return KIND_DATE
    return KIND_STRING
