"""A small HTTP server playing a broken or hostile Zoho, for the tap's hardening tests.

By default it answers like a correct Zoho CRM v8 org with one module, Leads, whose single bulk
read job completes at once with the CSV in ``csv_text``. Each test overrides what it attacks:
a route's answer (``routes``), the token answer, the job ids, the CSV or the zip bytes.
"""

from __future__ import annotations

import io
import json
import re
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ACCESS_TOKEN = "1000.hostiletoken0123456789abcdef.0123456789abcdef0123456789abcdef"
LEAD_FIELDS = [
    {"api_name": "Last_Name", "data_type": "text"},
    {"api_name": "Amount", "data_type": "currency"},
    {"api_name": "Employees", "data_type": "integer"},
    {"api_name": "Birth_Date", "data_type": "date"},
    {"api_name": "Created_Time", "data_type": "datetime"},
]
HEADER = "Id,Last_Name,Amount,Employees,Birth_Date,Created_Time"
GOOD_ROWS = [
    "4876543000000000001,Ada,10.50,3,1990-01-31,2024-03-10T10:00:00+01:00",
    "4876543000000000002,Bob,,,,2024-03-10T11:30:00+01:00",
]


@dataclass
class Answer:
    """What a route sends back."""

    status: int = 200
    body: bytes | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    """A request the server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


Route = Callable[[Request], Answer]


def zipped(member: str, data: bytes, *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip holding one member."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        archive.writestr(member, data)
    return buffer.getvalue()


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up on a refused answer is expected here: no traceback for it."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class HostileZoho:
    """The server; ``url`` once started (``with HostileZoho() as zoho``)."""

    def __init__(self) -> None:
        self.csv_text = HEADER + "\r\n" + "\r\n".join(GOOD_ROWS) + "\r\n"
        self.zip_bytes: bytes | None = None
        self.job_ids: list[str] = []
        self.count: int | None = None
        self.token_answer: dict[str, Any] | None = None
        self.modules: list[Any] = [
            {"api_name": "Leads", "api_supported": True, "generated_type": "default"}
        ]
        self.fields: list[Any] = list(LEAD_FIELDS)
        self.routes: dict[tuple[str, str], Route] = {}
        self.requests: list[Request] = []
        self.created = 0
        self.server = _QuietServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> HostileZoho:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- default answers, each replaceable through ``routes`` ---------------------------

    def answer(self, request: Request) -> Answer:
        """Dispatch to an override, else to the correct Zoho answer."""
        for (method, pattern), route in self.routes.items():
            if method == request.method and re.fullmatch(pattern, request.path):
                return route(request)
        path = request.path
        if path == "/oauth/v2/token":
            return Answer(body=self.token_answer or self.good_token())
        if re.fullmatch(r"/crm/v\d/settings/modules", path):
            return Answer(body={"modules": self.modules})
        if re.fullmatch(r"/crm/v\d/settings/fields", path):
            return Answer(body={"fields": self.fields})
        if re.fullmatch(r"/crm/bulk/v\d/read", path) and request.method == "POST":
            return Answer(201, self.created_answer(self.next_job_id()))
        if match := re.fullmatch(r"/crm/bulk/v\d/read/([^/]+)/result", path):
            return Answer(body=self.result_zip(match.group(1)))
        if match := re.fullmatch(r"/crm/bulk/v\d/read/([^/]+)", path):
            return Answer(body=self.status_answer(match.group(1)))
        return Answer(404, {"code": "INVALID_URL_PATTERN", "status": "error"})

    def good_token(self) -> dict[str, Any]:
        return {
            "access_token": ACCESS_TOKEN,
            "expires_in": 3600,
            "api_domain": self.url,
            "token_type": "Bearer",
        }

    def next_job_id(self) -> str:
        self.created += 1
        return self.job_ids.pop(0) if self.job_ids else f"4876543000002{self.created:06d}"

    @staticmethod
    def created_answer(job_id: object) -> dict[str, Any]:
        return {
            "data": [
                {
                    "status": "success",
                    "code": "ADDED_SUCCESSFULLY",
                    "details": {"id": job_id, "operation": "read", "state": "ADDED"},
                }
            ]
        }

    def status_answer(self, job_id: str, **result: Any) -> dict[str, Any]:
        rows = self.csv_text.count("\r\n") - 1
        return {
            "data": [
                {
                    "id": job_id,
                    "state": "COMPLETED",
                    "query": {"module": {"api_name": "Leads"}, "page": 1},
                    "result": {
                        "page": 1,
                        "count": self.count if self.count is not None else rows,
                        "more_records": False,
                        "download_url": f"/crm/bulk/v8/read/{job_id}/result",
                        **result,
                    },
                }
            ]
        }

    def result_zip(self, job_id: str) -> bytes:
        if self.zip_bytes is not None:
            return self.zip_bytes
        return zipped(f"{job_id}.csv", self.csv_text.encode())

    # -- the HTTP plumbing ---------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        zoho = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in two writes

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                request = Request(method, parts.path, query, dict(self.headers), body)
                zoho.requests.append(request)
                answer = zoho.answer(request)
                data = answer.body
                if not isinstance(data, bytes):
                    data = json.dumps(data).encode()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if "Content-Type" not in answer.headers:
                    kind = "application/json" if data[:1] in (b"{", b"[") else "application/zip"
                    self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
