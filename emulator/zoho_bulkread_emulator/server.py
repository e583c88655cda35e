"""The emulator's HTTP server: Zoho's OAuth, metadata and bulk read paths, plus an admin surface.

Serves on loopback only and never opens a connection of its own: callback URLs in job
requests are recorded in the request log, not called.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import sys
import threading
import time
from collections import deque
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from zoho_bulkread_emulator.admin import AdminRoutes
from zoho_bulkread_emulator.criteria import QueryError
from zoho_bulkread_emulator.jobs import (
    Job,
    compile_query,
    new_job_id,
    requested_module,
    resolve_offset,
    run_job,
)
from zoho_bulkread_emulator.plumbing import HandlerBase
from zoho_bulkread_emulator.rest_routes import RestRoutes
from zoho_bulkread_emulator.state import (
    AccessToken,
    EmulatorConfig,
    EmulatorState,
    HtmlAnswer,
    HttpError,
    zoho_error,
)

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
    ("GET", re.compile(r"^/(crm|bigin)/(v\d+)/(\w+)$"), "records"),
    ("POST", re.compile(r"^/(crm|bigin)/(v\d+)/coql$"), "coql"),
    ("POST", re.compile(r"^/(crm|bigin)/bulk/(v\d+)/read$"), "create_job"),
    ("GET", re.compile(r"^/(crm|bigin)/bulk/(v\d+)/read/(\d+)$"), "job_status"),
    ("GET", re.compile(r"^/(crm|bigin)/bulk/(v\d+)/read/(\d+)/result$"), "download"),
    ("GET", re.compile(rf"^{ADMIN}/health$"), "admin_health"),
    ("GET", re.compile(rf"^{ADMIN}/records/(\w+)$"), "admin_records"),
    ("GET", re.compile(rf"^{ADMIN}/requests$"), "admin_requests"),
    ("GET", re.compile(rf"^{ADMIN}/ics_events$"), "admin_ics_events"),
    ("POST", re.compile(rf"^{ADMIN}/mutate$"), "admin_mutate"),
    ("POST", re.compile(rf"^{ADMIN}/delete$"), "admin_delete"),
    ("POST", re.compile(rf"^{ADMIN}/restore$"), "admin_restore"),
    ("POST", re.compile(rf"^{ADMIN}/convert$"), "admin_convert"),
    ("POST", re.compile(rf"^{ADMIN}/set$"), "admin_set"),
    ("POST", re.compile(rf"^{ADMIN}/faults$"), "admin_faults"),
    ("POST", re.compile(rf"^{ADMIN}/reset$"), "admin_reset"),
    ("POST", re.compile(rf"^{ADMIN}/grant_code$"), "admin_grant_code"),
]


class Handler(AdminRoutes, RestRoutes, HandlerBase):
    """Routes one request; see ROUTES."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes; no 40 ms delayed ACKs
    server_version = "ZohoBulkReadEmulator/1.0"
    state: EmulatorState

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the console quiet; the request log is at /__emulator__/requests."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        """Dispatch a GET."""
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
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
        if not is_admin:
            # logged as it arrives: its status is set before its answer leaves, so a client
            # that has the answer always finds the entry complete in the log
            with self.state.lock:
                self.state.request_log.append(self.log_entry)
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
                zoho_error(
                    "INVALID_URL_PATTERN",
                    "Please check if the URL trying to access is a correct one",
                ),
            )

    # -- OAuth ------------------------------------------------------------------------

    def token(self) -> None:
        """POST /oauth/v2/token with the refresh-token grant."""
        params = dict(self.params)
        if self.raw_body:
            form = parse_qs(self.raw_body.decode("utf-8", "replace"))
            params.update({k: v[-1] for k, v in form.items()})
        config, state = self.state.config, self.state
        if params.get("grant_type") == "authorization_code":
            self._authorization_code(params)
            return
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

    def _authorization_code(self, params: dict[str, str]) -> None:
        """The grant-code exchange, with the errors Zoho answers (Kaizen #4), HTTP 200 each.

        ``invalid_client``: a client id this accounts server does not know (a wrong id, or
        another data center); ``invalid_client_secret``: the wrong secret;
        ``invalid_code``: a code that expired or was used already.
        """
        config, state = self.state.config, self.state
        if params.get("client_id") != config.client_id:
            self._json(200, {"error": "invalid_client"})
            return
        if params.get("client_secret") != config.client_secret:
            self._json(200, {"error": "invalid_client_secret"})
            return
        now = time.time()
        with state.lock:
            grant = state.grant_codes.get(params.get("code", ""))
            usable = grant is not None and not grant.used and grant.expires > now
            if grant is not None:
                grant.used = True
            if grant is None or not usable:
                self._json(200, {"error": "invalid_code"})
                return
            access = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
            state.tokens[access] = AccessToken(now + config.token_seconds, grant.scopes)
        self._json(
            200,
            {
                "access_token": access,
                "refresh_token": config.refresh_token,
                "scope": " ".join(grant.scopes),
                "api_domain": state.base_url,
                "token_type": "Bearer",
                "expires_in": config.token_seconds,
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
                zoho_error(
                    "REQUIRED_PARAM_MISSING", "the module parameter is missing", {"param": "module"}
                ),
            )
        org = self.state.org
        module = org.module(product, name)
        if module is None:
            raise HttpError(
                400,
                zoho_error(
                    "INVALID_MODULE", "the module name given seems to be invalid", {"module": name}
                ),
            )
        self._json(
            200,
            {
                "fields": [
                    f.metadata(org.field_id(product, name, n), org, product, name)
                    for n, f in enumerate(module.fields)
                ]
            },
        )

    # -- bulk read ----------------------------------------------------------------------

    def create_job(self, product: str, version: str) -> None:
        """POST .../bulk/{v}/read."""
        self._api(product, version)
        self._access_token()
        content_type = self.headers.get("Content-Type", "")
        if not content_type.lower().startswith("application/json"):
            raise HttpError(
                415, zoho_error("MEDIA_TYPE_NOT_SUPPORTED", "Media type is not supported")
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
                zoho_error(
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
        jitter = state.faults.download_arrival_jitter_seconds
        if jitter > 0:
            with state.lock:
                delay = state.faults.rng.uniform(0, jitter)
            time.sleep(delay)
        if not state.limiters[product].allow():
            raise HttpError(
                429,
                zoho_error(
                    "TOO_MANY_REQUESTS", "download limit of 10 per minute reached, try again later"
                ),
            )
        if job.state != "COMPLETED" or job.path is None or job.completed is None:
            raise HttpError(
                400,
                zoho_error("INVALID_REQUEST", f"the job is {job.state}, its result is not ready"),
            )
        if time.time() - job.completed > state.config.result_ttl_seconds or not job.path.exists():
            raise HttpError(
                state.config.gone_result_status,
                zoho_error(
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


class _Server(ThreadingHTTPServer):
    """The HTTP server; a client hanging up between requests is normal, not a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Report errors, except a connection the client closed or reset."""
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


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
        self.server = _Server((self.config.host, self.config.port), handler)
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
