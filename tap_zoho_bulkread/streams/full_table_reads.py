"""Full_Table_Reads: one row per full-table read this run completed, emitted after every other.

A target that ignores ACTIVATE_VERSION (target-duckdb) keeps a table's old rows until SQL
removes the rows of older table versions; a table Zoho emptied sends no row, so "older than the
newest version in the table" cannot see it. This stream says which version each full-table
stream's last complete read had, and how many rows it held, zero included.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_zoho_bulkread.streams.base import ZohoStream
from tap_zoho_bulkread.summary import RunSummary

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

FULL_TABLE_READS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "stream": {"type": ["string"], "description": "The full-table stream that was read"},
        "zoho_table_version": {
            "type": ["integer"],
            "description": "The read's table version, as in the stream's zoho_table_version",
        },
        "row_count": {
            "type": ["integer"],
            "description": "Rows the read emitted (0: the table is empty in Zoho)",
        },
        "finished_at": {
            "type": ["string"],
            "format": "date-time",
            "description": "When the read completed (UTC)",
        },
    },
}


class FullTableReadsStream(ZohoStream):
    """The full-table reads this run completed (FULL_TABLE streams only), synced last."""

    name = "Full_Table_Reads"
    primary_keys = ("stream", "zoho_table_version")
    replication_key = None
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: Tap, *, summary: RunSummary) -> None:
        super().__init__(tap=tap, name=self.name, schema=FULL_TABLE_READS_SCHEMA)
        self.summary = summary

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """One record per completed full-table read of this run."""
        del context
        return [read.record() for read in self.summary.table_reads()]
