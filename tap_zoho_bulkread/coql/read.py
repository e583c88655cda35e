"""A small change read through the Query API: counted first, then read whole, then checked.

``count`` tells, with one call listing ids only, whether at most ``max_records`` records match
(the stream then reads them here instead of making a bulk read job). ``read`` selects them in
chunks of at most 50 columns, each chunk the same WHERE and ORDER BY, and merges the chunks by
id. Every chunk carries ``id`` and ``Modified_Time``: a record edited between two chunks, or a
record that appeared or vanished, would merge two versions into one row, so the read is given
up (``DeltaUnusable``) and the stream makes its bulk read job after all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tap_zoho_bulkread.bulk.batches import newest
from tap_zoho_bulkread.bulk.export import ExportItem, ExportPlan, PageEnd
from tap_zoho_bulkread.bulk.metadata import dot_field_property
from tap_zoho_bulkread.coql.decode import NoScale, NotAValue, converter, dot_field_converter
from tap_zoho_bulkread.coql.query import MAX_LIMIT, column_chunks, select
from tap_zoho_bulkread.errors import TAP_REFUSALS, ZohoAPIError
from tap_zoho_bulkread.zoho.answers import API_NAME, unexpected, zoho_id
from tap_zoho_bulkread.zoho.client import ZohoClient


class DeltaUnusable(Exception):
    """The Query API cannot give this read (Zoho refused it, or the records moved under it)."""


class DeltaReader:
    """Reads small changes of a module through ``POST {api_root}/coql``."""

    def __init__(self, client: ZohoClient, *, path: str, max_records: int) -> None:
        """``max_records`` (at most 2,000: one call per chunk of columns) is the threshold."""
        self.client = client
        self.path = path
        self.max_records = min(max_records, MAX_LIMIT)

    def _select(self, query: str, what: str) -> tuple[list[dict[str, Any]], bool]:
        """The rows and ``more_records`` of one SELECT; Zoho's refusal as DeltaUnusable."""
        try:
            answer = self.client.post_json(self.path, {"select_query": query}, exact=True)
        except ZohoAPIError as exc:
            if exc.code in TAP_REFUSALS:
                raise
            column = exc.details.get("column_name") if isinstance(exc.details, dict) else None
            if isinstance(column, str) and API_NAME.fullmatch(column.replace(".", "_", 1)):
                # bulk read may export what COQL refuses (image upload fields): bulk decides
                raise DeltaUnusable(
                    f"the Query API refuses the column {column} ({exc.code}); deselect it to "
                    "read small changes without a bulk read job"
                ) from None
            raise DeltaUnusable(f"the Query API refused it ({exc.code})") from None
        if not answer:
            return [], False  # 204: no record matches
        rows, info = answer.get("data"), answer.get("info")
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise unexpected(f"{what}: the Query API answered data", rows)
        more = info.get("more_records") if isinstance(info, dict) else None
        if not isinstance(more, bool):
            raise unexpected(f"{what}: the Query API answered info", info)
        if len(rows) > self.max_records:
            raise unexpected(
                f"{what}: the Query API answered more rows than the LIMIT of "
                f"{self.max_records}, namely",
                len(rows),
            )
        for row in rows:
            row["id"] = zoho_id(row.get("id"), f"{what}: a row's id")
        return rows, more

    def ids(self, module: str, where: str, order_by: str) -> list[str] | None:
        """The ids of the records that match, or None when more than ``max_records`` do."""
        rows, more = self._select(select(module, ["id"], where, order_by, self.max_records), module)
        return None if more else [row["id"] for row in rows]

    def read(self, plan: ExportPlan, where: str, order_by: str) -> DeltaExport:
        """Every matching record, decoded as the bulk path decodes it."""
        dotted = {dot_field_property(name): name for name in plan.dot_fields}
        wanted = plan.exported
        column_of = {prop: dotted.get(prop, prop) for prop in wanted}
        has_modified = any(spec.name == "Modified_Time" for spec in plan.specs)
        fixed = ["id", "Modified_Time"] if has_modified else ["id"]
        merged: dict[str, dict[str, Any]] = {}
        order: list[str] = []
        for number, columns in enumerate(column_chunks(list(column_of.values()), fixed)):
            rows, more = self._select(
                select(plan.module, columns, where, order_by, self.max_records), plan.module
            )
            if more:
                raise DeltaUnusable(f"more than {self.max_records} records match now")
            ids = [row["id"] for row in rows]
            if len(set(ids)) != len(ids):
                raise unexpected(f"{plan.module}: the Query API listed a record twice", ids[:5])
            if number == 0:
                order = ids
                merged = {row["id"]: row for row in rows}
                continue
            if ids != order or any(
                merged[row["id"]].get("Modified_Time") != row.get("Modified_Time") for row in rows
            ):
                raise DeltaUnusable("records changed while they were read")
            for row in rows:
                merged[row["id"]].update(row)
        decode = _RowDecoder(plan, column_of, frozenset(dotted))
        return DeltaExport(plan, [decode(merged[record_id]) for record_id in order])


class _RowDecoder:
    """One merged COQL row -> the record the bulk path emits for it."""

    def __init__(self, plan: ExportPlan, column_of: dict[str, str], dotted: frozenset[str]) -> None:
        specs = {spec.name: spec for spec in plan.specs}
        self.module = plan.module
        self.columns = [
            (
                prop,
                column,
                dot_field_converter()
                if prop in dotted or spec is None
                else converter(spec.kind, spec.scale),
            )
            for prop, column in column_of.items()
            for spec in [specs.get(prop)]
        ]
        self.fixed: dict[str, Any] = {
            **{prop: None for prop in plan.selected if prop in plan.absent},
            **{prop: plan.constants[prop] for prop in plan.selected if prop in plan.constants},
        }

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for prop, column, convert in self.columns:
            if column not in row:
                # a value not sent is not known to be empty: bulk read gives every column
                raise DeltaUnusable(f"the Query API's rows leave out the column {column}")
            try:
                record[prop] = convert(row[column])
            except NoScale:
                raise DeltaUnusable(
                    f"the Query API gives the dot field {column} as a number without the "
                    "decimals its CSV text has"
                ) from None
            except (NotAValue, ValueError, ArithmeticError):
                raise unexpected(
                    f"{self.module}: the Query API gave record {row['id']} a {column} that is "
                    "not a valid value of its type",
                    row[column],
                ) from None
        record.update(self.fixed)
        return record


class DeltaExport:
    """Records read through the Query API, handed out as the bulk export's are."""

    skipped = False

    def __init__(self, plan: ExportPlan, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.emitted = 0
        key = plan.replication_key
        self.newest = newest(records, key) if key else None

    def fill(self, constants: dict[str, int]) -> None:
        """Give every record the values one run has in every row (a full table's version)."""
        for record in self.records:
            record.update(constants)

    def items(self) -> Iterator[ExportItem]:
        """The records (at most one call's worth: one batch), then one ``PageEnd``."""
        if self.records:
            self.emitted = len(self.records)
            yield self.records
        yield PageEnd(1, self.emitted)
