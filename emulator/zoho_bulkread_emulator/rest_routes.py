"""The emulator's REST companions of bulk read as HTTP routes: users, the org, deletions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from zoho_bulkread_emulator import coql
from zoho_bulkread_emulator.plumbing import HandlerBase
from zoho_bulkread_emulator.records import ModuleData
from zoho_bulkread_emulator.rest import (
    NotModified,
    RestError,
    deleted_answer,
    org_answer,
    records_answer,
    users_answer,
)
from zoho_bulkread_emulator.state import HttpError, zoho_error


class RestRoutes(HandlerBase):
    """``/users``, ``/org``, ``/{module}``, ``/{module}/deleted`` and ``/coql``."""

    # -- REST companions ----------------------------------------------------------------

    def users(self, product: str, version: str) -> None:
        """GET /crm/{v}/users?type=AllUsers|ActiveUsers|CurrentUser&page&per_page."""
        self._api(product, version)
        self._authorize(product, "users")
        try:
            self._json(200, users_answer(self.params, self.state.zone))
        except RestError as exc:
            raise HttpError(400, zoho_error(exc.code, str(exc), exc.details)) from None

    def deleted_records(self, product: str, version: str, module: str) -> None:
        """GET /{product}/{v}/{module}/deleted?type&page&per_page, If-Modified-Since."""
        with self._concurrent_call():
            self._deleted_records(product, version, module)

    def _deleted_records(self, product: str, version: str, module: str) -> None:
        self._api(product, version)
        data = self._known_module(product, module)
        self._authorize(product, "records", module)
        faults = self.state.faults
        if module in faults.no_deletion_list:
            raise HttpError(
                404, zoho_error("INVALID_URL_PATTERN", "Please check if the URL trying to access "
                                "is a correct one", {})
            )  # fmt: skip
        with self.state.lock:
            kind = f"{module}:{self.params.get('type', 'all')}"
            deletions = faults.delete_while_listing.pop(
                kind if kind in faults.delete_while_listing else module, {}
            )
        for other, seconds_ago in deletions.items():
            self.state.dataset.delete(product, other, count=1, seconds_ago=seconds_ago)
        try:
            answer = deleted_answer(
                data, self.params, self.headers.get("If-Modified-Since"), self.state.zone
            )
        except RestError as exc:
            raise HttpError(400, zoho_error(exc.code, str(exc), exc.details)) from None
        self._answer_or_no_content(answer)

    @contextmanager
    def _concurrent_call(self) -> Iterator[None]:
        """A records API or Query API call: within the concurrency limit, after its server time.

        A call counts as in progress while Zoho works on it (``rest_seconds``), not while its
        answer is written: a client that waits for each answer never has two at once. Deleted
        records lists count too: they are records API calls.
        """
        state = self.state
        limit = state.config.max_concurrent_calls
        with state.lock:
            if limit and state.calls_in_flight >= limit:
                raise HttpError(
                    429,
                    zoho_error(
                        "TOO_MANY_REQUESTS",
                        f"the concurrency limit of {limit} API calls at once is reached",
                    ),
                )
            state.calls_in_flight += 1
            state.peak_calls_in_flight = max(state.peak_calls_in_flight, state.calls_in_flight)
        try:
            time.sleep(state.config.rest_seconds)
        finally:
            with state.lock:
                state.calls_in_flight -= 1
        yield

    def records(self, product: str, version: str, module: str) -> None:
        """GET /{product}/{v}/{module}?fields&ids (or page, per_page): the records API."""
        with self._concurrent_call():
            self._records(product, version, module)

    def _records(self, product: str, version: str, module: str) -> None:
        self._api(product, version)
        data = self._known_module(product, module)
        self._authorize(product, "records", module)
        self.log_entry["query"] = dict(self.params)  # no secret: the token is in a header
        try:
            answer = records_answer(
                data, self.params, self.state.zone, self.headers.get("If-Modified-Since")
            )
        except RestError as exc:
            raise HttpError(400, zoho_error(exc.code, str(exc), exc.details)) from None
        except NotModified:
            self.log_entry["status"] = 304
            self.send_response(304)
            self.end_headers()
            return
        self._answer_or_no_content(answer)

    def coql(self, product: str, version: str) -> None:
        """POST /{product}/{v}/coql {"select_query": ...}: the Query API."""
        with self._concurrent_call():
            self._coql(product, version)

    def _coql(self, product: str, version: str) -> None:
        self._api(product, version)
        self._authorize(product, "coql")
        query = coql.parse(self.state.dataset, product, self._json_body())
        self._authorize(product, "records", query.data.module.api_name)
        answer = query.run(self.state.zone, self.state.config.coql_record_set)
        if answer is None:
            self._answer_or_no_content(None)
            return
        payload = coql.encode_answer(answer)
        self._send_bytes(200, "application/json;charset=UTF-8", payload)

    def _known_module(self, product: str, module: str) -> ModuleData:
        """The module's records; INVALID_MODULE for a module the REST API does not know."""
        data = self.state.dataset.get(product, module)
        if data is None or not data.module.api_supported:
            self._access_token()
            raise HttpError(
                400,
                zoho_error(
                    "INVALID_MODULE", "the module name given seems to be invalid",
                    {"module": module},
                ),
            )  # fmt: skip
        return data

    def _answer_or_no_content(self, answer: dict[str, Any] | None) -> None:
        """200 with the answer, or 204 with no body: how Zoho answers an empty list."""
        if answer is None:
            self.log_entry["status"] = 204
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._json(200, answer)

    def org(self, product: str, version: str) -> None:
        """GET /crm/{v}/org."""
        self._api(product, version)
        self._authorize(product, "org")
        self._json(200, org_answer(self.state.zone, self.state.config.edition))
