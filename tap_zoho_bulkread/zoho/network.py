"""What went wrong on the network, in words, and whether trying again can help."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

import requests

NETWORK_DEADLINE_SECONDS = 60.0  # a host that cannot be reached fails the run within this
CONNECT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class NetworkFailure:
    """A failed exchange: its cause in words, and how many tries it deserves in all."""

    cause: str
    tries: int


def _chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found and len(found) < 20:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def network_failure(exc: requests.RequestException, max_tries: int) -> NetworkFailure:
    """Name the cause of ``exc`` (DNS, refused, TLS, timeout, dropped) and its tries.

    A name that does not resolve or a refused connection rarely heals within seconds: three
    tries. A TLS failure never does: one. A timeout or a dropped connection may: all tries.
    """
    chain = _chain(exc)
    if any(isinstance(e, socket.gaierror) for e in chain) or any(
        type(e).__name__ == "NameResolutionError" for e in chain
    ):
        return NetworkFailure("DNS: the host name does not resolve", min(3, max_tries))
    if any(isinstance(e, ssl.SSLError) for e in chain) or isinstance(
        exc, requests.exceptions.SSLError
    ):
        return NetworkFailure("TLS: the secure connection failed", 1)
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return NetworkFailure("the connection was refused", min(3, max_tries))
    if isinstance(exc, requests.ConnectTimeout):
        return NetworkFailure(
            f"timeout: no connection within {CONNECT_TIMEOUT_SECONDS:.0f}s", max_tries
        )
    if isinstance(exc, requests.Timeout):
        return NetworkFailure("timeout: no answer in time", max_tries)
    return NetworkFailure(f"the connection failed ({type(exc).__name__})", max_tries)
