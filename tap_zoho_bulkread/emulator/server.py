"""The emulator's HTTP server: Zoho's OAuth, metadata and bulk read paths, plus an admin surface.

Serves on loopback only and never opens a connection of its own: callback URLs in job
requests are recorded in the request log, not called.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
import secrets
import shutil
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from tap_zoho_bulkread.emulator.criteria import QueryError
from tap_zoho_bulkread.emulator.jobs import (
    Job,
    JobBook,
    JobSettings,
    compile_query,
    make_work_dir,
    new_job_id,
    requested_module,
    resolve_offset,
    run_job,
    version_number,
)
from tap_zoho_bulkread.emulator.org import Org, build_org
from tap_zoho_bulkread.emulator.records import Dataset
from tap_zoho_bulkread.emulator.rest import RestError, deleted_answer, org_answer, users_answer

DEFAULT_SCOPES = (
    "ZohoCRM.bulk.read",
    "ZohoCRM.modules.ALL",
    "ZohoCRM.settings.ALL",
    "ZohoCRM.users.READ",
    "ZohoCRM.org.READ",
    "ZohoBigin.bulk.READ",
    "ZohoBigin.modules.ALL",
    "ZohoBigin.settings.ALL",
    "ZohoBigin.users.READ",
)
CRM_VERSIONS = range(2, 9)
BIGIN_VERSIONS = range(1, 3)
REFRESH_WINDOW_SECONDS = 600
DOWNLOAD_CHUNK = 64 * 1024
ADMIN = "/__emulator__"

ROUTES = [
    ("POST", re.compile(r"^/oauth/v2/token$"), "token"),
    ("GET", re.compile(r"^/(crm|bigin)/(v\d+)/settings/modules$"), "modules"),
    ("GET", re.compile(r"^/(crm|bigin)/(v\d+)/settings/fields$"), "fields"),
    ("GET", re.compile(r"^/(crm|bigin)/(v\d+)/users$"), "users"),
    ("GET", re.compile(r"^/(crm)/(v\d+)/org$"), "org"),
    ("GET", re.compile(r"^/(crm|bigin)/(v\d+)/(\w+)/deleted$"), "deleted_records"),
    ("POST", re.compile(r"^/(crm|bigin)/bulk/(v\d+)/read$"), "create_job"),
    ("GET", re.compile(r"^/(crm|bigin)/bulk/(v\d+)/read/(\d+)$"), "job_status"),
    ("GET", re.compile(r"^/(crm|bigin)/bulk/(v\d+)/read/(\d+)/result$"), "download"),
    ("GET", re.compile(rf"^{ADMIN}/health$"), "admin_health"),
    ("GET", re.compile(rf"^{ADMIN}/records/(\w+)$"), "admin_records"),
    ("GET", re.compile(rf"^{ADMIN}/requests$"), "admin_requests"),
    ("POST", re.compile(rf"^{ADMIN}/mutate$"), "admin_mutate"),
    ("POST", re.compile(rf"^{ADMIN}/delete$"), "admin_delete"),
    ("POST", re.compile(rf"^{ADMIN}/faults$"), "admin_faults"),
    ("POST", re.compile(rf"^{ADMIN}/reset$"), "admin_reset"),
]


@dataclass
class EmulatorConfig:
    """Everything the emulator can be told on its command line."""

    host: str = "127.0.0.1"
    port: int = 8765
    seed: int = 42
    records: dict[tuple[str, str], int] = field(default_factory=dict)
    client_id: str = "emulator-client-id"
    client_secret: str = "emulator-client-secret"  # noqa: S105 (the emulator's own dummy)
    refresh_token: str = "emulator-refresh-token"  # noqa: S105
    per_page: int = 200_000
    job_seconds: float = 2.0
    max_concurrent_jobs: int = 5
    timezone: str = "America/Los_Angeles"
    token_seconds: int = 3600
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    result_ttl_seconds: float = 86_400
    download_limit: int = 10
    download_window_seconds: float = 60
    max_token_refreshes: int = 10
    gone_result_status: int = 400  # Zoho's v8 spec; 404 as seen from older versions


@dataclass
class Faults:
    """Failures injected on demand, drawn from a seeded generator so runs can be replayed."""

    seed: int = 0
    error_rate: float = 0.0
    burst_429: int = 0
    drop_downloads: int = 0
    fail_next_job: dict[str, str] = field(default_factory=dict)
    slow_job_seconds: float = 0.0
    download_delay_seconds: float = 0.0
    token_seconds: float | None = None
    revoke_tokens: bool = False
    retry_after_seconds: float | None = None
    html_answers: int = 0
    corrupt_downloads: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def public(self) -> dict[str, Any]:
        """The faults as JSON."""
        data = asdict(self)
        data.pop("rng")
        return data


class DownloadLimiter:
    """Zoho's 10 downloads a minute: the 11th gets 429, blocked for the rest of the window."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self.start: float | None = None
        self.count = 0
        self.lock = threading.Lock()

    def allow(self) -> bool:
        """Count one download; False when it is over the limit."""
        now = time.monotonic()
        with self.lock:
            if self.start is None or now - self.start >= self.window:
                self.start, self.count = now, 0
            self.count += 1
            return self.count <= self.limit


