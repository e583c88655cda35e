"""Whether a module changed after a moment, asked of Zoho's records API in one cheap call.

``GET /{module}?fields=<key>&sort_by=<key>&sort_order=desc&per_page=1`` with
``If-Modified-Since`` answers 304 (or 204) when no record was modified after that moment, and
otherwise the record with the newest ``key`` (``Modified_Time`` or ``Created_Time``) among those
modified since. That value is compared with the moment as well, so the answer is right whether
Zoho counts the moment itself as "since" or not. A record created after the moment was modified
after it too, so it is among them: the same call tells whether anything was created after it.

Every records API call asks for the record set a bulk read exports: ``converted=both`` and
``approved=both``. Zoho's defaults (``converted`` false, ``approved`` true) leave converted
leads and records awaiting approval out, and a lead converted after the bookmark would never be
seen (docs/record-sets.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from tap_zoho_bulkread.errors import TAP_REFUSALS, ZohoAPIError
from tap_zoho_bulkread.times import parse_datetime, zoho_datetime
from tap_zoho_bulkread.zoho.answers import unexpected, zoho_id
from tap_zoho_bulkread.zoho.client import ZohoClient
from tap_zoho_bulkread.zoho.data_centers import ApiPaths
from tap_zoho_bulkread.zoho.once import OncePerKey

MAX_PROBE_BYTES = 64 * 1024  # one record with one field
MAX_LIST_BYTES = 1024 * 1024  # 200 records with two fields
PER_PAGE = 200  # Zoho's largest records API page
MAX_PAGES = 10  # ``page`` reaches 2,000 records; past that a page_token is needed
# The record set a bulk read exports: Get Records' defaults are converted=false, approved=true.
EVERY_RECORD_SET = {"converted": "both", "approved": "both"}


@dataclass(frozen=True)
class Change:
    """What Zoho said about a module after a moment: ``changed`` None when it could not say."""

    changed: bool | None
    newest: datetime | None = None  # the newest value of the key Zoho answered
    refusal: str = ""  # Zoho's code when the records API refused the question


class ChangeProbe:
    """Asks, once per module and moment in a run, whether any record changed after it."""

    def __init__(self, client: ZohoClient, api: ApiPaths) -> None:
        """``api`` names the records path of each module (``/crm/v8/Leads``)."""
        self.client = client
        self.api = api
        self._answers: OncePerKey[Change] = OncePerKey()

    def after(self, module: str, moment: datetime, key: str = "Modified_Time") -> Change:
        """Whether a record of ``module`` has its ``key`` after ``moment`` (asked once a run).

        ``key`` is ``Modified_Time`` (anything changed) or ``Created_Time`` (anything new).
        """
        return self._answers.get((module, moment, key), partial(self._ask, module, moment, key))

    def _since(
        self, path: str, params: dict[str, str], moment: datetime, one: str
    ) -> tuple[list[Any], str]:
        """The ``data`` of ``path`` since ``moment`` (none on 304/204), or Zoho's refusal code.

        ``one`` says what the one entry asked for is, in the line refusing a longer answer.
        """
        headers = {"If-Modified-Since": zoho_datetime(moment)}
        try:
            answer = self.client.get_json(path, params, headers, max_bytes=MAX_PROBE_BYTES)
        except ZohoAPIError as exc:
            if exc.code in TAP_REFUSALS:
                raise  # not Zoho's answer: the run ends, as any other request would end it
            return [], exc.code
        entries = answer.get("data", [])
        if not isinstance(entries, list) or len(entries) > 1:
            raise unexpected(f"{one}, not", entries)
        return entries, ""

    def _ask(self, module: str, moment: datetime, key: str) -> Change:
        params = {
            "fields": key, "sort_by": key, "sort_order": "desc", "per_page": "1",
            **EVERY_RECORD_SET,
        }  # fmt: skip
        what = f"the record of {module} with the newest {key}"
        entries, refusal = self._since(
            self.api.records(module), params, moment, f"{what} is one record"
        )
        if refusal:
            return Change(None, refusal=refusal)
        if not entries:
            return Change(False)  # 304 or 204: nothing modified after the moment
        entry = entries[0]
        newest = self._value(entry if isinstance(entry, dict) else {}, key, what)
        return Change(newest > moment, newest)

    def deleted_after(self, module: str, moment: datetime) -> bool | None:
        """Whether Zoho lists a deletion of ``module`` at or after ``moment``; None if unknown."""
        params = {"type": "all", "page": "1", "per_page": "1"}
        entries, refusal = self._since(
            f"{self.api.records(module)}/deleted",
            params,
            moment,
            f"the newest deletion of {module} is one entry",
        )
        return None if refusal else bool(entries)

    def one_record(self, module: str) -> str | None:
        """The id of one record of ``module`` (``per_page=1``), None if there is none.

        What ``--test`` asks of each module: one small request, no bulk read job.
        """
        params = {"fields": "id", "per_page": "1", **EVERY_RECORD_SET}
        answer = self.client.get_json(self.api.records(module), params, max_bytes=MAX_PROBE_BYTES)
        entries = answer.get("data", [])
        if not isinstance(entries, list) or len(entries) > 1:
            raise unexpected(f"one record of {module} is one record, not", entries)
        if not entries or not isinstance(entries[0], dict):
            return None
        return zoho_id(entries[0].get("id"), f"a record id of {module}")

    def ids_since(
        self, module: str, moment: datetime | None, key: str, most: int
    ) -> set[str] | None:
        """The ids of the records whose ``key`` is at or after ``moment`` (all without one).

        Listed by the records API, whose inclusion rule is documented (converted and unapproved
        records with ``converted=both``, ``approved=both``), newest ``key`` first, 200 a page,
        asked with ``If-Modified-Since`` a second before ``moment`` so that a record modified in
        its own second is listed whichever way Zoho reads "since". None when Zoho refuses, or
        when more than ``most`` (at most 2,000) records are listed.
        """
        params = {"fields": key, "sort_by": key, "sort_order": "desc",
                  "per_page": str(PER_PAGE), **EVERY_RECORD_SET}  # fmt: skip
        headers = {} if moment is None else {
            "If-Modified-Since": zoho_datetime(moment - timedelta(seconds=1))
        }  # fmt: skip
        found: set[str] = set()
        what = f"the records of {module} listed by the records API"
        for page in range(1, MAX_PAGES + 1):
            try:
                answer = self.client.get_json(
                    self.api.records(module), {**params, "page": str(page)}, headers,
                    max_bytes=MAX_LIST_BYTES,
                )  # fmt: skip
            except ZohoAPIError as exc:
                if exc.code in TAP_REFUSALS:
                    raise
                return None
            entries, info = answer.get("data", []), answer.get("info", {})
            if not isinstance(entries, list) or len(entries) > PER_PAGE:
                raise unexpected(f"{what} are", entries)
            older = False
            for entry in entries:
                if not isinstance(entry, dict):
                    raise unexpected(f"{what} hold an entry that is not an object", entry)
                record_id = zoho_id(entry.get("id"), f"a record id of {module}")
                one = f"a record of {module} listed by the records API"
                if moment is not None and self._value(entry, key, one) < moment:
                    older = True
                else:
                    found.add(record_id)
            if len(found) > most:
                return None
            more = info.get("more_records") if isinstance(info, dict) else None
            if older or not entries or more is not True:
                return found
        return None

    @staticmethod
    def _value(entry: dict[str, Any], key: str, what: str) -> datetime:
        """The datetime ``entry`` holds under ``key``; ``what`` names the entry if it holds none."""
        try:
            return parse_datetime(str(entry.get(key)))
        except ValueError:
            raise unexpected(f"{what} has a {key} that is", entry.get(key)) from None
