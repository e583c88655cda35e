"""Checks of ``batch_config`` made before any API call: what the BATCH writer can write, where."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from tap_zoho_bulkread.errors import ConfigurationError
from tap_zoho_bulkread.streams.base import BatchConfig


def check_batch_config(batch_config: BatchConfig) -> None:
    """Refuse the encodings this tap does not write, naming the one it does."""
    encoding = batch_config.encoding
    if encoding.format != "jsonl" or encoding.compression not in ("gzip", "none", None):
        raise ConfigurationError(
            f"batch_config.encoding {encoding.format}/{encoding.compression} is not supported; "
            'use {"format": "jsonl", "compression": "gzip"} (parquet would turn exact Zoho '
            "decimals into floats)."
        )
    if batch_config.batch_size < 1:
        raise ConfigurationError("batch_config.batch_size must be 1 or more.")
    check_local_storage(batch_config.storage.root)


def check_local_storage(root: str) -> None:
    """Refuse a local ``batch_config.storage.root`` the tap could not create or write into.

    Checked before any API call, so a bad folder fails in one line instead of after the export.
    """
    parts = urlsplit(root)
    if parts.scheme not in ("", "file") or parts.netloc not in ("", "localhost"):
        return  # remote storage: its client says what is wrong
    folder = Path(parts.path or ".")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    problem = ""
    if existing == folder and not folder.is_dir():
        problem = "it is not a folder"
    elif not existing.is_dir():
        problem = f"{existing} is not a folder"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"{existing} is not writable"
    if problem:
        raise ConfigurationError(
            f"batch_config.storage.root {root[:200]} cannot hold the batch files ({problem}); "
            "choose a folder the tap can create or write."
        )
