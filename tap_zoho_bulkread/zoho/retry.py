"""The one retry policy of every request to Zoho, the token refresh included.

A failure worth another try (429, 5xx, a dropped connection, an answer cut short) is retried
after Zoho's Retry-After when it gives one, else after an exponential wait with jitter. A
network failure gets as many tries as its cause deserves (a TLS failure one, a host that does
not resolve three), and a deadline, when given, bounds the whole.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import backoff
import requests

from tap_zoho_bulkread.zoho.network import network_failure

T = TypeVar("T")


class TransientError(Exception):
    """A failure worth retrying: 429, 5xx, a dropped connection."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


RETRYABLE = (TransientError, requests.ConnectionError, requests.Timeout)
RETRY_AFTER = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,6})?")


def retry_after_seconds(response: requests.Response) -> float | None:
    """Retry-After in seconds, when it is a plain number (an HTTP date or junk is ignored)."""
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if RETRY_AFTER.fullmatch(value) else None


class RetriesExhausted(Exception):
    """The last failure after every try; ``network`` when it never got an answer."""

    def __init__(self, cause: str, tries: int, *, network: bool) -> None:
        super().__init__(cause)
        self.cause = cause
        self.tries = tries
        self.network = network


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is tried."""

    max_tries: int = 6
    base_seconds: float = 1.0
    max_wait_seconds: float = 60.0
    deadline_seconds: float | None = None  # the whole, tries and waits, stays within this

    def waits(self) -> Generator[float, Any, None]:
        """Waits between tries (sent the failure): Retry-After when given, else jittered."""
        failure = yield 0
        attempt = 0
        while True:
            hint = getattr(failure, "retry_after", None)
            if hint is not None:
                delay = min(float(hint), self.max_wait_seconds)
            else:
                ceiling = min(self.base_seconds * 2**attempt, self.max_wait_seconds)
                delay = ceiling * random.uniform(0.5, 1.0)
            attempt += 1
            failure = yield delay

    def tries_for(self, exc: Exception) -> int:
        """How many tries a failure like ``exc`` deserves in all."""
        if isinstance(exc, requests.RequestException):
            return network_failure(exc, self.max_tries).tries
        return self.max_tries

    def run(self, action: Callable[[], T], what: str, logger: logging.Logger) -> T:
        """``action()``, tried again on a transient failure; raise ``RetriesExhausted``."""
        tries = 0
        started = time.monotonic()

        def counted() -> T:
            nonlocal tries
            tries += 1
            return action()

        def hopeless(exc: Exception) -> bool:
            if tries >= self.tries_for(exc):
                return True
            deadline = self.deadline_seconds
            return deadline is not None and time.monotonic() - started >= deadline

        def say(details: Any) -> None:
            exc = details.get("exception")
            logger.warning(
                "%s failed (%s); try %d of %d, retrying in %.1fs",
                what,
                cause_of(exc, self.max_tries),
                details["tries"],
                self.tries_for(exc) if isinstance(exc, Exception) else self.max_tries,
                details.get("wait") or 0,
            )

        retried = backoff.on_exception(
            self.waits,
            RETRYABLE,
            max_tries=self.max_tries,
            giveup=hopeless,
            on_backoff=say,
            raise_on_giveup=True,
            jitter=None,
            logger=None,  # ``say`` logs it once, with the try count
        )(counted)
        try:
            return retried()
        except RETRYABLE as exc:
            raise RetriesExhausted(
                cause_of(exc, self.max_tries),
                tries,
                network=isinstance(exc, requests.RequestException),
            ) from None


def cause_of(exc: object, max_tries: int) -> str:
    """A failure in words: the network's cause, or the error's own message."""
    if isinstance(exc, requests.RequestException):
        return network_failure(exc, max_tries).cause
    return str(exc)
