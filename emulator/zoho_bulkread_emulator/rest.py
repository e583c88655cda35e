"""The emulator's REST companions of bulk read: users and the org, shaped as Zoho's v8 answers.

Users are the ones the records' Owner, Created_By and Modified_By point at; the first is the
current user (the one a token belongs to).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from zoho_bulkread_emulator.org import USERS, User
from zoho_bulkread_emulator.records import ModuleData, format_datetime, in_record_set

T = TypeVar("T")
ORG_ID = "4876543000000000400"
ZGID = "70000001"
MAX_PER_PAGE = 200
USER_TYPES = ("AllUsers", "ActiveUsers", "CurrentUser")
ROLES = (
    {"id": "4876543000000026005", "name": "CEO"},
    {"id": "4876543000000026008", "name": "Manager"},
)
PROFILES = (
    {"id": "4876543000000026011", "name": "Administrator"},
    {"id": "4876543000000026014", "name": "Standard"},
)
USERS_CREATED = 1_546_300_800  # 2019-01-01


class RestError(Exception):
    """A refused REST request: HTTP status, Zoho code, message and details."""

    def __init__(self, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.code = code
        self.details = details


def user_entry(user: User, position: int, zone: ZoneInfo) -> dict[str, Any]:
    """One user as ``GET /crm/v8/users`` shows it."""
    role, profile = ROLES[min(position, 1)], PROFILES[min(position, 1)]
    stamp = format_datetime(USERS_CREATED + position * 86_400, zone)
    return {
        "id": user.id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "full_name": user.full_name,
        "email": user.email,
        "status": "active",
        "confirm": True,
        "role": role,
        "profile": profile,
        "time_zone": zone.key,
        "locale": "en_US",
        "country_locale": "en_US",
        "language": "en_US",
        "zuid": str(60_000_000 + position),
        "created_time": stamp,
        "Modified_Time": stamp,
        "created_by": {"id": USERS[0].id, "name": USERS[0].full_name},
        "Modified_By": {"id": USERS[0].id, "name": USERS[0].full_name},
    }


def users_answer(params: dict[str, str], zone: ZoneInfo) -> dict[str, Any]:
    """The answer to ``GET /crm/v8/users?type=&page=&per_page=``."""
    kind, page, per_page = _listing(params, USER_TYPES)
    chosen = USERS[:1] if kind == "CurrentUser" else USERS
    window, info = _page_of(chosen, page, per_page)
    return {"users": [user_entry(u, USERS.index(u), zone) for u in window], "info": info}


def _listing(params: dict[str, str], kinds: tuple[str, ...]) -> tuple[str, int, int]:
    """``type`` (the first of ``kinds`` by default), ``page`` and ``per_page``, checked."""
    kind = params.get("type", kinds[0])
    if kind not in kinds:
        raise RestError("INVALID_DATA", "invalid value for type", {"param_name": "type"})
    page, per_page = _positive(params, "page", 1), _positive(params, "per_page", MAX_PER_PAGE)
    if per_page > MAX_PER_PAGE:
        raise RestError(
            "INVALID_DATA", f"per_page must not exceed {MAX_PER_PAGE}", {"param_name": "per_page"}
        )
    return kind, page, per_page


def _page_of(items: Sequence[T], page: int, per_page: int) -> tuple[Sequence[T], dict[str, Any]]:
    """One page of ``items`` and Zoho's ``info`` about it."""
    start = (page - 1) * per_page
    window = items[start : start + per_page]
    more = start + per_page < len(items)
    return window, {"per_page": per_page, "count": len(window), "page": page, "more_records": more}


DELETED_TYPES = ("all", "recycle", "permanent")