@dataclass
class AccessToken:
    """An issued access token."""

    expires: float
    scopes: tuple[str, ...]


class EmulatorState:
    """All mutable state of one emulator, shared by the request handler threads."""

    def __init__(self, config: EmulatorConfig, org: Org | None = None) -> None:
        self.config = config
        self.org = org or build_org()
        self.zone = ZoneInfo(config.timezone)
        self.base_url = ""
        self.lock = threading.Lock()
        self.work_dir = make_work_dir()
        self._reset()

    def _reset(self) -> None:
        config = self.config
        self.dataset = Dataset(self.org, config.seed, config.records)
        self.tokens: dict[str, AccessToken] = {}
        self.refreshes: dict[str, deque[float]] = {}
        self.faults = Faults(rng=random.Random(config.seed))
        self.request_log: list[dict[str, Any]] = []
        self.limiters = {
            product: DownloadLimiter(config.download_limit, config.download_window_seconds)
            for product in ("crm", "bigin")
        }
        settings = JobSettings(
            per_page=config.per_page,
            job_seconds=config.job_seconds,
            max_concurrent_jobs=config.max_concurrent_jobs,
            zone=self.zone,
            work_dir=self.work_dir,
        )
        self.book = JobBook(settings)

    def reset(self) -> None:
        """Forget jobs, tokens, mutations, faults and the request log."""
        with self.lock:
            for path in self.work_dir.glob("*.zip"):
                path.unlink(missing_ok=True)
            self._reset()

    def close(self) -> None:
        """Remove result files."""
        shutil.rmtree(self.work_dir, ignore_errors=True)


def _zoho_error(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details or {}, "status": "error"}


class HttpError(Exception):
    """An API error answer: HTTP status and Zoho's error body."""

    def __init__(self, status: int, body: dict[str, Any], retry_after: float | None = None) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body
        self.retry_after = retry_after


class HtmlAnswer(Exception):
    """Answer like a proxy in front of Zoho having a bad day: HTTP 200 with an HTML page."""


