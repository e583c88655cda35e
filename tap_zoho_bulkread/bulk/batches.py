"""What a decoder yields: a batch of records, as dicts or already encoded as JSON by Arrow.

Kept apart from the Arrow decoder so that writing records never imports pyarrow: the tap
imports it only when it decodes an export (``--about``, ``--version`` and discovery stay light).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, Union

from tap_zoho_bulkread.bulk.decode import RECORD_ENCODER


class EncodedBatch(Protocol):
    """Records already encoded as JSON objects (the Arrow decoder's ``EncodedRows``)."""

    def __len__(self) -> int:
        """How many records."""

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """The records decoded again, as dicts."""

    def __getitem__(self, rows: slice) -> EncodedBatch:
        """Some of the records, in order."""

    def lines(self, prefix: bytes, suffix: bytes) -> memoryview:
        """Every record between ``prefix`` and ``suffix``, as one block of bytes."""

    def newest(self, prop: str) -> str | None:
        """The latest value of the datetime property ``prop``, if any."""


Batch = Union[list[dict[str, Any]], EncodedBatch]  # noqa: UP007 (a Protocol in a runtime alias)


def encoded_lines(batch: Batch, prefix: bytes, suffix: bytes) -> bytes | memoryview:
    """Every record of ``batch`` as JSON between ``prefix`` and ``suffix``, end to end."""
    if not isinstance(batch, list):
        return batch.lines(prefix, suffix)
    if not batch:
        return b""
    return prefix + (suffix + prefix).join(map(RECORD_ENCODER.encode, batch)) + suffix


def newest(batch: Batch, prop: str) -> str | None:
    """The latest value of the datetime property ``prop`` in ``batch``, if any."""
    if not isinstance(batch, list):
        return batch.newest(prop)
    return max((r[prop] for r in batch if r.get(prop) is not None), default=None)
