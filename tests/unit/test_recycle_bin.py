"""The recycle bin ids kept in the state: written compactly, read back exactly, damage refused."""

from __future__ import annotations

import base64
import random
import zlib

import pytest

from tap_zoho_bulkread.zoho.recycle_bin import FORMAT, MAX_TEXT, decode_ids, encode_ids


def test_ids_come_back_exactly_and_take_little_room() -> None:
    generator = random.Random(7)
    ids = {str(4876543000000000000 + generator.randrange(10**12)) for _ in range(10_000)}
    text = encode_ids(ids)
    assert decode_ids(text) == ids
    assert len(text) < 10_000 * 19 / 2  # under half of the ids' own digits
    assert decode_ids(encode_ids([])) == set()


def packed(plain: bytes) -> str:
    return FORMAT + base64.b64encode(zlib.compress(plain)).decode()


@pytest.mark.parametrize(
    "text",
    [
        None,
        42,
        "4876543000000000001",  # not this format
        FORMAT + "not base64!",
        FORMAT + base64.b64encode(b"not zlib").decode(),
        packed(b"12,x,4"),
        packed(b"12,,4"),
        packed(b"1" * 20),  # more digits than an id has
        packed(b"1," * (MAX_TEXT // 2 + 10)),  # past the bound: a bomb is not inflated whole
        packed("١٢".encode()),  # digits, but not ASCII ones
    ],
)
def test_damaged_text_is_refused(text: object) -> None:
    with pytest.raises(ValueError):
        decode_ids(text)