def deleted_answer(
    data: ModuleData, params: dict[str, str], since: str | None, zone: ZoneInfo
) -> dict[str, Any] | None:
    """The answer to ``GET /{module}/deleted``, newest first; None when there is nothing (204)."""
    kind, page, per_page = _listing(params, DELETED_TYPES)
    after = None
    if since:
        try:
            after = int(datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp())
        except ValueError:
            raise RestError(
                "INVALID_DATA", "invalid If-Modified-Since", {"header_name": "If-Modified-Since"}
            ) from None
    chosen = sorted(
        (
            (entry.time, index, entry.kind)
            for index, entry in data.overlay.deleted.items()
            if kind in ("all", entry.kind) and (after is None or entry.time >= after)
        ),
        reverse=True,
    )
    window, info = _page_of(chosen, page, per_page)
    if not window:
        return None
    owner = {"name": USERS[0].full_name, "id": USERS[0].id}
    name_field = data.module.get(data.module.name_field or "")
    name_of = data.reader(name_field) if name_field is not None else (lambda index: None)
    entries = [
        {
            "id": data.id_of(index),
            "display_name": name_of(index) if entry_kind == "recycle" else None,
            "type": entry_kind,
            "deleted_time": format_datetime(moment, zone),
            "deleted_by": owner,
            "created_by": owner,
        }
        for moment, index, entry_kind in window
    ]
    return {"data": entries, "info": info}


MAX_IDS = 100
MAX_FIELDS = 50


SORT_FIELDS = ("id", "Created_Time", "Modified_Time")


class NotModified(Exception):
    """No record was modified after ``If-Modified-Since``: HTTP 304, no body."""


