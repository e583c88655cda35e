"""A kind of field value is one entry: the schema and all three decoders read it from there.

A throwaway kind ("shouted": text written in capitals) is registered once; the stream schema,
the CSV decoder, the Arrow decoder and the Query API converter all give its values, and none
of them was touched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from tap_zoho_bulkread.bulk import columnar
from tap_zoho_bulkread.bulk.batches import encoded_lines
from tap_zoho_bulkread.bulk.decode import RecordDecoder
from tap_zoho_bulkread.bulk.kinds import KINDS, FieldKind, kind_of, register
from tap_zoho_bulkread.bulk.metadata import FieldSpec, field_specs
from tap_zoho_bulkread.coql.decode import converter
from tests.unit.test_decode import make_zip

SHOUTED = "shouted"
CELLS = ["quiet words", "", "Zoë, café\nnext line"]
EXPECTED = ["QUIET WORDS", None, "ZOË, CAFÉ\nNEXT LINE"]  # str.upper() of each, by hand


def _shout(value: object) -> str:
    return str(value).upper()


@pytest.fixture
def shouted() -> Iterator[FieldKind]:
    kind = register(
        FieldKind(
            SHOUTED,
            {"type": ["string", "null"], "maxLength": 100},
            coql=_shout,
            csv="shout({v})",
            helpers={"shout": _shout},
        )
    )
    yield kind
    del KINDS[SHOUTED]


def _specs() -> list[FieldSpec]:
    found = field_specs([{"api_name": "Name", "data_type": "text"}], "Leads", logging.getLogger())
    return [*found, FieldSpec("Motto", "text", SHOUTED)]


def _export(tmp_path: Path) -> Path:
    rows = [f'48765430000{n:08d},Lead {n},"{cell}"' for n, cell in enumerate(CELLS)]
    return make_zip(tmp_path / "111.zip", "\n".join(["Id,Name,Motto", *rows]) + "\n")


def _mottos(decoder: RecordDecoder | columnar.ColumnarDecoder, path: Path) -> list[object]:
    lines = b"".join(bytes(encoded_lines(b, b"", b"\n")) for b in decoder.batches(path, "111"))
    return [msgspec.json.decode(line)["Motto"] for line in lines.splitlines()]


def test_the_schema_takes_the_kinds_json_schema(shouted: FieldKind) -> None:
    schema = FieldSpec("Motto", "text", SHOUTED).json_schema()
    assert schema["type"] == ["string", "null"] and schema["maxLength"] == 100
    assert kind_of("no such kind") is KINDS["string"]  # an unknown kind is text


def test_the_csv_decoder_reads_a_registered_kind(shouted: FieldKind, tmp_path: Path) -> None:
    path = _export(tmp_path)
    for raw_numbers in (False, True):
        decoder = RecordDecoder("Leads", _specs(), ["id", "Name", "Motto"], raw_numbers=raw_numbers)
        assert _mottos(decoder, path) == EXPECTED


def test_the_arrow_decoder_reads_a_registered_kind_cell_by_cell(
    shouted: FieldKind, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert columnar.AVAILABLE  # make install installs the fast extra
    path = _export(tmp_path)
    strict = RecordDecoder("Leads", _specs(), ["id", "Name", "Motto"], raw_numbers=True)
    with caplog.at_level(logging.INFO):
        assert _mottos(columnar.ColumnarDecoder(strict), path) == EXPECTED
    assert not [r for r in caplog.records if "strict decoder" in r.getMessage()]  # no handover


def test_the_query_api_converter_reads_a_registered_kind(shouted: FieldKind) -> None:
    convert = converter(SHOUTED)
    assert [convert(v) for v in ("quiet words", None)] == ["QUIET WORDS", None]
