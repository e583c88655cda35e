"""All HTTP to Zoho: one session, retries, Zoho's error envelope, the download rate limit."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Collection
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests

from tap_zoho_bulkread.errors import (
    TAP_FOREIGN_URL,
    TAP_REDIRECT_LOOP,
    TAP_RETRIES_EXHAUSTED,
    TAP_UNEXPECTED_RESPONSE,
    Action,
    AuthenticationError,
    ZohoAPIError,
    rule_of,
)
from tap_zoho_bulkread.summary import plural
from tap_zoho_bulkread.zoho.auth import ZohoAuthenticator
from tap_zoho_bulkread.zoho.network import CONNECT_TIMEOUT_SECONDS
from tap_zoho_bulkread.zoho.retry import (
    RetriesExhausted,
    RetryPolicy,
    TransientError,
    retry_after_seconds,
)

T = TypeVar("T")
DOWNLOAD_CHUNK = 1024 * 1024
MAX_REDIRECTS = 5
USER_AGENT = "tap-zoho-bulkread"


DOWNLOAD_WINDOW_MARGIN = 1.0  # seconds beyond Zoho's window, for clocks that tick apart


class DownloadSlot:
    """One download counted against the window: in flight until Zoho has answered it."""

    def __init__(self) -> None:
        self.answered: float | None = None  # monotonic time of the answer; None in flight


class DownloadLimiter:
    """At most ``limit`` downloads in any ``window`` seconds, as Zoho counts them, across threads.

    Zoho counts a download when the request arrives, which is some time after it is sent and
    before its answer comes back, and does not document whether its window rolls, starts at the
    first download, or follows the clock. A download therefore counts from the moment its answer
    arrived (never earlier than Zoho saw it), and one still in flight counts as happening now:
    then no window of any kind, measured at arrival, sees more than ``limit``.
    """

    def __init__(
        self, limit: int = 10, window: float = 60.0, margin: float = DOWNLOAD_WINDOW_MARGIN
    ) -> None:
        self.limit = limit
        self.window = window
        self.span = window + margin
        self.slots: list[DownloadSlot] = []
        self.lock = threading.Lock()
        self.announced = False
        self.downloads = 0  # counted for the run's summary
        self.waited = 0.0

    def _wait(self, now: float) -> float:
        """Seconds until a slot frees (0 when one is free); call with the lock held."""
        self.slots = [
            slot for slot in self.slots if slot.answered is None or now - slot.answered < self.span
        ]
        if len(self.slots) < self.limit:
            return 0.0
        answered = [slot.answered for slot in self.slots if slot.answered is not None]
        return self.span - (now - min(answered)) if answered else 0.2

    def acquire(self, logger: logging.Logger) -> DownloadSlot:
        """Wait until one more download fits in the window, then count it (in flight)."""
        announced = self.announced
        while True:
            with self.lock:
                wait = self._wait(time.monotonic())
                if wait <= 0:
                    slot = DownloadSlot()
                    self.slots.append(slot)
                    self.announced = False
                    self.downloads += 1
                    return slot
                self.waited += wait
            if not announced and wait > 1:  # a 429's wait was already logged with the retry
                logger.info("Zoho allows %d downloads a minute; waiting %.1fs", self.limit, wait)
                announced = True
            time.sleep(wait)

    def answered(self, slot: DownloadSlot) -> None:
        """Zoho answered the download of ``slot``: its place in the window starts now."""
        with self.lock:
            slot.answered = time.monotonic()

    def block_for(self, seconds: float) -> None:
        """After a 429: count the window as full for ``seconds``."""
        with self.lock:
            now = time.monotonic()
            self.slots = [DownloadSlot() for _ in range(self.limit)]
            for slot in self.slots:
                slot.answered = now - self.span + seconds
            self.announced = True


# The largest JSON answer read: a page of 200 users or deletions is well under 1 MB, a module's
# field metadata a few MB; a larger body is not an answer Zoho sends.
MAX_ANSWER_BYTES = 32 * 1024 * 1024
MAX_ERROR_BYTES = 1024 * 1024  # an error envelope is a few hundred bytes


def _bounded_body(response: requests.Response, max_bytes: int, what: str) -> bytes:
    """The body of ``response``, refused once it passes ``max_bytes`` (never read whole).

    What was read is kept on the response (as requests keeps ``content``), so that a second
    look, such as the error check after the token check, reads the same bytes.
    """
    if getattr(response, "_content_consumed", False):  # read before: requests kept it
        body: bytes = response.content or b""
    else:
        chunks, size = [], 0
        for chunk in response.iter_content(DOWNLOAD_CHUNK):
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                break
        body = b"".join(chunks)
        response._content = body  # what requests' ``content`` returns from now on
        setattr(response, "_content_consumed", True)  # noqa: B010
    if len(body) > max_bytes:
        raise ZohoAPIError(
            TAP_UNEXPECTED_RESPONSE,
            response.status_code,
            f"{what} answered more than {max_bytes // 1024} KiB, more than Zoho sends for it; "
            "refused unread",
        )
    return body


ZOHO_CODE = re.compile(r"[A-Za-z0-9_ ]{1,80}")  # INVALID_QUERY, "Not Modified", ...


def _error_from(response: requests.Response) -> ZohoAPIError:
    try:
        raw = _bounded_body(response, MAX_ERROR_BYTES, urlsplit(response.url).path)
    except ZohoAPIError as exc:
        return exc
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        snippet = raw[:200].decode("utf-8", "replace").strip().replace("\n", " ")
        return ZohoAPIError(
            TAP_UNEXPECTED_RESPONSE,
            response.status_code,
            f"expected JSON from {urlsplit(response.url).path}, got "
            f"{response.headers.get('Content-Type', 'no content type')}: {snippet!r}",
        )
    if isinstance(body, dict) and isinstance(body.get("data"), list) and body["data"]:
        body = body["data"][0]
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("code", "UNKNOWN"))
    return ZohoAPIError(
        code if ZOHO_CODE.fullmatch(code) else "UNKNOWN",  # it reaches log lines
        response.status_code,
        str(body.get("message", response.reason)),
        body.get("details"),
    )


class ZohoClient:
    """A Zoho API session: authenticated, retried, and strict about where tokens go."""

    def __init__(
        self,
        authenticator: ZohoAuthenticator,
        *,
        api_domain: str | None,
        logger: logging.Logger,
        trusted_api_domains: Collection[str] = (),
        limiter: DownloadLimiter | None = None,
        max_tries: int = 6,
        max_wait_seconds: float = 60.0,
        retry_base_seconds: float = 1.0,
    ) -> None:
        self.authenticator = authenticator
        self._api_domain = api_domain.rstrip("/") if api_domain else None
        self.trusted_api_domains = frozenset(trusted_api_domains)
        self.logger = logger
        self.limiter = limiter or DownloadLimiter()
        self.retry = RetryPolicy(max_tries, retry_base_seconds, max_wait_seconds)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    @property
    def api_domain(self) -> str:
        """The configured API domain, else the one Zoho returned with the token."""
        if self._api_domain is None:
            self.authenticator.ensure_token()
            offered = (self.authenticator.api_domain or "").rstrip("/")
            if offered not in self.trusted_api_domains:
                trusted = ", ".join(sorted(self.trusted_api_domains))
                raise AuthenticationError(
                    f"The accounts server named {offered[:80]!r} as the org's API domain, which "
                    f"is not one of this data center's ({trusted}); check data_center and "
                    "environment, or set api_domain if your org really uses another."
                )
            self._api_domain = offered
        return self._api_domain

    def url(self, path_or_url: str) -> str:
        """An absolute URL on the API domain; refuses URLs pointing at any other host."""
        absolute = urljoin(self.api_domain + "/", path_or_url)
        wanted, got = urlsplit(self.api_domain), urlsplit(absolute)
        if (got.scheme, got.netloc) != (wanted.scheme, wanted.netloc):
            raise ZohoAPIError(
                TAP_FOREIGN_URL,
                0,
                f"refusing to send the access token to {got.scheme}://{got.netloc[:80]}; "
                f"only {self.api_domain} is trusted",
            )
        return absolute

    def _retrying(self, action: Callable[[], T], what: str) -> T:
        try:
            return self.retry.run(action, what, self.logger)
        except RetriesExhausted as exc:
            cause = f"{urlsplit(self.api_domain).netloc}: {exc.cause}" if exc.network else exc.cause
            count = plural(exc.tries, "try", "tries")
            raise ZohoAPIError(
                TAP_RETRIES_EXHAUSTED, 0, f"{what} still failing after {count}: {cause}"
            ) from None

    def _request(
        self,
        method: str,
        url: str,
        token: str,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """One HTTP exchange; a redirect is followed only on the API host, a few times at most."""
        for _ in range(MAX_REDIRECTS + 1):
            response = self.session.request(
                method,
                url,
                headers={**(headers or {}), "Authorization": f"Zoho-oauthtoken {token}"},
                timeout=(CONNECT_TIMEOUT_SECONDS, 120),
                allow_redirects=False,
                **kwargs,
            )
            if not response.is_redirect:
                return response
            response.close()
            url = self.url(response.headers.get("Location", ""))  # refuses other hosts
        raise ZohoAPIError(
            TAP_REDIRECT_LOOP, 0, f"{urlsplit(url).path} redirected more than {MAX_REDIRECTS} times"
        )

    def _send(
        self, method: str, url: str, *, stream: bool = False, **kwargs: Any
    ) -> requests.Response:
        """One request with the current token; refreshes once if Zoho calls the token invalid."""
        for attempt in (1, 2):
            token = self.authenticator.ensure_token()
            response = self._request(method, url, token, stream=stream, **kwargs)
            if response.status_code == 401 and attempt == 1:
                error = _error_from(response)
                if rule_of(error.code).on_request is Action.REFRESH:
                    self.logger.info("Zoho called the access token invalid; refreshing it once")
                    self.authenticator.invalidate(token)
                    continue
            return response
        return response

    def _check(self, response: requests.Response) -> requests.Response:
        if response.status_code == 429:
            raise TransientError("HTTP 429 too many requests", retry_after_seconds(response))
        if response.status_code >= 500:
            raise TransientError(f"HTTP {response.status_code} from Zoho")
        if response.status_code >= 400:
            raise _error_from(response)
        return response

    def _json(
        self, method: str, path: str, max_bytes: int, *, exact: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        url = self.url(path)

        def call() -> dict[str, Any]:
            response = self._check(self._send(method, url, stream=True, **kwargs))
            with response:
                if response.status_code in (204, 304):  # an empty list; nothing since
                    return {}
                text = _bounded_body(response, max_bytes, f"{method} {path}")
            try:
                body = json.loads(text, parse_float=Decimal) if exact else json.loads(text)
            except ValueError:
                raise TransientError(
                    f"{method} {path} answered HTTP {response.status_code} with a body that is "
                    "not JSON"
                ) from None
            except RecursionError:
                raise ZohoAPIError(
                    TAP_UNEXPECTED_RESPONSE,
                    response.status_code,
                    f"{path}: JSON nested deeper than any answer Zoho sends",
                ) from None
            if not isinstance(body, dict):
                raise ZohoAPIError(
                    TAP_UNEXPECTED_RESPONSE, response.status_code, f"{path}: {body!r:.200}"
                )
            return body

        return self._retrying(call, f"{method} {path}")

    def get_json(
        self,
        path: str,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        *,
        max_bytes: int = MAX_ANSWER_BYTES,
    ) -> dict[str, Any]:
        """GET a JSON API path, at most ``max_bytes``.

        An empty list (HTTP 204) and nothing modified since ``If-Modified-Since`` (HTTP 304)
        are both ``{}``.
        """
        return self._json("GET", path, max_bytes, params=params, headers=headers)

    def post_json(self, path: str, body: dict[str, Any], *, exact: bool = False) -> dict[str, Any]:
        """POST a JSON body (``Content-Type: application/json``).

        With ``exact``, numbers with a fraction or exponent are read as ``Decimal``, not float.
        """
        return self._json("POST", path, MAX_ANSWER_BYTES, exact=exact, json=body)

    def download(self, path_or_url: str, destination: Path) -> int:
        """Stream a result file to ``destination``; a cut-off download is fetched again whole.

        Returns the number of bytes written.
        """
        url = self.url(path_or_url)

        def fetch() -> int:
            slot = self.limiter.acquire(self.logger)
            try:
                response = self._send("GET", url, stream=True)
            finally:
                self.limiter.answered(slot)
            with response:
                if response.status_code == 429:
                    wait = min(
                        retry_after_seconds(response) or self.limiter.window,
                        self.retry.max_wait_seconds,
                    )
                    self.limiter.block_for(wait)
                    raise TransientError(
                        f"download limit reached (HTTP 429); Zoho's download window reopens in "
                        f"{wait:.1f}s",
                        retry_after=wait,
                    )
                self._check(response)
                expected = int(response.headers.get("Content-Length") or -1)
                written = 0
                try:
                    with destination.open("wb") as sink:
                        for chunk in response.iter_content(DOWNLOAD_CHUNK):
                            sink.write(chunk)
                            written += len(chunk)
                except requests.exceptions.ChunkedEncodingError as exc:
                    raise TransientError(f"download cut off after {written} bytes") from exc
                if expected >= 0 and written != expected:
                    raise TransientError(f"download cut off: {written} of {expected} bytes")
                return written

        return self._retrying(fetch, f"download {urlsplit(url).path}")
