"""A stream whose records come in decoded batches, written by the tap's own writers.

When no stream map or flattening changes records, rows go out as RECORD lines written a batch
at a time (``writers/records.py``), or into BATCH files (``writers/batch_files.py``), without
singer-sdk's per-record loop. Numbers stay raw JSON text on this path.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING

from singer_sdk.mapper import SameRecordTransform
from typing_extensions import override

from tap_zoho_bulkread.bulk.batches import Batch
from tap_zoho_bulkread.bulk.export import ExportItem, PageEnd
from tap_zoho_bulkread.streams.base import BaseBatchFileEncoding, BatchConfig, ZohoStream
from tap_zoho_bulkread.writers.batch_files import BatchFileWriter
from tap_zoho_bulkread.writers.records import RecordLineWriter

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class BatchedStream(ZohoStream):
    """Records in batches, with a ``PageEnd`` after each export page's rows.

    A subclass yields them from ``record_batches`` and says the newest replication value read
    so far in ``newest_value``; ``compression_level`` is the gzip level of its BATCH files.
    """

    compression_level = 1
    _line_writer: RecordLineWriter | None = None

    @abstractmethod
    def record_batches(
        self, context: Context | None, *, raw_numbers: bool = False
    ) -> Iterator[ExportItem]:
        """The export's rows in batches, a ``PageEnd`` after each page."""

    def newest_value(self) -> str | None:
        """The newest replication value of the rows handed out so far."""
        return None

    @override
    def direct_writer(self) -> RecordLineWriter | None:
        """The direct RECORD writer, when no stream map or flattening changes records."""
        maps = self.stream_maps
        if len(maps) != 1 or type(maps[0]) is not SameRecordTransform:
            return None
        if maps[0].flattening_enabled or maps[0].stream_alias != self.name:
            return None
        if self._line_writer is None:
            self._line_writer = RecordLineWriter(self.name, self.table_version)
        return self._line_writer

    def own_items(self) -> Iterator[ExportItem]:
        """The export for the tap's own writers (RECORD lines or BATCH files).

        The newest replication value is noted before each batch is handed out, and the
        bookmark is finalised once the export is read. RECORD lines of a page carry the time
        its first batch was read.
        """
        self.start_replication()
        page_begins = True
        for item in self.record_batches(None, raw_numbers=True):
            if isinstance(item, PageEnd):
                page_begins = True
            else:
                if page_begins and self._line_writer is not None:
                    self._line_writer.new_page()  # time_extracted: when the page was read
                    page_begins = False
                newest = self.newest_value()
                if newest:
                    self.note_progress(newest)
            yield item
        self.finalize_progress()

    @override
    def direct_batches(self) -> Iterator[Batch]:
        """The export's rows in batches, for the direct RECORD writer."""
        return (item for item in self.own_items() if not isinstance(item, PageEnd))

    @override
    def get_batches(
        self, batch_config: BatchConfig, context: Context | None = None
    ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        """BATCH files written from the decoded rows, a file per ``batch_size`` and per page.

        singer-sdk writes the BATCH message and a STATE after each file; the checkpoint moves
        only after a page's last file is announced, and the bookmark once the export is read.
        """
        del context
        writer = BatchFileWriter(batch_config, self.tap_name, self.name, self.compression_level)
        for url in writer.urls(self.own_items()):
            yield batch_config.encoding, [url]
        if not writer.ended_with_file:
            self.emit_state()
