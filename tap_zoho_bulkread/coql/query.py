"""COQL query text: quoted values, column chunks within Zoho's limits, one SELECT per chunk."""

from __future__ import annotations

from datetime import datetime

from tap_zoho_bulkread.times import zoho_datetime

MAX_COLUMNS = 50  # Zoho: at most 50 field API names in SELECT, lookup dot fields included
MAX_LIMIT = 2000  # Zoho: at most 2,000 records a call (3 API credits)


def literal(moment: datetime) -> str:
    """A datetime as a COQL value: quoted, UTC, to the second (Zoho refuses fractions)."""
    return f"'{zoho_datetime(moment)}'"


def since(key: str, start: datetime) -> str:
    """The WHERE of an incremental read: the bulk job's own criterion, ``key >= start``."""
    return f"{key} >= {literal(start)}"


EVERY_RECORD = "id is not null"  # Zoho's own example of a WHERE every record meets


def column_chunks(columns: list[str], fixed: list[str]) -> list[list[str]]:
    """``columns`` split so that each SELECT holds ``fixed`` and at most 50 names in all."""
    rest = [name for name in dict.fromkeys(columns) if name not in fixed]
    room = MAX_COLUMNS - len(fixed)
    chunks = [fixed + rest[at : at + room] for at in range(0, len(rest), room)]
    return chunks or [list(fixed)]


def select(module: str, columns: list[str], where: str, order_by: str, limit: int) -> str:
    """One SELECT, ordered and limited: ``order_by`` is ``"<key> asc, id asc"`` or ``"id asc"``."""
    # names are API names checked by discovery; the only value, a datetime, is quoted above
    return (
        f"select {', '.join(columns)} from {module} where {where} "  # noqa: S608
        f"order by {order_by} limit {limit}"
    )
