"""The Query API's JSON values decode to exactly what the bulk path's CSV cells decode to.

Expected values come from the bulk path: for every exportable field of every module of the
emulated org, each stored value is written the two ways Zoho writes it (the CSV cell of a bulk
export, the JSON of a COQL answer, both by the emulator), and the CSV decoder's result is what
the COQL decoder must give. Numbers are compared as Decimal text with its scale, so a digit lost
to a float, or a scale lost to JSON (``10.1`` for the CSV's ``10.10``), fails. Each field's kind
and scale come from the emulator's fields metadata, read as discovery reads it.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tap_zoho_bulkread.bulk.decode import compile_row_decoder
from tap_zoho_bulkread.bulk.metadata import (
    KIND_STRING,
    FieldSpec,
    field_specs,
    record_state_specs,
)
from tap_zoho_bulkread.coql.decode import NoScale, NotAValue, converter, dot_field_converter
from tap_zoho_bulkread.coql.query import MAX_COLUMNS, column_chunks, select, since
from zoho_bulkread_emulator import coql
from zoho_bulkread_emulator.coql import NUMBER_TYPES
from zoho_bulkread_emulator.criteria import resolve_field, virtual_fields
from zoho_bulkread_emulator.export import cell_formatter
from zoho_bulkread_emulator.org import NOT_EXPORTABLE_TYPES, build_org
from zoho_bulkread_emulator.records import Dataset

ZONE = ZoneInfo("America/Los_Angeles")
DATASET = Dataset(build_org(), seed=7, counts={})
SAMPLE = range(0, 400, 3)
DOT_FIELDS = {
    "Contacts": ["Account_Name.Account_Name", "Account_Name.Industry", "Owner.email"],
    "Quoted_Items": ["Parent_Id.Subject", "Product_Name.Unit_Price"],
    "Deals": ["Account_Name.Annual_Revenue", "Contact_Name.Email_Opt_Out"],
}


def json_of(item, value) -> object:
    """The value as a COQL answer carries it, read back with exact decimals."""
    text = coql.encode_answer({"v": coql.json_value(item, value, ZONE)})
    return json.loads(text, parse_float=Decimal)["v"]


def exact(value: object) -> object:
    """A decoded value with a number's scale kept: Decimal("10.10") is not Decimal("10.1")."""
    return ("number", str(value)) if isinstance(value, Decimal) else value


def both_ways(item, spec: FieldSpec, read, count: int) -> list[tuple[object, object]]:
    """(CSV decoder's value, COQL decoder's value) for the sampled records of a field."""
    from_csv = compile_row_decoder([(0, "v", spec.kind)])
    from_json = converter(spec.kind, spec.scale)
    write_cell = cell_formatter(item, ZONE)
    pairs = []
    # a sparse field (a tenth filled, or less) is read in every record, so some hold a value
    for index in range(count) if item.filled is not None else SAMPLE[: (count + 2) // 3]:
        value = read(index)
        pairs.append(
            (exact(from_csv([write_cell(value)])["v"]), exact(from_json(json_of(item, value))))
        )
    return pairs


def spec_of(module: str, item) -> FieldSpec:
    """The field as discovery reads it from the emulator's metadata."""
    entry = item.metadata("1", DATASET.org, "crm", module)
    found = field_specs([entry], module, logging.getLogger("test"))
    if found:
        return found[0]
    listed = {"api_name": module, "generated_type": "default", "convertable": module == "Leads"}
    return next(s for s in record_state_specs(listed, "crm", []) if s.name == item.api_name)


FIELDS = [
    (module.api_name, item)
    for module in DATASET.org.modules["crm"].values()
    for item in (*module.fields, *virtual_fields(module).values())
    if item.data_type not in NOT_EXPORTABLE_TYPES and DATASET.get("crm", module.api_name).base_count  # type: ignore[union-attr]
]


@pytest.mark.parametrize(("module", "item"), FIELDS, ids=[f"{m}.{i.api_name}" for m, i in FIELDS])
def test_every_field_decodes_the_same_from_json_as_from_csv(module: str, item) -> None:
    data = DATASET.get("crm", module)
    assert data is not None
    pairs = both_ways(item, spec_of(module, item), data.reader(item), data.count)
    assert [a for a, _ in pairs] == [b for _, b in pairs]
    assert any(a is not None for a, _ in pairs) or item.data_type in ("imageupload",), "all null"


@pytest.mark.parametrize(("module", "dotted"), [(m, d) for m, ds in DOT_FIELDS.items() for d in ds])
def test_lookup_dot_fields_decode_the_same_from_json_as_from_csv(module: str, dotted: str) -> None:
    """Text dot fields decode alike; a number's decimals are not known, so COQL refuses it."""
    data = DATASET.get("crm", module)
    assert data is not None
    item, read = resolve_field(data, dotted)
    values = [read(index) for index in SAMPLE[: (data.count + 2) // 3]]
    decode = dot_field_converter()
    if item.value_type in NUMBER_TYPES:
        numbers = [json_of(item, value) for value in values if value is not None]
        assert numbers
        for number in numbers:
            with pytest.raises(NoScale):
                decode(number)
        return
    write_cell, from_csv = cell_formatter(item, ZONE), compile_row_decoder([(0, "v", KIND_STRING)])
    pairs = [(from_csv([write_cell(v)])["v"], decode(json_of(item, v))) for v in values]
    assert [a for a, _ in pairs] == [b for _, b in pairs]
    assert any(a is not None for a, _ in pairs)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("number", "lots"), ("number", True), ("integer", 1.5), ("integer", "12a"),
        ("boolean", "true"), ("datetime", "2024-05-01"), ("datetime", 1714521600),
        ("date", "01/02/2024"), ("multi", "A;B"), ("tags", [{"id": "1"}]), ("tags", "VIP"),
        ("string", {"name": "no id"}), ("string", [1, 2]),
    ],
)  # fmt: skip
def test_a_value_of_the_wrong_shape_is_refused_not_guessed(kind: str, value: object) -> None:
    with pytest.raises(ValueError):
        converter(kind)(value)
    assert issubclass(NotAValue, ValueError)


def test_columns_are_split_fifty_to_a_select_each_with_id_and_modified_time() -> None:
    columns = [f"Field_{n}" for n in range(120)] + ["id", "Modified_Time"]
    chunks = column_chunks(columns, ["id", "Modified_Time"])
    assert all(
        len(chunk) <= MAX_COLUMNS and chunk[:2] == ["id", "Modified_Time"] for chunk in chunks
    )
    assert sorted(c for chunk in chunks for c in chunk[2:]) == sorted(columns[:120])
    assert len(chunks) == 3


def test_a_query_is_what_the_emulator_parses_and_answers_in_order() -> None:
    from datetime import datetime, timezone

    start = datetime(2025, 6, 1, tzinfo=timezone.utc)
    text = select("Leads", ["id", "Modified_Time"], since("Modified_Time", start),
                  "Modified_Time asc, id asc", 2000)  # fmt: skip
    answer = coql.parse(DATASET, "crm", {"select_query": text}).run(ZONE)
    assert answer is not None
    data = DATASET.get("crm", "Leads")
    assert data is not None
    truth = sorted(
        (data.modified_time(i), data.id_of(i))
        for i in data.live_indices()
        if data.modified_time(i) >= int(start.timestamp())
    )
    assert [row["id"] for row in answer["data"]] == [record_id for _, record_id in truth]
    assert answer["info"] == {"count": len(truth), "more_records": False}
