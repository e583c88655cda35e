"""BATCH files written straight from the decoder: gzipped JSON lines, a file per N records.

singer-sdk's own BATCH path runs its per-record loop, gathers each file's records in memory and
compresses at gzip level 9. Here each decoded batch of rows is encoded by msgspec and streamed
into the open file (gzip level 1 by default), and a file is closed, then announced, every
``batch_size`` records and at the end of every export page, so a checkpoint never passes a
record that is not in an announced file.

A local storage root is written in place (as ``<name>.part``, renamed when complete); the SDK's
storage writes each file to the system's temporary folder first and copies it over at the end.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit
from uuid import uuid4

from tap_zoho_bulkread.bulk.batches import Batch, encoded_lines
from tap_zoho_bulkread.bulk.export import ExportItem, PageEnd
from tap_zoho_bulkread.streams.base import BatchConfig
from tap_zoho_bulkread.writers.batch_checks import check_batch_config


class BatchFileWriter:
    """The batch files of one stream's sync; ``add`` and ``close`` return finished file URLs."""

    def __init__(
        self, batch_config: BatchConfig, tap_name: str, stream: str, compression_level: int
    ) -> None:
        check_batch_config(batch_config)
        self.config = batch_config
        self.gzip = batch_config.encoding.compression == "gzip"
        self.level = compression_level
        self.sync_id = f"{tap_name}--{stream}-{uuid4()}"
        self.files = 0
        self.in_file = 0
        self._stack: ExitStack | None = None
        self._out: IO[bytes] | None = None
        self._filename = ""
        root = urlsplit(batch_config.storage.root)
        local = root.scheme in ("", "file") and root.netloc in ("", "localhost")
        self._local_root = Path(root.path) if local else None
        self._part: Path | None = None
        self.ended_with_file = False  # the last file was finished by the export's end

    def urls(self, items: Iterable[ExportItem]) -> Iterator[str]:
        """The URL of each finished file: one closes at ``batch_size`` and at each page's end.

        A page's last file is finished before the item after its ``PageEnd`` is asked for, so
        it is announced before the checkpoint moves past the page.
        """
        for item in items:
            yield from (self.close() if isinstance(item, PageEnd) else self.add(item))
        last = self.close()
        self.ended_with_file = bool(last)
        yield from last

    def _open(self) -> IO[bytes]:
        self.files += 1
        storage = self.config.storage
        suffix = ".json.gz" if self.gzip else ".json"
        self._filename = f"{storage.prefix or ''}{self.sync_id}-{self.files}{suffix}"
        stack = ExitStack()
        if self._local_root is None:
            raw: Any = stack.enter_context(storage.open(self._filename, "wb"))
        else:
            self._local_root.mkdir(parents=True, exist_ok=True)
            self._part = self._local_root / f"{self._filename}.part"
            raw = stack.enter_context(self._part.open("wb"))
        if self.gzip:
            raw = stack.enter_context(
                gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=self.level)
            )
        self._stack, self._out = stack, raw
        return raw  # type: ignore[no-any-return]

    def add(self, records: Batch) -> list[str]:
        """Write ``records``; the URLs of the files that reached ``batch_size`` meanwhile."""
        size = self.config.batch_size
        finished: list[str] = []
        start = 0
        while start < len(records):
            out = self._out or self._open()
            chunk = records[start : start + size - self.in_file]
            out.write(encoded_lines(chunk, b"", b"\n"))
            self.in_file += len(chunk)
            start += len(chunk)
            if self.in_file >= size:
                finished += self.close()
        return finished

    def close(self) -> list[str]:
        """Finish the open file: its URL, or nothing when no file is open."""
        if self._stack is None:
            return []
        self._stack.close()
        if self._part is not None:
            os.replace(self._part, self._part.with_name(self._part.name.removesuffix(".part")))
            self._part = None
        self._stack = self._out = None
        self.in_file = 0
        return [self.config.storage.get_url(self._filename)]
