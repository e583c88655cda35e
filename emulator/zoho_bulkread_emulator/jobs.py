"""Bulk read jobs in the emulator: request validation, the life cycle, pages and results."""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from zoho_bulkread_emulator.criteria import (
    MAX_CRITERIA,
    MAX_PAGE,
    CompiledQuery,
    CriteriaCompiler,
    QueryError,
    export_columns,
    invalid,
)
from zoho_bulkread_emulator.export import write_csv_zip, write_ics_zip
from zoho_bulkread_emulator.ics import ICS_PER_PAGE
from zoho_bulkread_emulator.org import USERS, Org
from zoho_bulkread_emulator.records import Dataset, format_datetime

PAGE_TOKEN_SECONDS = 24 * 3600
JOB_ID_BASE = 4_876_543_000_002_000_000


def version_number(version: str) -> int:
    """``"v8"`` -> 8."""
    return int(version.lstrip("v"))


def uses_nested_shapes(product: str, version: str) -> bool:
    """Whether requests of this API use the v3+ shapes (module and field as objects)."""
    return product == "crm" and version_number(version) >= 3


def uses_page_tokens(product: str, version: str) -> bool:
    """Whether results of this API carry ``next_page_token`` (CRM v7 and later)."""
    return product == "crm" and version_number(version) >= 7


def requested_module(body: Any, product: str, version: str) -> str:
    """The module a job request names, checked for the shape of its version."""
    if body in (None, {}, [], ""):
        raise QueryError("REQUEST_BODY_IS_EMPTY", "the request body is empty", {})
    query = body.get("query") if isinstance(body, dict) else None
    if not isinstance(query, dict):
        raise QueryError("MANDATORY_NOT_FOUND", "required field not found", {"api_name": "query"})
    module = query.get("module")
    if uses_nested_shapes(product, version):
        if not isinstance(module, dict) or not isinstance(module.get("api_name"), str):
            raise invalid(
                f'{version} expects "module": {{"api_name": "..."}}',
                api_name="module",
                expected_data_type="jsonobject",
            )
        return str(module["api_name"])
    if not isinstance(module, str):
        raise invalid(
            f'{version} expects "module" as a string',
            api_name="module",
            expected_data_type="string",
        )
    return module


@dataclass
class PageToken:
    """What a ``next_page_token`` stands for."""

    fingerprint: str
    page: int
    offset: int
    created: float


@dataclass
class Job:
    """One bulk read job and what became of it."""

    id: str
    product: str
    version: str
    module: str
    body: dict[str, Any]
    query: CompiledQuery
    file_type: str
    offset: int
    page: int
    created: float
    state: str = "ADDED"
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    path: Path | None = None
    completed: float | None = None
    fail_code: str | None = None  # "" fails without an error_message, as the v8 spec allows
    extra_seconds: float = 0.0
    module_id: str = ""

    def status(self, zone: ZoneInfo) -> dict[str, Any]:
        """The job as ``GET .../read/{id}`` shows it."""
        owner = USERS[0]
        query = dict(self.body.get("query") or {})
        if isinstance(query.get("module"), dict):  # v3+: the module's id beside its name
            query["module"] = {**query["module"], "id": self.module_id}
        if "page_token" not in query:
            query.setdefault("page", 1)
        entry: dict[str, Any] = {
            "id": self.id,
            "operation": "read",
            "state": self.state,
            "query": query,
            "created_by": {"id": owner.id, "name": owner.full_name},
            "created_time": format_datetime(int(self.created), zone),
            "file_type": self.file_type,
        }
        if self.state == "COMPLETED" and self.result is not None:
            entry["result"] = self.result
        if self.state == "FAILURE" and self.error is not None:
            entry["result"] = {"error_message": self.error}
        return entry


@dataclass
class JobSettings:
    """The knobs of the job runner."""

    per_page: int
    job_seconds: float
    max_concurrent_jobs: int
    zone: ZoneInfo
    work_dir: Path


