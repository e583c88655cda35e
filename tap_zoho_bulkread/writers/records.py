"""Fast Singer output: RECORD lines encoded by msgspec and written without a flush each.

singer-sdk's msgspec writer flushes stdout after every message. Records are buffered here and
everything else (SCHEMA, STATE, ...) still flushes, so a STATE line never reaches the target
before the records it covers.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import Any

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import SingerMessageType
from singer_sdk.singerlib.encoding.simple import Message

from tap_zoho_bulkread.bulk.batches import RECORD_ENCODER, Batch, encoded_lines


class BufferedMsgSpecWriter(MsgSpecWriter):
    """singer-sdk's msgspec writer, flushing only on messages other than RECORD."""

    def write_message(self, message: Message) -> None:
        """Write a message; flush unless it is a record."""
        out = sys.stdout.buffer
        out.write(self.format_message(message))
        if message.type != SingerMessageType.RECORD:
            out.flush()


class RecordLineWriter:
    """Writes RECORD lines of one stream with its prefix and suffix encoded once per page."""

    def __init__(self, stream: str, version: int | None) -> None:
        self.prefix = b'{"type":"RECORD","stream":' + RECORD_ENCODER.encode(stream) + b',"record":'
        self.version = version
        self.suffix = b"}\n"
        self.new_page()

    def new_page(self) -> None:
        """Stamp the records that follow with the current time as ``time_extracted``."""
        extracted = RECORD_ENCODER.encode(datetime.now(timezone.utc))
        version = (
            b"" if self.version is None else b',"version":' + RECORD_ENCODER.encode(self.version)
        )
        self.suffix = version + b',"time_extracted":' + extracted + b"}\n"

    def write(self, record: dict[str, Any]) -> None:
        """Write one record as a RECORD line."""
        sys.stdout.buffer.write(self.prefix + RECORD_ENCODER.encode(record) + self.suffix)

    def write_many(self, records: Batch) -> None:
        """Write RECORD lines for a batch of records in one call."""
        if len(records):
            sys.stdout.buffer.write(encoded_lines(records, self.prefix, self.suffix))
