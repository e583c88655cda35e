"""What every stream of the tap shares, whatever API it reads."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from singer_sdk.streams import Stream

from tap_zoho_bulkread.settings import PROGRESS_MARKERS

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class ZohoStream(Stream):
    """A singer-sdk stream whose failures the tap reports itself, in one line."""

    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        """Log, except the SDK's "unhandled error" line for an error the tap reports itself."""
        if level >= logging.ERROR and message.startswith("An unhandled error occurred"):
            return
        super().log(message, *args, level=level, **kwargs)

    def _activate_version(self, version: int) -> None:
        """ACTIVATE_VERSION after a full read, except for BATCH loads.

        Rows a target loads from BATCH files carry no table version (target-postgres leaves
        ``_sdc_table_version`` NULL), so an ACTIVATE_VERSION would make it drop them.
        """
        if not self.get_batch_config(self.config):
            self._write_activate_version_message(version)

    def _increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        """Keep the newest replication value as a progress marker, promoted at the end.

        The SDK would do the same for an unsorted stream, but it also writes "Progress is not
        resumable" into the state and logs it as a warning; this tap does resume, through its
        checkpoint.
        """
        key = self.replication_key
        value = latest_record.get(key) if key else None
        if value is None:
            return
        state = self.get_context_state(context) if context else self.stream_state
        markers = state.setdefault(PROGRESS_MARKERS, {})
        old = markers.get("replication_key_value")
        if old is None or value > old:
            markers["replication_key"] = key
            markers["replication_key_value"] = value
