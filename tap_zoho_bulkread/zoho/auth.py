"""Zoho's refresh-token flow: one access token shared by every stream, refreshed before expiry."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import stat
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters

from tap_zoho_bulkread.errors import AuthenticationError
from tap_zoho_bulkread.summary import plural
from tap_zoho_bulkread.zoho import redact
from tap_zoho_bulkread.zoho.network import (
    CONNECT_TIMEOUT_SECONDS,
    NETWORK_DEADLINE_SECONDS,
)
from tap_zoho_bulkread.zoho.retry import (
    RetriesExhausted,
    RetryPolicy,
    TransientError,
    retry_after_seconds,
)

REFRESH_MARGIN_SECONDS = 120
MAX_TOKEN_SECONDS = 86_400


# What an access token may hold: visible ASCII, as an HTTP header value carries it safely.
HEADER_SAFE = re.compile(r"[\x21-\x7e]{1,1024}")
PRIVATE_MODE = 0o600


def header_safe(token: object) -> bool:
    """Whether ``token`` can stand in an Authorization header as it is."""
    return isinstance(token, str) and HEADER_SAFE.fullmatch(token) is not None


class TokenCache:
    """An access token kept between runs, so discovery, ``select --list`` and the sync share one.

    Zoho allows about 10 refreshes per refresh token per 10 minutes. The file lives in the
    user's cache folder (mode 0600, folder 0700) and is named by a hash of everything that makes
    the token valid (client id and secret, refresh token, accounts server); it holds the access
    token, never those secrets. The file is trusted only as a regular file of this user with mode
    0600 holding values of the right type and range; anything else is ignored (said once) and
    replaced by the next refresh.
    """

    def __init__(
        self,
        folder: Path,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        accounts: str,
        logger: logging.Logger | None = None,
    ) -> None:
        key = f"{client_id}\0{client_secret}\0{refresh_token}\0{accounts}"
        digest = hashlib.sha256(key.encode()).hexdigest()
        self.folder = folder
        self.path = folder / f"token-{digest[:32]}.json"
        self.logger = logger or logging.getLogger(__name__)
        self._said = False

    def _ignore(self, why: str) -> None:
        if not self._said:
            self._said = True
            self.logger.warning(
                "The cached Zoho access token in %s is not used (%s); a new one is requested "
                "and replaces it.",
                self.path,
                why,
            )

    def load(self) -> tuple[str, str | None, float] | None:
        """The cached (token, api_domain, expiry epoch), or None when absent or untrusted."""
        try:  # never through a link, never blocking on a planted FIFO
            descriptor = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError:
            self._ignore("a link or a file the tap cannot open")
            return None
        with os.fdopen(descriptor) as source:
            info = os.fstat(source.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
                self._ignore("not a regular file of this user")
                return None
            if stat.S_IMODE(info.st_mode) != PRIVATE_MODE:
                self._ignore(f"mode {stat.S_IMODE(info.st_mode):04o}, not 0600")
                return None
            try:
                entry = json.loads(source.read(64 * 1024))
            except (OSError, ValueError, RecursionError):
                self._ignore("not the JSON the tap writes")
                return None
        token = entry.get("access_token") if isinstance(entry, dict) else None
        expires = entry.get("expires_at") if isinstance(entry, dict) else None
        domain = entry.get("api_domain") if isinstance(entry, dict) else None
        if (
            not header_safe(token)
            or isinstance(expires, bool)
            or not isinstance(expires, (int, float))
            or not math.isfinite(expires)
            or not isinstance(domain, (str, type(None)))
        ):
            self._ignore("a value of the wrong type or range")
            return None
        assert isinstance(token, str)
        return token, domain or None, float(expires)

    def save(self, token: str, api_domain: str | None, expires_at: float) -> None:
        """Store a token atomically, readable by this user only; a failure only loses the cache."""
        entry = {"access_token": token, "api_domain": api_domain, "expires_at": expires_at}
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            partial = self.path.with_suffix(f".{os.getpid()}.tmp")
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as sink:
                json.dump(entry, sink)
            os.replace(partial, self.path)
        except OSError:
            pass

    def drop(self, token: str) -> None:
        """Forget ``token`` if it is the cached one (Zoho called it invalid)."""
        cached = self.load()
        if cached is not None and cached[0] == token:
            self.path.unlink(missing_ok=True)


MAX_TOKEN_ANSWER_BYTES = 64 * 1024  # a token answer is a few hundred bytes


def _token_json(response: requests.Response) -> Any:
    """The JSON of a token answer, read at most 64 KiB deep into it; None if it is not JSON."""
    body = response.raw.read(MAX_TOKEN_ANSWER_BYTES + 1, decode_content=True)
    response.close()
    if len(body) > MAX_TOKEN_ANSWER_BYTES:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


class ZohoAuthenticator:
    """OAuth refresh-token grant in Zoho's dialect, one token shared by every thread.

    Zoho reports refresh errors as HTTP 200 with ``{"error": ...}``, returns the org's
    ``api_domain`` with the token, and wants ``Authorization: Zoho-oauthtoken <token>``.
    """

    def __init__(
        self,
        *,
        accounts_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        cache: TokenCache | None = None,
        max_tries: int = 6,
        retry_base_seconds: float = 1.0,
    ) -> None:
        self.auth_endpoint = f"{accounts_url.rstrip('/')}/oauth/v2/token"
        self.client_id = client_id
        self.client_secret = client_secret
        self._refresh_token_value = refresh_token
        self._session = requests.Session()
        self._session.mount("https://", requests.adapters.HTTPAdapter(max_retries=0))
        self.logger = logging.getLogger("tap-zoho-bulkread")
        self.access_token: str | None = None
        self.expires_in: int | None = None
        self.last_refreshed: datetime | None = None
        self.api_domain: str | None = None
        self.retry = RetryPolicy(
            max(max_tries, 1), retry_base_seconds, deadline_seconds=NETWORK_DEADLINE_SECONDS
        )
        self._lock = threading.Lock()
        self.cache = cache
        for secret in (client_id, client_secret, refresh_token):
            redact.add_secret(secret)

    @property
    def oauth_request_payload(self) -> dict[str, Any]:
        """The refresh-token grant."""
        return {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self._refresh_token_value,
        }

    def is_token_valid(self) -> bool:
        """True while the token has more than two minutes (or a tenth of its life) to live."""
        if self.last_refreshed is None or self.access_token is None:
            return False
        expires_in = self.expires_in or 3600
        margin = min(REFRESH_MARGIN_SECONDS, expires_in / 10)
        return _utc_now() - self.last_refreshed < timedelta(seconds=expires_in - margin)

    def update_access_token(self) -> None:
        """Ask the accounts server for a new access token; raise a clear error if refused."""
        self.logger.info("Requesting a new Zoho access token from %s", self.auth_endpoint)
        started = _utc_now()
        response, answer = self._post_with_retries()
        if not isinstance(answer, dict):
            answer = {}
        if response.status_code != 200 or "access_token" not in answer:
            error = str(answer.get("error") or f"HTTP {response.status_code}")[:120]
            hint = (
                "the refresh token, client id or client secret is wrong, or belongs to "
                "another data center: check client_id, client_secret, refresh_token and "
                "data_center"
                if error in ("invalid_code", "invalid_client")
                else "wait a few minutes; Zoho allows 10 token refreshes per 10 minutes"
                if error == "Access Denied"
                else "check the accounts server and credentials"
            )
            raise AuthenticationError(f"Zoho refused the token refresh ({error}): {hint}.")
        token, expires_in, api_domain = _token_answer(answer)
        redact.add_secret(token)
        self.access_token = token
        self.expires_in = expires_in
        self.api_domain = api_domain or self.api_domain
        self.last_refreshed = started
        if self.cache is not None:
            self.cache.save(token, self.api_domain, time.time() + expires_in)

    def _from_cache(self) -> bool:
        """Take the cached token when it has long enough to live; True if taken."""
        cached = self.cache.load() if self.cache is not None else None
        if cached is None:
            return False
        token, api_domain, expires_at = cached
        remaining = int(expires_at - time.time())
        if remaining <= REFRESH_MARGIN_SECONDS or remaining > MAX_TOKEN_SECONDS:
            return False
        redact.add_secret(token)
        self.access_token, self.expires_in, self.last_refreshed = token, remaining, _utc_now()
        self.api_domain = api_domain or self.api_domain
        self.logger.info("Using the cached Zoho access token (%d minutes left)", remaining // 60)
        return True

    def _post_with_retries(self) -> tuple[requests.Response, Any]:
        """POST the refresh grant; retry 429, 5xx, non-JSON answers and network failures.

        The client's retry policy, with a deadline: a host that cannot be reached fails
        within about a minute, naming the host and the cause.
        """
        host = urlsplit(self.auth_endpoint).netloc
        try:
            return self.retry.run(self._post_once, "Token refresh", self.logger)
        except RetriesExhausted as exc:
            if exc.network:
                raise AuthenticationError(
                    f"Cannot reach the Zoho accounts server {host} ({exc.cause}; "
                    f"{plural(exc.tries, 'try', 'tries')}). Check the network, and "
                    "data_center / accounts_url."
                ) from None
            raise AuthenticationError(
                f"The Zoho accounts server {host} still failed after {exc.tries} tries "
                f"({exc.cause}). Check data_center / accounts_url, or try later."
            ) from None

    def _post_once(self) -> tuple[requests.Response, Any]:
        response = self._session.post(
            self.auth_endpoint,
            data=self.oauth_request_payload,
            timeout=(CONNECT_TIMEOUT_SECONDS, 30),
            allow_redirects=False,
            stream=True,
        )
        if response.is_redirect:
            raise AuthenticationError(
                "The accounts server redirected the token request elsewhere; the "
                "refresh token is sent nowhere else. Check data_center / accounts_url."
            )
        if response.status_code == 429 or response.status_code >= 500:
            response.close()
            raise TransientError(f"HTTP {response.status_code}", retry_after_seconds(response))
        answer = _token_json(response)
        if answer is None:
            raise TransientError(f"HTTP {response.status_code}, not JSON")
        return response, answer

    def ensure_token(self, *, force: bool = False) -> str:
        """Return a valid access token, refreshing it (once, for all threads) when needed."""
        with self._lock:
            if force or not (self.is_token_valid() or self._from_cache()):
                self.update_access_token()
            assert self.access_token is not None
            return self.access_token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` after Zoho called it invalid, unless another thread already did."""
        with self._lock:
            if self.access_token == token:
                self.access_token = None
            if self.cache is not None:
                self.cache.drop(token)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _token_answer(answer: dict[str, Any]) -> tuple[str, int, str | None]:
    """The access token, its lifetime and api_domain of a refresh answer, checked."""
    token = answer.get("access_token")
    if not header_safe(token):
        raise AuthenticationError(
            "The accounts server answered the token refresh without a usable access_token (it "
            "must be 1 to 1024 visible ASCII characters); check data_center / accounts_url."
        )
    assert isinstance(token, str)
    lifetime = answer.get("expires_in", 3600)
    if (
        isinstance(lifetime, bool)
        or not isinstance(lifetime, (int, float))
        or not 1 <= lifetime <= MAX_TOKEN_SECONDS
    ):
        raise AuthenticationError(
            f"The accounts server gave the token a lifetime of {str(lifetime)[:40]!r}, not a "
            f"number of seconds from 1 to {MAX_TOKEN_SECONDS}; check data_center / accounts_url."
        )
    domain = answer.get("api_domain")
    if domain is not None and not isinstance(domain, str):
        raise AuthenticationError(
            "The accounts server answered api_domain that is not text; check data_center / "
            "accounts_url."
        )
    return token, int(lifetime), domain or None
