"""The bulk read job body: fields from the catalog, criteria from the bookmark and settings.

Criteria are kept in one internal shape (v2's flat leaves) and rendered for the API version:
v2 and Bigin use ``{"api_name": ...}`` leaves and a string module, v3+ nest both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tap_zoho_bulkread.errors import ConfigurationError
from tap_zoho_bulkread.times import zoho_datetime

MAX_FIELDS = 200
MAX_CRITERIA = 25
MAX_IN_VALUES = 20
FRACTIONAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+")


@dataclass(frozen=True)
class JobQuery:
    """What to export from one module, independent of the API version."""

    module: str
    fields: tuple[str, ...] | None
    criteria: dict[str, Any] | None
    cvid: str | None
    file_type: str = "csv"  # "ics": Events as iCalendar, which takes no fields


def normalize_criteria(node: Any, where: str) -> dict[str, Any]:
    """Check user criteria (either version's shape) and return them as flat v2 leaves."""
    if not isinstance(node, dict):
        raise ConfigurationError(f"{where}: criteria must be a JSON object, got {node!r:.80}")
    if "group" in node or "group_operator" in node:
        operator = str(node.get("group_operator", "")).lower()
        members = node.get("group")
        if operator not in ("and", "or") or not isinstance(members, list) or not members:
            raise ConfigurationError(
                f"{where}: a criteria group needs group_operator 'and' or 'or' and a "
                "non-empty group list"
            )
        return {
            "group_operator": operator,
            "group": [normalize_criteria(member, where) for member in members],
        }
    field = node.get("field")
    name = field.get("api_name") if isinstance(field, dict) else node.get("api_name")
    if not isinstance(name, str) or not name or "comparator" not in node or "value" not in node:
        raise ConfigurationError(
            f"{where}: a criteria leaf needs a field api_name, a comparator and a value, "
            f"got {node!r:.120}"
        )
    value = node["value"]
    values = value if isinstance(value, list) else [value]
    if node["comparator"] in ("in", "not_in") and len(values) > MAX_IN_VALUES:
        raise ConfigurationError(
            f"{where}: {name} {node['comparator']} has {len(values)} values; Zoho allows "
            f"{MAX_IN_VALUES}. Split it into an 'or' group of smaller lists."
        )
    if any(isinstance(v, str) and FRACTIONAL_DATETIME.match(v) for v in values):
        raise ConfigurationError(
            f"{where}: {name} has a datetime with fractional seconds; Zoho refuses them. "
            "Write it as 2024-01-31T08:00:00+00:00."
        )
    return {"api_name": name, "comparator": node["comparator"], "value": value}


MAX_ALSO_LEAVES = 4  # "in" lists beside the bookmark's leaf, 20 values each


def bookmark_criterion(key: str, start: datetime, also: tuple[str, ...] = ()) -> dict[str, Any]:
    """``key >= start``, or that or ``key in`` each value of ``also`` before ``start``.

    With more values than a few ``in`` lists hold, the export starts at the earliest instead.
    """
    since = zoho_datetime(start)
    earlier = sorted({value for value in also if value < since})
    if len(earlier) > MAX_ALSO_LEAVES * MAX_IN_VALUES:
        since, earlier = earlier[0], []
    leaf = {"api_name": key, "comparator": "greater_equal", "value": since}
    if not earlier:
        return leaf
    lists = [earlier[i : i + MAX_IN_VALUES] for i in range(0, len(earlier), MAX_IN_VALUES)]
    return {
        "group_operator": "or",
        "group": [leaf, *({"api_name": key, "comparator": "in", "value": v} for v in lists)],
    }


def count_leaves(node: dict[str, Any] | None) -> int:
    """How many comparisons a criteria tree holds."""
    if node is None:
        return 0
    if "group" in node:
        return sum(count_leaves(member) for member in node["group"])
    return 1


def build_query(
    *,
    module: str,
    selected: list[str],
    lookup_fields: list[str],
    replication_key: str | None,
    start: datetime | None,
    user_criteria: Any = None,
    cvid: str | None = None,
    also: tuple[str, ...] = (),
) -> JobQuery:
    """Turn the catalog selection, the bookmark and the module's settings into a query.

    ``also`` are replication key values (UTC, to the second) of records to export again
    although they lie before the bookmark: records restored from the recycle bin.
    """
    where = f"module_settings.{module}.criteria"
    fields = list(dict.fromkeys([*selected, *lookup_fields]))
    if replication_key and replication_key not in fields:
        fields.append(replication_key)
    leaves: list[dict[str, Any]] = []
    if replication_key and start is not None:
        leaves.append(bookmark_criterion(replication_key, start, also))
    if user_criteria:
        leaves.append(normalize_criteria(user_criteria, where))
    criteria: dict[str, Any] | None = None
    if len(leaves) == 1:
        criteria = leaves[0]
    elif leaves:
        criteria = {"group_operator": "and", "group": leaves}
    if count_leaves(criteria) > MAX_CRITERIA:
        raise ConfigurationError(
            f"{where}: {count_leaves(criteria)} comparisons with the bookmark's; Zoho allows "
            f"{MAX_CRITERIA} (custom view criteria included). Simplify the criteria."
        )
    exported = tuple(fields) if len(fields) <= MAX_FIELDS else None
    return JobQuery(module, exported, criteria, cvid)


def _render(node: dict[str, Any], nested: bool) -> dict[str, Any]:
    if "group" in node:
        return {
            "group_operator": node["group_operator"],
            "group": [_render(member, nested) for member in node["group"]],
        }
    if not nested:
        return dict(node)
    return {
        "field": {"api_name": node["api_name"]},
        "comparator": node["comparator"],
        "value": node["value"],
    }


def uses_nested_shapes(product: str, version: str) -> bool:
    """CRM v3 and later nest ``module`` and criteria fields as objects; v2 and Bigin do not."""
    return product == "crm" and int(version.lstrip("v")) >= 3


def uses_page_tokens(product: str, version: str) -> bool:
    """CRM v7 and later page with ``page_token``; older versions with ``page``."""
    return product == "crm" and int(version.lstrip("v")) >= 7


def job_body(
    query: JobQuery,
    *,
    product: str,
    version: str,
    page: int = 1,
    page_token: str | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST .../bulk/{version}/read`` for one page."""
    nested = uses_nested_shapes(product, version)
    body: dict[str, Any] = {"module": {"api_name": query.module} if nested else query.module}
    if query.fields is not None:
        body["fields"] = list(query.fields)
    if query.cvid:
        body["cvid"] = query.cvid
    if query.criteria is not None:
        body["criteria"] = _render(query.criteria, nested)
    if page_token:
        body["page_token"] = page_token
    else:
        body["page"] = page
    if query.file_type != "csv":
        return {"query": body, "file_type": query.file_type}
    return {"query": body}
