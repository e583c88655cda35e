"""The emulator's REST companions of bulk read as HTTP routes: users, the org, deletions."""

from __future__ import annotations

from tap_zoho_bulkread.emulator.plumbing import HandlerBase
from tap_zoho_bulkread.emulator.rest import RestError, deleted_answer, org_answer, users_answer
from tap_zoho_bulkread.emulator.state import HttpError, zoho_error


class RestRoutes(HandlerBase):
    """``/users``, ``/org`` and ``/{module}/deleted``."""

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
        self._api(product, version)
        data = self.state.dataset.get(product, module)
        if data is None or not data.module.api_supported:
            self._access_token()
            raise HttpError(
                400,
                zoho_error(
                    "INVALID_MODULE",
                    "the module name given seems to be invalid",
                    {"module": module},
                ),
            )
        self._authorize(product, "records", module)
        faults = self.state.faults
        if module in faults.no_deletion_list:
            raise HttpError(
                404, zoho_error("INVALID_URL_PATTERN", "Please check if the URL trying to access "
                                "is a correct one", {})
            )  # fmt: skip
        with self.state.lock:
            deletions = faults.delete_while_listing.pop(module, {})
        for other, seconds_ago in deletions.items():
            self.state.dataset.delete(product, other, count=1, seconds_ago=seconds_ago)
        try:
            answer = deleted_answer(
                data, self.params, self.headers.get("If-Modified-Since"), self.state.zone
            )
        except RestError as exc:
            raise HttpError(400, zoho_error(exc.code, str(exc), exc.details)) from None
        if answer is None:  # Zoho answers an empty list with 204 and no body
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
        self._json(200, org_answer(self.state.zone))
