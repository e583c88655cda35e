"""The emulator's state: its settings, the faults injected on demand, tokens, and errors."""

from __future__ import annotations

import random
import shutil
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from zoho_bulkread_emulator.jobs import JobBook, JobSettings, make_work_dir
from zoho_bulkread_emulator.org import Org, build_org
from zoho_bulkread_emulator.records import Dataset

DEFAULT_SCOPES = (
    "ZohoCRM.bulk.read",
    "ZohoCRM.modules.ALL",
    "ZohoCRM.settings.ALL",
    "ZohoCRM.users.READ",
    "ZohoCRM.org.READ",
    "ZohoCRM.coql.READ",
    "ZohoBigin.bulk.READ",
    "ZohoBigin.modules.ALL",
    "ZohoBigin.settings.ALL",
    "ZohoBigin.users.READ",
    "ZohoBigin.coql.READ",
)


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
    # how the download window is counted, by arrival: "anchored" (a window starts at the first
    # download after the last one ended), "rolling" (any window_seconds), "clock" (each clock
    # minute, or window_seconds slice of the epoch): Zoho does not document which
    download_window_kind: str = "anchored"
    max_token_refreshes: int = 10
    gone_result_status: int = 400  # Zoho's v8 spec; 404 as seen from older versions
    # whether COQL returns converted records and records awaiting approval: no Zoho document
    # says; "all" does, "records_api_default" leaves them out as the records API's defaults do
    coql_record_set: str = "all"
    # Zoho's server time for each records API and Query API answer (0: at once), so that a
    # client overlapping its calls can be measured as it would be against Zoho
    rest_seconds: float = 0.0
    # Zoho's concurrency limit of API calls per org (Kaizen #93: 5 on the Free edition to 25 on
    # Ultimate); a call beyond it gets 429 TOO_MANY_REQUESTS; 0: no limit
    max_concurrent_calls: int = 0
    # the edition GET /crm/v8/org names (license_details): one of EDITIONS; "trial" is an org
    # evaluating Enterprise (paid false, paid_type free, trial_type enterprise)
    edition: str = "enterprise"


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
    # each download waits up to this long (seeded) before the limiter counts it: the network's
    # delay between a client sending a request and Zoho counting it
    download_arrival_jitter_seconds: float = 0.0
    token_seconds: float | None = None
    revoke_tokens: bool = False
    retry_after_seconds: float | None = None
    html_answers: int = 0
    corrupt_downloads: int = 0
    # when the deletion list of a module is first asked for: {module: {other module: seconds
    # ago}}, one record of each other module deleted that long before the request (once); a
    # key "module:type" waits for that list type (all, recycle or permanent)
    delete_while_listing: dict[str, dict[str, float]] = field(default_factory=dict)
    # modules whose deletion list answers 404 INVALID_URL_PATTERN, as Zoho does for a module
    # without one
    no_deletion_list: list[str] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def public(self) -> dict[str, Any]:
        """The faults as JSON."""
        data = asdict(self)
        data.pop("rng")
        return data


DOWNLOAD_WINDOW_KINDS = ("anchored", "rolling", "clock")
EDITIONS = ("free", "trial", "standard", "professional", "enterprise", "ultimate")


class DownloadLimiter:
    """Zoho's 10 downloads a minute: the 11th gets 429, blocked for the rest of the window."""

    def __init__(self, limit: int, window_seconds: float, kind: str = "anchored") -> None:
        if kind not in DOWNLOAD_WINDOW_KINDS:
            raise ValueError(f"download window kind {kind!r}: use one of {DOWNLOAD_WINDOW_KINDS}")
        self.limit = limit
        self.window = window_seconds
        self.kind = kind
        self.start: float | None = None
        self.count = 0
        self.arrivals: deque[float] = deque()
        self.lock = threading.Lock()

    def allow(self) -> bool:
        """Count one download as it arrives; False when it is over the limit."""
        with self.lock:
            if self.kind == "rolling":
                now = time.monotonic()
                while self.arrivals and now - self.arrivals[0] >= self.window:
                    self.arrivals.popleft()
                if len(self.arrivals) >= self.limit:
                    return False
                self.arrivals.append(now)
                return True
            if self.kind == "clock":
                now = time.time()
                start = now - now % self.window
            else:
                now = time.monotonic()
                start = now if self.start is None or now - self.start >= self.window else self.start
            if start != self.start:
                self.start, self.count = start, 0
            self.count += 1
            return self.count <= self.limit


@dataclass
class AccessToken:
    """An issued access token."""

    expires: float
    scopes: tuple[str, ...]


@dataclass
class GrantCode:
    """A grant code the API console's Self Client would show: minutes to live, used once."""

    expires: float
    scopes: tuple[str, ...]
    used: bool = False


class EmulatorState:
    """All mutable state of one emulator, shared by the request handler threads."""

    def __init__(self, config: EmulatorConfig, org: Org | None = None) -> None:
        self.config = config
        self.org = org or build_org()
        self.zone = ZoneInfo(config.timezone)
        self.base_url = ""
        self.lock = threading.Lock()
        self.calls_in_flight = 0  # records API and Query API calls being answered
        self.work_dir = make_work_dir()
        self._reset()

    def _reset(self) -> None:
        config = self.config
        self.dataset = Dataset(self.org, config.seed, config.records)
        self.tokens: dict[str, AccessToken] = {}
        self.refreshes: dict[str, deque[float]] = {}
        self.grant_codes: dict[str, GrantCode] = {}
        self.faults = Faults(rng=random.Random(config.seed))
        self.request_log: list[dict[str, Any]] = []
        self.peak_calls_in_flight = 0
        self.limiters = {
            product: DownloadLimiter(
                config.download_limit, config.download_window_seconds, config.download_window_kind
            )
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


def zoho_error(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Zoho's error body."""
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


def utc_text(epoch_seconds: int) -> str:
    """Epoch seconds as ``YYYY-MM-DDTHH:MM:SS+00:00``, the form the tap emits."""
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).isoformat()