@dataclass
class JobBook:
    """All jobs, page tokens and the per-product concurrency limit."""

    settings: JobSettings
    jobs: dict[str, Job] = field(default_factory=dict)
    page_tokens: dict[str, PageToken] = field(default_factory=dict)
    slots: dict[str, threading.Semaphore] = field(default_factory=dict)
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def slot(self, product: str) -> threading.Semaphore:
        """The semaphore bounding the jobs of ``product`` running at once."""
        with self.lock:
            if product not in self.slots:
                self.slots[product] = threading.Semaphore(self.settings.max_concurrent_jobs)
            return self.slots[product]


def compile_query(
    body: dict[str, Any], product: str, version: str, org: Org, dataset: Dataset
) -> tuple[CompiledQuery, str]:
    """Validate a job request like Zoho; return the compiled query and the file type."""
    module_name = requested_module(body, product, version)
    query: dict[str, Any] = body["query"]
    module = org.module(product, module_name)
    data = dataset.get(product, module_name)
    if module is None or data is None:
        raise invalid(
            "the module name given seems to be invalid", "MODULE_NOT_AVAILABLE", api_name="module"
        )
    if not module.bulk_readable:
        raise QueryError(
            "MODULE_NOT_SUPPORTED",
            f"bulk read does not support the module {module_name}",
            {"api_name": "module"},
        )
    file_type = body.get("file_type", "csv")
    if file_type not in ("csv", "ics"):
        raise invalid("file_type must be ics or csv", api_name="file_type")
    fields = query.get("fields")
    if fields is not None and (
        not isinstance(fields, list) or not all(isinstance(f, str) for f in fields)
    ):
        raise invalid("fields must be a JSON array of field API names", api_name="fields")
    if file_type == "ics":
        if module_name != "Events":
            raise invalid("only Events can be exported as ics", api_name="file_type")
        if fields:
            raise QueryError(
                "FIELDS_NOT_SUPPORTED",
                "fields cannot be given for an ics export",
                {"api_name": "fields"},
            )
    columns = export_columns(data, fields)
    predicates = []
    leaves = 0
    cvid = query.get("cvid")
    if cvid is not None:
        view = org.custom_views.get(str(cvid))
        if view is None or view.module != module_name:
            raise invalid(
                "the given custom view id is invalid", "CVID_NOT_SUPPORTED", api_name="cvid"
            )
        view_compiler = CriteriaCompiler(data, nested=False)
        predicates.append(view_compiler.compile(view.criteria))
        leaves += view_compiler.leaves
    criteria = query.get("criteria")
    if criteria is not None:
        compiler = CriteriaCompiler(data, nested=uses_nested_shapes(product, version))
        predicates.append(compiler.compile(criteria))
        leaves += compiler.leaves
    if leaves > MAX_CRITERIA:
        raise QueryError(
            "CRITERIA_LIMIT_EXCEEDED",
            f"at most {MAX_CRITERIA} criteria are allowed, custom view included",
            {"api_name": "criteria", "limit": MAX_CRITERIA},
        )
    page = query.get("page", 1)
    if not isinstance(page, int) or isinstance(page, bool) or page < 1:
        raise invalid(f"page must be an integer from 1 to {MAX_PAGE}", api_name="page")
    if page > MAX_PAGE:
        raise QueryError(
            "PAGE_RANGE_EXCEEDED",
            f"page must not exceed {MAX_PAGE}",
            {"api_name": "page", "max_limit": MAX_PAGE},
        )
    page_token = query.get("page_token")
    if page_token is not None and not uses_page_tokens(product, version):
        raise invalid(f"page_token is not supported in {version}", api_name="page_token")
    if page_token is not None and page != 1:
        raise invalid("give either page or page_token", api_name="page_token")
    fingerprint = hashlib.sha256(
        json.dumps(
            [product, module_name, criteria, cvid, fields, file_type], sort_keys=True
        ).encode()
    ).hexdigest()
    predicate = None
    if len(predicates) == 1:
        predicate = predicates[0]
    elif predicates:
        first, second = predicates
        predicate = lambda index: first(index) and second(index)  # noqa: E731
    compiled = CompiledQuery(data, columns, predicate, page, page_token, fingerprint)
    return compiled, file_type