def _since(header: str | None) -> int | None:
    """``If-Modified-Since`` (ISO 8601 with an offset, as Zoho documents it) in epoch seconds."""
    if not header:
        return None
    try:
        moment = datetime.fromisoformat(header.strip().replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise RestError(
            "INVALID_DATA", "invalid If-Modified-Since", {"header_name": "If-Modified-Since"}
        )
    return int(moment.timestamp())


def records_answer(
    data: ModuleData, params: dict[str, str], zone: ZoneInfo, since: str | None = None
) -> dict[str, Any] | None:
    """``GET /{module}?fields=&ids=`` (or ``page``/``per_page``, ``sort_by``/``sort_order``).

    ``fields`` is mandatory (v8), 50 at most; ``ids`` holds up to 100 ids, and ids of deleted
    or unknown records are left out. Without ``ids`` the live records come sorted by
    ``sort_by`` (id, Created_Time or Modified_Time; id by default) in ``sort_order`` (desc by
    default, as Zoho documents it). With ``If-Modified-Since`` only records modified after it
    are listed, and none raises NotModified (304). Only id, Created_Time and Modified_Time carry
    values (the tap asks this call whether records exist or changed); other fields asked for are
    null. None (204) when nothing matches.
    """
    fields = [name for name in params.get("fields", "").split(",") if name]
    if not fields:
        raise RestError(
            "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
            {"param_name": "fields"},
        )  # fmt: skip
    if len(fields) > MAX_FIELDS:
        raise RestError("LIMIT_EXCEEDED", f"more than {MAX_FIELDS} fields", {"limit": MAX_FIELDS})
    unknown = [name for name in fields if name != "id" and data.module.get(name) is None]
    if unknown:
        raise RestError("INVALID_DATA", "invalid field", {"api_name": unknown[0]})
    shown = _record_set(data, params)
    deleted = data.overlay.deleted
    after = _since(since)
    if "ids" in params:
        ids = [text for text in params["ids"].split(",") if text]
        if len(ids) > MAX_IDS:
            raise RestError("LIMIT_EXCEEDED", f"more than {MAX_IDS} ids", {"limit": MAX_IDS})
        found = {data.index_of(text) for text in ids} - {None}
        chosen: Sequence[int] = sorted(
            i for i in found if i is not None and i not in deleted and shown(i)
        )
        info = {"per_page": len(chosen), "count": len(chosen), "page": 1, "more_records": False}
    else:
        _, page, per_page = _listing(params, ("all",))
        live = [index for index in data.live_indices() if shown(index)]
        if after is not None:
            live = [index for index in live if data.modified_time(index) > after]
            if not live:
                raise NotModified()
        chosen, info = _page_of(_sorted(data, live, params), page, per_page)
    if not chosen:
        return None
    times = {
        "Created_Time": lambda i: format_datetime(data.created_time(i), zone),
        "Modified_Time": lambda i: format_datetime(data.modified_time(i), zone),
    }
    entries: list[dict[str, str | None]] = []
    for index in chosen:
        entry: dict[str, str | None] = {"id": data.id_of(index)}
        for name in fields:
            if name != "id":
                entry[name] = times[name](index) if name in times else None
        entries.append(entry)
    return {"data": entries, "info": info}


RECORD_SETS = ("true", "false", "both")


def _record_set(data: ModuleData, params: dict[str, str]) -> Callable[[int], bool]:
    """Which records ``converted`` and ``approved`` let through, with Zoho's defaults.

    Get Records (v2 to v8; both parameters in the official v8 SDK's ``GetRecordsParam``):
    ``converted`` "Default value is false" (only records not converted), ``approved``
    "Default value is true" (only approved records); ``both`` lists all.
    """
    converted, approved = params.get("converted", "false"), params.get("approved", "true")
    for name, value in (("converted", converted), ("approved", approved)):
        if value not in RECORD_SETS:
            raise RestError("INVALID_DATA", f"invalid value for {name}", {"param_name": name})
    return in_record_set(data, converted, approved)


def _sorted(data: ModuleData, indices: list[int], params: dict[str, str]) -> list[int]:
    """The records in the order ``sort_by`` and ``sort_order`` ask for."""
    sort_by, order = params.get("sort_by", "id"), params.get("sort_order", "desc")
    if sort_by not in SORT_FIELDS:
        raise RestError("INVALID_DATA", "invalid value for sort_by", {"param_name": "sort_by"})
    if order not in ("asc", "desc"):
        raise RestError(
            "INVALID_DATA", "invalid value for sort_order", {"param_name": "sort_order"}
        )
    key = {
        "id": lambda index: index,  # ids grow with the index
        "Created_Time": lambda index: (data.created_time(index), index),
        "Modified_Time": lambda index: (data.modified_time(index), index),
    }[sort_by]
    return sorted(indices, key=key, reverse=order == "desc")


def license_details(edition: str) -> dict[str, Any]:
    """``license_details`` of the org answer, as Zoho's v8 example has them for ``edition``."""
    if edition == "trial":  # zoho/crm-oas v8.0 org example: evaluating Enterprise
        return {"paid": False, "paid_type": "free", "trial_type": "enterprise",
                "trial_expiry": "2030-01-01T00:00:00+00:00", "paid_expiry": None}  # fmt: skip
    return {"paid": edition != "free", "paid_type": edition, "trial_type": None,
            "trial_expiry": None, "paid_expiry": None}  # fmt: skip


def org_answer(zone: ZoneInfo, edition: str = "enterprise") -> dict[str, Any]:
    """The answer to ``GET /crm/v8/org``."""
    return {
        "org": [
            {
                "id": ORG_ID,
                "company_name": "Emulated Org",
                "alias": None,
                "primary_email": USERS[0].email,
                "primary_zuid": "60000000",
                "zgid": ZGID,
                "domain_name": "org" + ZGID,
                "time_zone": zone.key,
                "iso_code": "USD",
                "currency": "US Dollar - USD",
                "currency_symbol": "$",
                "currency_locale": "en_US",
                "country": "United States",
                "country_code": "US",
                "mc_status": True,
                "gapps_enabled": False,
                "type": "production",
                "privacy_settings": False,
                "hipaa_compliance_enabled": False,
                "license_details": {
                    **license_details(edition),
                    "users_license_purchased": len(USERS),
                },
            }
        ]
    }


def _positive(params: dict[str, str], name: str, default: int) -> int:
    value = params.get(name, str(default))
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise RestError("INVALID_DATA", f"invalid value for {name}", {"param_name": name})
    return int(value)
