"""What the bulk read API answers, checked before any of it reaches a path, a loop or a log line.

A broken or hostile server must not be able to steer the tap: ids are digits, counts are
bounded integers, flags are booleans, tokens are short printable text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tap_zoho_bulkread.errors import TAP_UNEXPECTED_RESPONSE, ZohoAPIError

ZOHO_ID = re.compile(r"[0-9]{1,30}")
API_NAME = re.compile(r"[A-Za-z$][A-Za-z0-9_$]{0,99}")
PAGE_TOKEN = re.compile(r"[\x21-\x7e]{1,4096}")  # printable ASCII, no spaces
MAX_PAGES = 500  # Zoho's page limit: 500 pages of 200,000 records
MAX_PAGE_RECORDS = 200_000
STATES = ("ADDED", "QUEUED", "IN PROGRESS", "COMPLETED", "FAILURE", "FAILED")


def unexpected(what: str, value: object) -> ZohoAPIError:
    """The error for an answer that is not what Zoho sends."""
    return ZohoAPIError(TAP_UNEXPECTED_RESPONSE, 200, f"{what}: {value!r:.120}")


def zoho_id(value: object, what: str) -> str:
    """A Zoho id (digits only), or an error naming what carried something else."""
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if ZOHO_ID.fullmatch(text) is None:
        raise unexpected(f"{what} is not a Zoho id (digits)", value)
    return text


def metadata_entries(answer: dict[str, Any], key: str, what: str) -> list[dict[str, Any]]:
    """``modules`` or ``fields`` of a metadata answer: objects, each with a plain api_name."""
    entries = answer.get(key, [])
    if not isinstance(entries, list):
        raise unexpected(f"{what} answered {key}", entries)
    for entry in entries:
        name = entry.get("api_name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or API_NAME.fullmatch(name) is None:
            raise unexpected(f"{what} lists an entry without a plain api_name", entry)
    return entries


def created_job_id(answer: dict[str, Any], module: str) -> str:
    """The id of a job just created, from ``data[0].details.id``."""
    try:
        value = answer["data"][0]["details"]["id"]
    except (KeyError, IndexError, TypeError):
        raise unexpected(f"job creation for {module} answered", answer) from None
    return zoho_id(value, f"the id of the job created for {module}")


def job_status(answer: dict[str, Any], job_id: str) -> tuple[str, dict[str, Any]]:
    """The state and details of a job from its status answer."""
    try:
        status = answer["data"][0]
        state = status["state"]
    except (KeyError, IndexError, TypeError):
        raise unexpected(f"the status of job {job_id} was", answer) from None
    if not isinstance(status, dict) or state not in STATES:
        raise unexpected(f"the status of job {job_id} has the state", state)
    return str(state), status


@dataclass(frozen=True)
class JobResult:
    """A completed job's ``result``: one page of an export."""

    page: int | None
    count: int
    more_records: bool
    download_url: str
    next_page_token: str | None


def job_result(status: dict[str, Any], job_id: str) -> JobResult:
    """The checked ``result`` of a COMPLETED job."""
    result = status.get("result")
    if not isinstance(result, dict):
        raise unexpected(f"job {job_id} is COMPLETED but its result is", result)
    url = result.get("download_url")
    if not isinstance(url, str) or not url or len(url) > 2048 or not url.isprintable():
        raise unexpected(f"job {job_id} is COMPLETED but its download_url is", url)
    count, page = result.get("count", 0), result.get("page")
    if not _bounded_int(count, 0, MAX_PAGE_RECORDS):
        raise unexpected(f"job {job_id}'s record count is", count)
    if page is not None and not _bounded_int(page, 1, MAX_PAGES):
        raise unexpected(f"job {job_id}'s page number is", page)
    more = result.get("more_records", False)
    if not isinstance(more, bool):
        raise unexpected(f"job {job_id}'s more_records is", more)
    token = result.get("next_page_token")
    if token is not None and (not isinstance(token, str) or not PAGE_TOKEN.fullmatch(token)):
        raise unexpected(f"job {job_id}'s next_page_token is", token)
    return JobResult(page, int(count), more, url, token)


def failure_of(status: dict[str, Any]) -> tuple[str, str]:
    """The error code and message of a FAILURE, ``("", "")`` when Zoho gave none."""
    result = status.get("result")
    error = result.get("error_message") if isinstance(result, dict) else None
    if not isinstance(error, dict):
        return "", ""
    code = error.get("code")
    message = error.get("message")
    return (
        str(code)[:80] if isinstance(code, str) else "",
        str(message)[:300] if isinstance(message, str) else "",
    )


def query_module(status: dict[str, Any]) -> str | None:
    """The module a job's status says it exports (v2 string or v3+ ``{"api_name"}``)."""
    query = status.get("query")
    module = query.get("module") if isinstance(query, dict) else None
    if isinstance(module, dict):
        module = module.get("api_name")
    return module if isinstance(module, str) else None


def _bounded_int(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def text_value(value: Any, what: str) -> str | None:
    """A text value of an answer (or None); anything else is an error naming ``what``."""
    if value is None or isinstance(value, str):
        return value
    raise unexpected(f"{what} is not text", value)


def named_id(value: Any, what: str) -> tuple[str | None, str | None]:
    """The id and name of a ``{"id", "name"}`` object of an answer; (None, None) if absent."""
    if not isinstance(value, dict):
        return None, None
    identifier = value.get("id")
    return (zoho_id(identifier, what) if identifier else None), text_value(value.get("name"), what)