class Handler(BaseHTTPRequestHandler):
    """Routes one request; see ROUTES."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes; no 40 ms delayed ACKs
    server_version = "ZohoBulkReadEmulator/1.0"
    state: EmulatorState

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the console quiet; the request log is at /__emulator__/requests."""

    def do_GET(self) -> None:
        """Dispatch a GET."""
        self._dispatch("GET")

    def do_POST(self) -> None:
        """Dispatch a POST."""
        self._dispatch("POST")

    # -- plumbing -----------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self.url_path = url.path
        self.params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.raw_body = self._read_body()
        self.log_entry: dict[str, Any] = {
            "time": time.time(),
            "method": method,
            "path": url.path,
            "params": sorted(self.params),
        }
        is_admin = url.path.startswith(ADMIN)
        for route_method, pattern, name in ROUTES:
            match = pattern.match(url.path)
            if match and route_method == method:
                try:
                    if not is_admin:
                        self._inject_faults()
                    getattr(self, name)(*match.groups())
                except HttpError as exc:
                    headers = (
                        {} if exc.retry_after is None else {"Retry-After": f"{exc.retry_after:g}"}
                    )
                    self._json(exc.status, exc.body, headers)
                except QueryError as exc:
                    self._json(exc.status, exc.envelope)
                except HtmlAnswer:
                    page = b"<html><body><h1>Service temporarily unavailable</h1></body></html>"
                    self._send_bytes(200, "text/html", page)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                break
        else:
            self._json(
                404,
                _zoho_error(
                    "INVALID_URL_PATTERN",
                    "Please check if the URL trying to access is a correct one",
                ),
            )
        if not is_admin:
            with self.state.lock:
                self.state.request_log.append(self.log_entry)

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
                _zoho_error("REQUEST_BODY_NOT_SUPPORTED", "the request body is not valid JSON"),
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
                    _zoho_error("TOO_MANY_REQUESTS", "too many requests, try again later"),
                    retry_after=faults.retry_after_seconds,
                )
            if faults.error_rate and faults.rng.random() < faults.error_rate:
                raise HttpError(500, _zoho_error("INTERNAL_ERROR", "Internal Server Error"))

    def _access_token(self) -> AccessToken:
        header = self.headers.get("Authorization", "")
        token = None
        if not header.strip():
            raise HttpError(401, _zoho_error("AUTHENTICATION_FAILURE", "Authentication failed", {}))
        if header.startswith("Zoho-oauthtoken "):
            token = self.state.tokens.get(header.removeprefix("Zoho-oauthtoken ").strip())
        if token is None or token.expires < time.time():
            raise HttpError(401, _zoho_error("INVALID_TOKEN", "invalid oauth token"))
        return token

    def _authorize(self, product: str, area: str, module: str | None = None) -> None:
        token = self._access_token()
        prefix = "zohocrm" if product == "crm" else "zohobigin"
        scopes = {scope.lower() for scope in token.scopes}
        if area == "settings":
            allowed = any(s.startswith(f"{prefix}.settings.") for s in scopes)
        elif area in ("users", "org"):
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
                _zoho_error(
                    "OAUTH_SCOPE_MISMATCH",
                    "invalid oauth scope to access this URL",
                    {"module": module} if module else {},
                ),
            )

    def _api(self, product: str, version: str) -> None:
        versions = CRM_VERSIONS if product == "crm" else BIGIN_VERSIONS
        if version_number(version) not in versions:
            raise HttpError(
                404, _zoho_error("INVALID_URL_PATTERN", f"{product} has no API version {version}")
            )

    # -- OAuth ------------------------------------------------------------------------

    def token(self) -> None:
        """POST /oauth/v2/token with the refresh-token grant."""
        params = dict(self.params)
        if self.raw_body:
            form = parse_qs(self.raw_body.decode("utf-8", "replace"))
            params.update({k: v[-1] for k, v in form.items()})
        config, state = self.state.config, self.state
        if params.get("grant_type") != "refresh_token":
            self._json(200, {"error": "unsupported_grant_type"})
            return
        if (
            params.get("client_id") != config.client_id
            or params.get("client_secret") != config.client_secret
            or params.get("refresh_token") != config.refresh_token
        ):
            self._json(200, {"error": "invalid_code"})
            return
        now = time.time()
        with state.lock:
            recent = state.refreshes.setdefault(config.refresh_token, deque())
            while recent and now - recent[0] > REFRESH_WINDOW_SECONDS:
                recent.popleft()
            if len(recent) >= config.max_token_refreshes:
                self._json(
                    400,
                    {
                        "error_description": "You have made too many requests continuously. "
                        "Please try again after some time.",
                        "error": "Access Denied",
                        "status": "failure",
                    },
                )
                return
            recent.append(now)
            lifetime = state.faults.token_seconds or config.token_seconds
            access = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
            state.tokens[access] = AccessToken(now + lifetime, config.scopes)
        self._json(
            200,
            {
                "access_token": access,
                "scope": " ".join(config.scopes),
                "api_domain": state.base_url,
                "token_type": "Bearer",
                "expires_in": max(int(lifetime), 1),
            },
        )

    # -- metadata -----------------------------------------------------------------------

    def modules(self, product: str, version: str) -> None:
        """GET settings/modules."""
        self._api(product, version)
        self._authorize(product, "settings")
        org = self.state.org
        modules = org.modules[product].values()
        self._json(
            200,
            {
                "modules": [
                    m.metadata(
                        org.module_id(product, m.api_name),
                        sequence,
                        org.parent_of(product, m.api_name),
                    )
                    for sequence, m in enumerate(modules, start=1)
                ]
            },
        )

    def fields(self, product: str, version: str) -> None:
        """GET settings/fields?module=."""
        self._api(product, version)
        self._authorize(product, "settings")
        name = self.params.get("module")
        if not name:
            raise HttpError(
                400,
                _zoho_error(
                    "REQUIRED_PARAM_MISSING", "the module parameter is missing", {"param": "module"}
                ),
            )
        org = self.state.org
        module = org.module(product, name)
        if module is None:
            raise HttpError(
                400,
                _zoho_error(
                    "INVALID_MODULE", "the module name given seems to be invalid", {"module": name}
                ),
            )
        self._json(
            200,
            {
                "fields": [
                    f.metadata(org.field_id(product, name, n), org, product)
                    for n, f in enumerate(module.fields)
                ]
            },
        )

    # -- REST companions ----------------------------------------------------------------

    def users(self, product: str, version: str) -> None:
        """GET /crm/{v}/users?type=AllUsers|ActiveUsers|CurrentUser&page&per_page."""
        self._api(product, version)
        self._authorize(product, "users")
        try:
            self._json(200, users_answer(self.params, self.state.zone))
        except RestError as exc:
            raise HttpError(400, _zoho_error(exc.code, str(exc), exc.details)) from None

    def deleted_records(self, product: str, version: str, module: str) -> None:
        """GET /{product}/{v}/{module}/deleted?type&page&per_page, If-Modified-Since."""
        self._api(product, version)
        data = self.state.dataset.get(product, module)
        if data is None or not data.module.api_supported:
            self._access_token()
            raise HttpError(
                400,
                _zoho_error(
                    "INVALID_MODULE",
                    "the module name given seems to be invalid",
                    {"module": module},
                ),
            )
        self._authorize(product, "records", module)
        try:
            answer = deleted_answer(
                data, self.params, self.headers.get("If-Modified-Since"), self.state.zone
            )
        except RestError as exc:
            raise HttpError(400, _zoho_error(exc.code, str(exc), exc.details)) from None
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

    # -- bulk read ----------------------------------------------------------------------

    def create_job(self, product: str, version: str) -> None:
        """POST .../bulk/{v}/read."""
        self._api(product, version)
        self._access_token()
        content_type = self.headers.get("Content-Type", "")
        if not content_type.lower().startswith("application/json"):
            raise HttpError(
                415, _zoho_error("MEDIA_TYPE_NOT_SUPPORTED", "Media type is not supported")
            )
        body = self._json_body()
        self.log_entry["body"] = body
        if isinstance(body, dict) and isinstance(body.get("callback"), dict):
            self.log_entry["callback"] = {
                "url": body["callback"].get("url"),
                "called": False,
            }
        module = requested_module(body, product, version)
        self.log_entry["module"] = module
        self._authorize(product, "bulk", module)
        state = self.state
        query, file_type = compile_query(body, product, version, state.org, state.dataset)
        offset, page = resolve_offset(state.book, query)
        with state.lock:
            fail_code = state.faults.fail_next_job.pop(module, None)
            extra = state.faults.slow_job_seconds
        job = Job(
            id=new_job_id(state.book),
            product=product,
            version=version,
            module=module,
            body=body,
            query=query,
            file_type=file_type,
            offset=offset,
            page=page,
            created=time.time(),
            fail_code=fail_code,
            extra_seconds=extra,
            module_id=self.state.org.module_id(product, module),
        )
        state.book.jobs[job.id] = job
        self.log_entry["job_id"] = job.id
        threading.Thread(target=run_job, args=(state.book, job), daemon=True).start()
        details = {key: value for key, value in job.status(state.zone).items() if key != "query"}
        self._json(
            201,
            {
                "data": [
                    {
                        "status": "success",
                        "code": "ADDED_SUCCESSFULLY",
                        "message": "Added successfully.",
                        "details": details,
                    }
                ],
                "info": {},
            },
        )

    def _job(self, product: str, version: str, job_id: str) -> Job:
        self._api(product, version)
        job = self.state.book.jobs.get(job_id)
        if job is None or job.product != product:
            self._access_token()
            raise HttpError(
                404,
                _zoho_error(
                    "RESOURCE_NOT_FOUND",
                    "The requested resource doesn't exist.",
                    {"resource": "bulk read job"},
                ),
            )
        self._authorize(product, "bulk", job.module)
        return job

    def job_status(self, product: str, version: str, job_id: str) -> None:
        """GET .../bulk/{v}/read/{job_id}."""
        job = self._job(product, version, job_id)
        self._json(200, {"data": [job.status(self.state.zone)]})

    def download(self, product: str, version: str, job_id: str) -> None:
        """GET .../bulk/{v}/read/{job_id}/result: the zip, at most 10 a minute."""
        job = self._job(product, version, job_id)
        state = self.state
        if not state.limiters[product].allow():
            raise HttpError(
                429,
                _zoho_error(
                    "TOO_MANY_REQUESTS", "download limit of 10 per minute reached, try again later"
                ),
            )
        if job.state != "COMPLETED" or job.path is None or job.completed is None:
            raise HttpError(
                400,
                _zoho_error("INVALID_REQUEST", f"the job is {job.state}, its result is not ready"),
            )
        if time.time() - job.completed > state.config.result_ttl_seconds or not job.path.exists():
            raise HttpError(
                state.config.gone_result_status,
                _zoho_error(
                    "RESOURCE_NOT_FOUND",
                    "the result has expired; create the job again",
                    {"resource": "bulk read result"},
                ),
            )
        with state.lock:
            drop = state.faults.drop_downloads > 0
            if drop:
                state.faults.drop_downloads -= 1
            corrupt = state.faults.corrupt_downloads > 0
            if corrupt:
                state.faults.corrupt_downloads -= 1
            delay = state.faults.download_delay_seconds
        if corrupt:
            self._send_bytes(200, "application/zip", bytes(range(256)) * 64)
            return
        self._send_file(job.path, f"{job.id}.zip", drop=drop, delay=delay)

    def _send_file(self, path: Path, name: str, *, drop: bool, delay: float) -> None:
        size = path.stat().st_size
        self.log_entry["status"] = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Disposition", f'attachment; filename="{name}"')
        self.send_header("Content-Length", str(size))
        self.end_headers()
        limit = size // 2 if drop else size
        sent = 0
        with path.open("rb") as source:
            while sent < limit:
                chunk = source.read(min(DOWNLOAD_CHUNK, limit - sent))
                if not chunk:
                    break
                if delay:
                    time.sleep(delay * len(chunk) / max(size, 1))
                self.wfile.write(chunk)
                sent += len(chunk)
        if drop:
            self.log_entry["dropped"] = True
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)

    # -- admin --------------------------------------------------------------------------

    def admin_health(self) -> None:
        """GET /__emulator__/health."""
        self._json(200, {"status": "ok", "seed": self.state.config.seed})

    def admin_records(self, module: str) -> None:
        """GET /__emulator__/records/{module}?product=crm: ground truth as JSON lines."""
        product = self.params.get("product", "crm")
        data = self.state.dataset.get(product, module)
        if data is None:
            self._json(404, {"error": f"no module {module} in {product}"})
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        buffer: list[str] = []
        for index in data.live_indices():
            buffer.append(
                json.dumps(
                    {
                        "id": data.id_of(index),
                        "Created_Time": utc_text(data.created_time(index)),
                        "Modified_Time": utc_text(data.modified_time(index)),
                    }
                )
            )
            if len(buffer) >= 5000:
                self.wfile.write(("\n".join(buffer) + "\n").encode())
                buffer.clear()
        if buffer:
            self.wfile.write(("\n".join(buffer) + "\n").encode())

    def admin_requests(self) -> None:
        """GET /__emulator__/requests: the API calls received so far."""
        with self.state.lock:
            entries = list(self.state.request_log)
        self._json(200, entries)

    def admin_mutate(self) -> None:
        """POST /__emulator__/mutate {"module", "product", "create", "update"}."""
        body = self._json_body() or {}
        product = body.get("product", "crm")
        if self.state.dataset.get(product, body.get("module", "")) is None:
            self._json(400, {"error": "unknown product or module"})
            return
        changed = self.state.dataset.mutate(
            product,
            body["module"],
            create=int(body.get("create", 0)),
            update=int(body.get("update", 0)),
        )
        self._json(200, changed)

    def admin_delete(self) -> None:
        """POST /__emulator__/delete {"module", "product", "count", "purge"}: delete records."""
        body = self._json_body() or {}
        product = body.get("product", "crm")
        if self.state.dataset.get(product, body.get("module", "")) is None:
            self._json(400, {"error": "unknown product or module"})
            return
        deleted = self.state.dataset.delete(
            product,
            body["module"],
            count=int(body.get("count", 0)),
            purge=bool(body.get("purge", False)),
        )
        self._json(200, {"deleted": deleted})

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


