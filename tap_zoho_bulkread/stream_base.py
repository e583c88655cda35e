"""What every stream of the tap shares, whatever API it reads."""

from __future__ import annotations

import logging
from typing import Any

from singer_sdk.streams import Stream


class ZohoStream(Stream):
    """A singer-sdk stream whose failures the tap reports itself, in one line."""

    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        """Log, except the SDK's "unhandled error" line for an error the tap reports itself."""
        if level >= logging.ERROR and message.startswith("An unhandled error occurred"):
            return
        super().log(message, *args, level=level, **kwargs)