def resolve_offset(book: JobBook, query: CompiledQuery) -> tuple[int, int]:
    """The first matching record and page number a job exports."""
    if query.page_token is None:
        return (query.page - 1) * book.settings.per_page, query.page
    token = book.page_tokens.get(query.page_token)
    if token is None or time.time() - token.created > PAGE_TOKEN_SECONDS:
        raise invalid("the page_token is invalid or has expired", api_name="page_token")
    if token.fingerprint != query.fingerprint:
        raise invalid("the page_token belongs to another query", api_name="page_token")
    return token.offset, token.page


def matching_indices(query: CompiledQuery, offset: int, limit: int) -> tuple[list[int], bool]:
    """Up to ``limit`` matching record indices after ``offset`` matches, and whether more match."""
    predicate = query.predicate
    candidates = query.data.live_indices()
    matches = candidates if predicate is None else filter(predicate, candidates)
    page = list(itertools.islice(matches, offset, offset + limit + 1))
    return page[:limit], len(page) > limit


def run_job(book: JobBook, job: Job) -> None:
    """The life of a job: ADDED, QUEUED while no slot is free, IN PROGRESS, then the end."""
    settings = book.settings
    time.sleep(min(0.05, settings.job_seconds / 4))
    slot = book.slot(job.product)
    if not slot.acquire(blocking=False):
        job.state = "QUEUED"
        slot.acquire()
    try:
        job.state = "IN PROGRESS"
        started = time.monotonic()
        if job.fail_code is None:
            complete_job(book, job)
        remaining = settings.job_seconds + job.extra_seconds - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)
        if job.fail_code:
            job.error = {
                "code": job.fail_code,
                "message": "the bulk read job failed",
                "details": {"job_id": job.id},
                "status": "error",
            }
        if job.fail_code is not None:
            job.state = "FAILURE"
        else:
            job.completed = time.time()
            job.state = "COMPLETED"
    except Exception as exc:  # a bug in the emulator must show as a failed job, not a hang
        job.error = {
            "code": "INTERNAL_ERROR",
            "message": f"emulator error: {exc}",
            "details": {},
            "status": "error",
        }
        job.state = "FAILURE"
        raise
    finally:
        slot.release()


def complete_job(book: JobBook, job: Job) -> None:
    """Export the job's page to a zip file and write its result."""
    settings = book.settings
    per_page = min(settings.per_page, ICS_PER_PAGE) if job.file_type == "ics" else settings.per_page
    indices, more = matching_indices(job.query, job.offset, per_page)
    path = settings.work_dir / f"{job.id}.zip"
    if job.file_type == "ics":
        write_ics_zip(path, job.id, job.query.data, indices, settings.zone)
    else:
        write_csv_zip(path, job.id, job.query.columns, indices, settings.zone)
    job.path = path
    api = "bigin" if job.product == "bigin" else "crm"
    job.result = {
        "page": job.page,
        "count": len(indices),
        "per_page": per_page,
        "more_records": more,
        "download_url": f"/{api}/bulk/{job.version}/read/{job.id}/result",
    }
    if more and uses_page_tokens(job.product, job.version):
        token = secrets.token_urlsafe(24)
        book.page_tokens[token] = PageToken(
            job.query.fingerprint, job.page + 1, job.offset + len(indices), time.time()
        )
        job.result["next_page_token"] = token


def new_job_id(book: JobBook) -> str:
    """A fresh 19-digit job id."""
    return str(JOB_ID_BASE + next(book.counter) * 1001)


def make_work_dir() -> Path:
    """A private temporary folder for result files."""
    return Path(tempfile.mkdtemp(prefix="zoho-emulator-"))