def utc_text(epoch_seconds: int) -> str:
    """Epoch seconds as ``YYYY-MM-DDTHH:MM:SS+00:00``, the form the tap emits."""
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).isoformat()


def check_loopback(host: str) -> None:
    """Refuse to serve anywhere but loopback."""
    if host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError as exc:
        raise ValueError(f"--host must be a loopback address, got {host!r}") from exc
    if not address.is_loopback:
        raise ValueError(f"--host must be a loopback address (127.0.0.0/8 or ::1), got {host}")


class Emulator:
    """A running emulator, for tests and scripts.

    >>> with Emulator(records={("crm", "Leads"): 500}) as emu:
    ...     emu.url  # 'http://127.0.0.1:PORT'
    """

    def __init__(self, config: EmulatorConfig | None = None, **options: Any) -> None:
        self.config = config or EmulatorConfig(port=0, job_seconds=0.2)
        for key, value in options.items():
            setattr(self.config, key, value)
        check_loopback(self.config.host)
        self.state = EmulatorState(self.config)
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer((self.config.host, self.config.port), handler)
        self.server.daemon_threads = True
        port = self.server.server_address[1]
        self.url = f"http://{self.config.host}:{port}"
        self.state.base_url = self.url
        self._thread: threading.Thread | None = None

    def start(self) -> Emulator:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        self.server.serve_forever()

    def stop(self) -> None:
        """Stop serving and remove result files."""
        self.server.shutdown()
        self.server.server_close()
        self.state.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def work_dir(self) -> Path:
        """Where result files are written."""
        return self.state.work_dir
