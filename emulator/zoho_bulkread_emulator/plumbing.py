"""What every route of the emulator shares: reading the request, answering JSON, auth checks."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from zoho_bulkread_emulator.jobs import version_number
from zoho_bulkread_emulator.state import (
    AccessToken,
    EmulatorState,
    HtmlAnswer,
    HttpError,
    zoho_error,
)

CRM_VERSIONS = range(2, 9)
BIGIN_VERSIONS = range(1, 3)


class HandlerBase(BaseHTTPRequestHandler):
    """Request plumbing for the route groups (OAuth and bulk read, REST, admin)."""

    state: EmulatorState
    params: dict[str, str]
    raw_body: bytes
    log_entry: dict[str, Any]

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self._send_bytes(status, "application/json;charset=UTF-8", payload, headers)

    def _send_bytes(
        self, status: int, content_type: str, payload: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.log_entry["status"] = status
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _json_body(self) -> Any:
        try:
            return json.loads(self.raw_body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise HttpError(
                400,
                zoho_error("REQUEST_BODY_NOT_SUPPORTED", "the request body is not valid JSON"),
            ) from exc

    def _inject_faults(self) -> None:
        faults = self.state.faults
        with self.state.lock:
            if faults.html_answers > 0:
                faults.html_answers -= 1
                raise HtmlAnswer()
            if faults.burst_429 > 0:
                faults.burst_429 -= 1
                raise HttpError(
                    429,
                    zoho_error("TOO_MANY_REQUESTS", "too many requests, try again later"),
                    retry_after=faults.retry_after_seconds,
                )
            if faults.error_rate and faults.rng.random() < faults.error_rate:
                raise HttpError(500, zoho_error("INTERNAL_ERROR", "Internal Server Error"))

    def _access_token(self) -> AccessToken:
        header = self.headers.get("Authorization", "")
        token = None
        if not header.strip():
            raise HttpError(401, zoho_error("AUTHENTICATION_FAILURE", "Authentication failed", {}))
        if header.startswith("Zoho-oauthtoken "):
            token = self.state.tokens.get(header.removeprefix("Zoho-oauthtoken ").strip())
        if token is None or token.expires < time.time():
            raise HttpError(401, zoho_error("INVALID_TOKEN", "invalid oauth token"))
        return token

    def _authorize(self, product: str, area: str, module: str | None = None) -> None:
        token = self._access_token()
        prefix = "zohocrm" if product == "crm" else "zohobigin"
        scopes = {scope.lower() for scope in token.scopes}
        if area == "settings":
            allowed = any(s.startswith(f"{prefix}.settings.") for s in scopes)
        elif area in ("users", "org", "coql"):
            allowed = bool({f"{prefix}.{area}.read", f"{prefix}.{area}.all"} & scopes)
        elif area == "records":
            allowed = bool(
                {
                    f"{prefix}.modules.all",
                    f"{prefix}.modules.read",
                    f"{prefix}.modules.{(module or '').lower()}.read",
                    f"{prefix}.modules.{(module or '').lower()}.all",
                }
                & scopes
            )
        else:
            allowed = bool({f"{prefix}.bulk.read", f"{prefix}.bulk.all"} & scopes) and bool(
                {
                    f"{prefix}.modules.all",
                    f"{prefix}.modules.{(module or '').lower()}.read",
                    f"{prefix}.modules.{(module or '').lower()}.all",
                }
                & scopes
            )
        if not allowed:
            raise HttpError(
                401,
                zoho_error(
                    "OAUTH_SCOPE_MISMATCH",
                    "invalid oauth scope to access this URL",
                    {"module": module} if module else {},
                ),
            )

    def _api(self, product: str, version: str) -> None:
        versions = CRM_VERSIONS if product == "crm" else BIGIN_VERSIONS
        if version_number(version) not in versions:
            raise HttpError(
                404, zoho_error("INVALID_URL_PATTERN", f"{product} has no API version {version}")
            )
