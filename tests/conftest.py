"""Shared fixtures: emulators on loopback, started per test or per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.zoho_client import ZohoTestClient
from zoho_bulkread_emulator import Emulator


@pytest.fixture(autouse=True)
def private_token_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """Each test's taps share one token cache of their own, never the user's or another test's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path_factory.mktemp("runtime")))  # pgserver


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator with the small default org and fast jobs."""
    with Emulator(job_seconds=0.05) as emu:
        yield emu


@pytest.fixture
def client(emulator: Emulator) -> ZohoTestClient:
    """A plain HTTP client of the fresh emulator, already holding a token."""
    return ZohoTestClient(emulator.url)


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[Emulator]:
    """One emulator for read-only tests of a module."""
    with Emulator(job_seconds=0.0, max_token_refreshes=1000, download_limit=100_000) as emu:
        yield emu


@pytest.fixture(scope="module")
def shared_client(shared_emulator: Emulator) -> ZohoTestClient:
    """A client of the shared emulator."""
    return ZohoTestClient(shared_emulator.url)
