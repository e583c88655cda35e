"""The state a user passes in: checked, unwrapped from Meltano's form, and named as they know it.

A state the tap cannot use would otherwise mean a full export or a crash mid-run.
"""

from __future__ import annotations

import json
import os
from typing import Any

from tap_zoho_bulkread.errors import ConfigurationError
from tap_zoho_bulkread.times import parse_datetime
from tap_zoho_bulkread.zoho.recycle_bin import RECYCLE_BIN_KEY, RECYCLE_SEEN_KEY, decode_ids


def read_state(text: str, source: str) -> dict[str, Any]:
    """Parse and check a state file: the tap's own state, or Meltano's ``singer_state`` wrapper.

    A state the tap cannot use would otherwise mean a full export or a crash mid-run; it is
    refused instead, naming what is wrong.
    """
    where, fix = state_wording(source)
    if not text.strip():
        raise ConfigurationError(f"{where} is empty; {fix}.")
    try:
        state = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{where} is not JSON ({exc.msg} at line {exc.lineno}); {fix}."
        ) from None
    if isinstance(state, dict) and set(state) == {"singer_state"}:
        state = state["singer_state"]  # what `meltano state get` prints
    if not isinstance(state, dict):
        raise ConfigurationError(f"{where} must hold a JSON object, not {type(state).__name__}.")
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        raise ConfigurationError(f"{where}: 'bookmarks' must be an object of streams.")
    for stream, bookmark in bookmarks.items():
        if not isinstance(bookmark, dict):
            raise ConfigurationError(
                f"{where}: the bookmark of {stream} must be an object such as "
                '{"replication_key": "Created_Time", "replication_key_value": '
                '"2024-01-31T08:00:00+00:00"}, not ' + f"{json.dumps(bookmark)[:60]}."
            )
        for holder in (bookmark, bookmark.get("progress_markers")):
            value = holder.get("replication_key_value") if isinstance(holder, dict) else None
            if value is None:
                continue
            try:
                parse_datetime(str(value))
            except ValueError:
                raise ConfigurationError(
                    f"{where}: the bookmark of {stream} is {str(value)[:60]!r}, not a "
                    "datetime; fix or remove it (removing it exports the stream in full)."
                ) from None
        _check_recycle_bins(where, stream, bookmark)
    return state


def under_meltano() -> bool:
    """Whether Meltano runs the tap (it names the extractor in the plugin's environment)."""
    return bool(os.environ.get("MELTANO_EXTRACTOR_NAME"))


def state_wording(source: str) -> tuple[str, str]:
    """What a message calls the state, and how to replace it: Meltano's commands under Meltano.

    Meltano writes its state to a new file each run, so naming that file helps no one.
    """
    if under_meltano():
        return (
            "The state Meltano keeps for this pipeline (`meltano state list` names its id; "
            "`meltano state get <state id>` shows it)",
            "set one the tap wrote with `meltano state set <state id> '<state>'`, or drop it "
            "with `meltano state clear <state id>` for a full export",
        )
    return (
        f"The state file {source}",
        "pass a state the tap wrote, or no --state for a full export",
    )


def _check_recycle_bins(where: str, stream: str, bookmark: dict[str, Any]) -> None:
    """Refuse recycle bin ids (a stream's, or a partition's) that the tap did not write."""
    partitions = bookmark.get("partitions")
    holders = [("", bookmark)] + [
        (f" {str(p.get('context', {}).get('module'))[:60]} partition", p)
        for p in (partitions if isinstance(partitions, list) else [])
        if isinstance(p, dict) and isinstance(p.get("context", {}), dict)
    ]
    for part, holder in holders:
        for key in (RECYCLE_BIN_KEY, RECYCLE_SEEN_KEY):
            if key not in holder:
                continue
            try:
                decode_ids(holder[key])
            except ValueError:
                raise ConfigurationError(
                    f"{where}: the {stream}{part} state holds a damaged {key}; remove that key "
                    "(the next run then reads the recycle bin afresh and finds restores from "
                    "there on)."
                ) from None
