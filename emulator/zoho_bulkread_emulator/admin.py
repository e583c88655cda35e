"""The emulator's admin surface under ``/__emulator__/``: ground truth, log, mutations, faults."""

from __future__ import annotations

import json
import random
import secrets
import time
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from zoho_bulkread_emulator.criteria import QueryError, resolve_field
from zoho_bulkread_emulator.ics import calendar_events
from zoho_bulkread_emulator.org import Field
from zoho_bulkread_emulator.plumbing import HandlerBase
from zoho_bulkread_emulator.state import Faults, GrantCode, utc_text


class AdminRoutes(HandlerBase):
    """Health, records (ground truth), requests, mutate, delete, faults, reset."""

    # -- admin --------------------------------------------------------------------------

    def admin_health(self) -> None:
        """GET /__emulator__/health: also the most records API and Query API calls at once."""
        with self.state.lock:
            peak = self.state.peak_calls_in_flight
        self._json(200, {"status": "ok", "seed": self.state.config.seed, "peak_calls": peak})

    def admin_records(self, module: str) -> None:
        """GET /__emulator__/records/{module}?product=crm&fields=A,B.c: ground truth, JSON lines.

        Each line holds id, Created_Time and Modified_Time (UTC), and the ``fields`` asked for
        (dot fields too) as JSON values: datetimes in UTC, dates and decimals as strings.
        """
        product = self.params.get("product", "crm")
        data = self.state.dataset.get(product, module)
        if data is None:
            self._json(404, {"error": f"no module {module} in {product}"})
            return
        try:
            extra = [
                (name, *resolve_field(data, name))
                for name in self.params.get("fields", "").split(",")
                if name
            ]
        except QueryError as exc:
            self._json(400, {"error": str(exc)})
            return

        def line(index: int) -> str:
            record = {
                "id": data.id_of(index),
                "Created_Time": utc_text(data.created_time(index)),
                "Modified_Time": utc_text(data.modified_time(index)),
            }
            for name, item, read in extra:
                record[name] = truth_value(item, read(index))
            return json.dumps(record)

        self._stream_lines(line(index) for index in data.live_indices())

    def admin_ics_events(self) -> None:
        """GET /__emulator__/ics_events?product=crm: the VEVENTs of Events as clients read them."""
        product = self.params.get("product", "crm")
        data = self.state.dataset.get(product, "Events")
        if data is None:
            self._json(404, {"error": f"no Events module in {product}"})
            return
        zone = self.state.zone
        events = calendar_events(data, data.live_indices(), zone)
        self._stream_lines(json.dumps(event.truth()) for event in events)

    def _stream_lines(self, lines: Iterable[str]) -> None:
        """Answer 200 with newline-delimited JSON, written in chunks as it is made."""
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        buffer: list[str] = []
        for text in lines:
            buffer.append(text)
            if len(buffer) >= 5000:
                self.wfile.write(("\n".join(buffer) + "\n").encode())
                buffer.clear()
        if buffer:
            self.wfile.write(("\n".join(buffer) + "\n").encode())

    def admin_requests(self) -> None:
        """GET /__emulator__/requests: the API calls received so far (in flight too)."""
        with self.state.lock:
            entries = [dict(entry) for entry in self.state.request_log]  # copies: still filled
        self._json(200, entries)

    def _module_change(self) -> tuple[dict[str, Any], str, str] | None:
        """The body, product and module of a mutate or delete; None (answered 400) if unknown."""
        body = self._json_body() or {}
        product, module = body.get("product", "crm"), body.get("module", "")
        if self.state.dataset.get(product, module) is None:
            self._json(400, {"error": "unknown product or module"})
            return None
        return body, product, module

    def admin_mutate(self) -> None:
        """POST /__emulator__/mutate {"module", "product", "create", "update", "seconds_ago"}."""
        change = self._module_change()
        if change is not None:
            body, product, module = change
            create, update = int(body.get("create", 0)), int(body.get("update", 0))
            ago = float(body.get("seconds_ago", 0))
            self._json(
                200,
                self.state.dataset.mutate(
                    product, module, create=create, update=update, seconds_ago=ago
                ),
            )

    def admin_delete(self) -> None:
        """POST /__emulator__/delete {"module", "product", "count", "purge", "seconds_ago"}."""
        change = self._module_change()
        if change is not None:
            body, product, module = change
            count, purge = int(body.get("count", 0)), bool(body.get("purge", False))
            deleted = self.state.dataset.delete(
                product, module, count=count, purge=purge,
                seconds_ago=float(body.get("seconds_ago", 0)),
            )  # fmt: skip
            self._json(200, {"deleted": deleted})

    def admin_restore(self) -> None:
        """POST /__emulator__/restore {"module", "product", "count" or "ids"}: out of the bin."""
        change = self._module_change()
        if change is not None:
            body, product, module = change
            ids = body.get("ids")
            restored = self.state.dataset.restore(
                product, module, count=int(body.get("count", 0)),
                ids=[str(i) for i in ids] if isinstance(ids, list) else None,
            )  # fmt: skip
            self._json(200, {"restored": restored})

    def admin_convert(self) -> None:
        """POST /__emulator__/convert {"module": "Leads", "ids": [...] or "count"}: Convert Lead.

        Each lead gets a new Contact and Account and is modified now; answers
        ``{"converted": [{"id", "contact", "account"}]}``.
        """
        change = self._module_change()
        if change is not None:
            body, product, module = change
            ids = body.get("ids")
            try:
                made = self.state.dataset.convert(
                    product, module, count=int(body.get("count", 0)),
                    ids=[str(i) for i in ids] if isinstance(ids, list) else None,
                )  # fmt: skip
            except ValueError as exc:
                self._json(400, {"error": str(exc)})
                return
            self._json(200, {"converted": made})

    def admin_set(self) -> None:
        """POST /__emulator__/set {"module", "id", "values": {field: value}}: edit one record.

        Values as the ground truth writes them (decimals and datetimes as text); the record is
        modified now. ``Record_Approval_Status`` ("Approved", "Pending") holds it for approval.
        """
        change = self._module_change()
        if change is not None:
            body, product, module = change
            values = body.get("values")
            try:
                if not isinstance(values, dict):
                    raise ValueError("values must be an object")
                self.state.dataset.set_values(product, module, str(body.get("id")), values)
            except ValueError as exc:
                self._json(400, {"error": str(exc)})
                return
            self._json(200, {"set": sorted(values)})

    def admin_grant_code(self) -> None:
        """POST /__emulator__/grant_code {"scopes": [...], "seconds": 180}: a Self Client code."""
        body = self._json_body() or {}
        scopes = tuple(body.get("scopes") or self.state.config.scopes)
        seconds = float(body.get("seconds", 180))
        code = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        with self.state.lock:
            self.state.grant_codes[code] = GrantCode(time.time() + seconds, scopes)
        self._json(200, {"code": code, "expires_in": seconds})

    def admin_faults(self) -> None:
        """POST /__emulator__/faults: replace the injected faults."""
        body = self._json_body() or {}
        known = set(Faults().public())
        unknown = set(body) - known
        if unknown:
            self._json(400, {"error": f"unknown fault settings: {sorted(unknown)}"})
            return
        faults = Faults(**body)
        faults.rng = random.Random(faults.seed)
        with self.state.lock:
            self.state.faults = faults
            if faults.revoke_tokens:  # a one-shot action: every issued token stops working
                self.state.tokens.clear()
                faults.revoke_tokens = False
        self._json(200, faults.public())

    def admin_reset(self) -> None:
        """POST /__emulator__/reset."""
        self.state.reset()
        self._json(200, {"status": "reset"})


def truth_value(item: Field, value: Any) -> Any:
    """A field value as JSON: datetimes in UTC text, dates ISO, decimals as exact strings."""
    if value is None:
        return None
    if item.value_type == "datetime":
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
