"""The ids of a module's recycle bin, kept in the state between runs as compact text."""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Iterable
from typing import Any

RECYCLE_BIN_KEY = "recycle_bin"  # in a module stream's state: its bin at the last run
RECYCLE_SEEN_KEY = "recycle_seen"  # in a Deleted_Records partition: binned after that look
FORMAT = "zlib-deltas:"
MAX_IDS = 1_000_000  # Deleted_Records reads at most a million deletions a module
MAX_TEXT = MAX_IDS * 20  # 19 digits and a comma an id, uncompressed
DELTAS = re.compile(r"(\d{1,19}(,\d{1,19})*)?")


def encode_ids(ids: Iterable[str]) -> str:
    """A set of Zoho ids as text: sorted, written as differences, compressed."""
    numbers = sorted({int(record_id) for record_id in ids})
    deltas = [b - a for a, b in zip([0, *numbers], numbers, strict=False)]
    packed = zlib.compress(",".join(map(str, deltas)).encode(), 9)
    return FORMAT + base64.b64encode(packed).decode()


def decode_ids(text: Any) -> set[str]:
    """The ids :func:`encode_ids` wrote; ValueError for anything else."""
    if not isinstance(text, str) or not text.startswith(FORMAT):
        raise ValueError(f"not {FORMAT} text")
    try:
        packed = base64.b64decode(text[len(FORMAT) :], validate=True)
        inflater = zlib.decompressobj()
        plain = inflater.decompress(packed, MAX_TEXT).decode("ascii")
    except (binascii.Error, zlib.error, UnicodeDecodeError):
        raise ValueError("not compressed ids") from None
    if inflater.unconsumed_tail or not inflater.eof or DELTAS.fullmatch(plain) is None:
        raise ValueError("not a list of ids")
    ids, total = set(), 0
    for delta in plain.split(",") if plain else []:
        total += int(delta)
        ids.add(str(total))
    return ids
