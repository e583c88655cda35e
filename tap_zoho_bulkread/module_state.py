"""What a module stream keeps in its state beside the bookmark, read and written in one place.

The stream's state holds, next to singer-sdk's bookmark: the checkpoint of an export in
progress (so a killed run resumes it), when the last whole export's run began, the newest
deletion marked, and the ids of the module's recycle bin at the last run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tap_zoho_bulkread.bulk.checkpoint import Checkpoint
from tap_zoho_bulkread.times import parse_datetime, zoho_datetime
from tap_zoho_bulkread.zoho.recycle_bin import RECYCLE_BIN_KEY, decode_ids, encode_ids

CHECKPOINT_KEY = "zoho_export"
EXPORTED_AT_KEY = "zoho_last_export_began"  # when the last whole export's run began (UTC)
DELETIONS_KEY = "zoho_deletions_since"  # the newest deleted_time marked in this stream


@dataclass(frozen=True)
class Resume:
    """Where an interrupted export goes on: its checkpoint, and what the state said of it."""

    checkpoint: Checkpoint | None
    newest: str | None = None  # the newest replication value of the pages already read
    dropped: str = ""  # a checkpoint the tap does not write, as text for the warning

    def warning(self, module: str) -> str:
        """The warning for a checkpoint the tap does not write; empty when there is none."""
        if not self.dropped:
            return ""
        return (
            f"{module}: the state's checkpoint ({self.dropped}) is not one the tap writes; it "
            "is dropped and the module is exported from its bookmark"
        )


class ModuleState:
    """A module stream's own keys in its state dict (the dict is singer-sdk's, changed in place)."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    def start(self, replication_key: str, start_date: str | None) -> datetime | None:
        """Where the export starts: the bookmark, or ``start_date`` when later or alone.

        The value singer-sdk writes as the starting replication value when the sync begins,
        computed from state alone so a job can be created before the stream's turn.
        """
        value = None
        if self.state.get("replication_key") == replication_key:
            value = self.state.get("replication_key_value")
        moments = [parse_datetime(str(v)) for v in (value, start_date) if v]
        return max(moments) if moments else None

    @property
    def resumes(self) -> bool:
        """Whether an interrupted export waits to be resumed."""
        return bool(self.state.get(CHECKPOINT_KEY))

    def resume(self) -> Resume:
        """The checkpoint to resume from; one the tap did not write is dropped, and said."""
        saved = self.state.get(CHECKPOINT_KEY)
        checkpoint = Checkpoint.from_state(saved)
        if checkpoint is None:
            return Resume(None, dropped=json.dumps(saved)[:120] if saved else "")
        newest = saved.get("newest") if isinstance(saved, dict) else None
        return Resume(checkpoint, newest if isinstance(newest, str) else None)

    def resumed_table_version(self) -> int | None:
        """The table version of the interrupted full-table export being resumed, if any."""
        saved = self.state.get(CHECKPOINT_KEY)
        version = saved.get("version") if isinstance(saved, dict) else None
        if Checkpoint.from_state(saved) is not None and type(version) is int and version > 0:
            return version
        return None

    def keep_checkpoint(
        self, checkpoint: Checkpoint | None, newest: str | None, version: int | None
    ) -> bool:
        """Keep (None: drop) the resume point; whether the state changed."""
        if checkpoint is None:
            return self.state.pop(CHECKPOINT_KEY, None) is not None
        kept = {**checkpoint.to_state(), "newest": newest}
        if version is not None:
            kept["version"] = version
        self.state[CHECKPOINT_KEY] = kept
        return True

    def last_export_began(self) -> datetime | None:
        """When the run of the last whole export began, if the state says."""
        began = self.state.get(EXPORTED_AT_KEY)
        try:
            return parse_datetime(began) if isinstance(began, str) else None
        except ValueError:
            return None

    def export_read(self, run_started: datetime, resumed: bool) -> None:
        """Note a whole export read: when its run began, unless it began in an earlier run."""
        if resumed:  # its first pages were read in another run, from jobs made then
            self.state.pop(EXPORTED_AT_KEY, None)
        else:
            self.state[EXPORTED_AT_KEY] = zoho_datetime(run_started)

    def deletions_since(self) -> datetime | None:
        """The newest deletion already marked in the stream."""
        since = self.state.get(DELETIONS_KEY)
        return parse_datetime(str(since)) if isinstance(since, str) else None

    def deletions_marked(self, newest: str) -> None:
        """Remember the newest deletion marked, so the next run asks from there."""
        self.state[DELETIONS_KEY] = newest

    def kept_bin(self) -> set[str] | None:
        """The ids of the recycle bin at the last run; None when the state keeps none."""
        kept = self.state.get(RECYCLE_BIN_KEY)
        return None if kept is None else decode_ids(kept)

    def keep_bin(self, ids: frozenset[str]) -> None:
        """Remember the recycle bin this run saw."""
        self.state[RECYCLE_BIN_KEY] = encode_ids(ids)
