"""Answers asked for once a run, per key: the same key waits for the first asker's answer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class OncePerKey(Generic[Value]):
    """Values computed once per key; different keys are computed at the same time.

    Modules are checked ahead of their turn in other threads: one lock for every key would make
    them wait for each other's requests.
    """

    def __init__(self) -> None:
        self._values: dict[Hashable, Value] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Value]) -> Value:
        """The value of ``key``, computed by ``compute`` the first time it is asked for."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                self._values[key] = compute()
            return self._values[key]
