"""What a decoder yields: a batch of records, as dicts or already encoded as JSON.

Kept apart from the Arrow decoder so that writing records never imports pyarrow: the tap
imports it only when it decodes an export (``--about``, ``--version`` and discovery stay light).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from operator import itemgetter
from typing import Any, NamedTuple, Protocol, Union

import msgspec

RECORD_ENCODER = msgspec.json.Encoder(decimal_format="number")  # what the tap's writers use
RECORD_DECODER = msgspec.json.Decoder(dict[str, Any], float_hook=Decimal)  # and back, exactly


class EncodedBatch(Protocol):
    """Records already encoded as JSON objects.

    ``EncodedRows`` of the Arrow decoder, ``EncodedRecords`` of the Python decoder for the
    tap's own writers.
    """

    def __len__(self) -> int:
        """How many records."""

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """The records decoded again, as dicts."""

    def __getitem__(self, rows: slice) -> EncodedBatch:
        """Some of the records, in order."""

    def lines(self, prefix: bytes, suffix: bytes) -> bytes | memoryview:
        """Every record between ``prefix`` and ``suffix``, as one block of bytes."""

    def newest(self, prop: str) -> str | None:
        """The latest value of the datetime property ``prop``, if any."""


class TimeValues(NamedTuple):
    """The datetime values (UTC) of each record of a batch, for ``newest``."""

    names: tuple[str, ...]  # the datetime properties, in the order of each record's values
    rows: list[tuple[str | None, ...]]


class EncodedRecords:
    """Records already encoded as JSON objects, one ``bytes`` each (the Python decoder's)."""

    def __init__(self, documents: list[bytes], times: TimeValues) -> None:
        self.documents = documents
        self.times = times

    def __len__(self) -> int:
        return len(self.documents)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """The records decoded again (numbers as int and Decimal), for checks and tests."""
        return map(RECORD_DECODER.decode, self.documents)

    def __getitem__(self, rows: slice) -> EncodedRecords:
        names, values = self.times
        return EncodedRecords(self.documents[rows], TimeValues(names, values[rows]))

    def newest(self, prop: str) -> str | None:
        """The latest value of the datetime property ``prop`` in this batch, if any."""
        names, values = self.times
        if prop not in names:
            return None
        return max(filter(None, map(itemgetter(names.index(prop)), values)), default=None)

    def lines(self, prefix: bytes, suffix: bytes) -> bytes:
        """Every record between ``prefix`` and ``suffix``, as one block of bytes."""
        return _joined(self.documents, prefix, suffix)


Batch = Union[list[dict[str, Any]], EncodedBatch]  # noqa: UP007 (a Protocol in a runtime alias)


def encoded_lines(batch: Batch, prefix: bytes, suffix: bytes) -> bytes | memoryview:
    """Every record of ``batch`` as JSON between ``prefix`` and ``suffix``, end to end."""
    if not isinstance(batch, list):
        return batch.lines(prefix, suffix)
    return _joined(list(map(RECORD_ENCODER.encode, batch)), prefix, suffix)


def _joined(documents: list[bytes], prefix: bytes, suffix: bytes) -> bytes:
    """``prefix`` + each document + ``suffix``, end to end, made as one block.

    Not ``prefix + body + suffix``: a second block of a megabyte alive beside the first costs
    glibc's allocator fresh pages each time, twenty times the join itself.
    """
    if len(documents) <= 1:
        return b"".join((prefix, *documents, suffix)) if documents else b""
    ends = [prefix + documents[0], *documents[1:-1], documents[-1] + suffix]
    return (suffix + prefix).join(ends)


def newest(batch: Batch, prop: str) -> str | None:
    """The latest value of the datetime property ``prop`` in ``batch``, if any."""
    if not isinstance(batch, list):
        return batch.newest(prop)
    return max((r[prop] for r in batch if r.get(prop) is not None), default=None)
