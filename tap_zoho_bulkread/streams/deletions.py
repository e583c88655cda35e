"""Deleted_Records: the records Zoho lists as deleted, and those restored from its recycle bin.

The lists are read by ``zoho.deletions``; this stream turns them into rows, one partition per
module, with a bookmark per module.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_zoho_bulkread.errors import ZohoAPIError
from tap_zoho_bulkread.streams.base import ZohoStream
from tap_zoho_bulkread.summary import plural
from tap_zoho_bulkread.zoho.deletions import DeletionReader, RestoreFinder, restored_record
from tap_zoho_bulkread.zoho.recycle_bin import RECYCLE_SEEN_KEY, encode_ids

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

DELETED_SCHEMA = th.PropertiesList(
    th.Property("module", th.StringType, required=True, description="Zoho module api_name"),
    th.Property("id", th.StringType, required=True, description="Id of the deleted record"),
    th.Property("display_name", th.StringType),
    th.Property(
        "type",
        th.StringType,
        description="recycle (in the recycle bin), permanent (purged), or restored (taken out "
        "of the recycle bin since: the record is live again)",
    ),
    th.Property("deleted_time", th.DateTimeType, description="UTC; null for a restored record"),
    th.Property("deleted_by_id", th.StringType),
    th.Property("deleted_by_name", th.StringType),
    th.Property("created_by_id", th.StringType),
).to_dict()


class ParentModules(Protocol):
    """Which modules the run reads that have records of their own."""

    def selected_parents(self) -> list[str]:
        """The selected modules that are not subforms or linking modules."""


class DeletedRecordsStream(ZohoStream):
    """Records deleted in Zoho, and restored since, for every selected module stream.

    Incremental on ``deleted_time``, with one bookmark per module (a state partition each):
    records keep being deleted while the lists are read one module at a time, so one bookmark
    for all would skip the deletions of a module read before a later, newer one.
    ``If-Modified-Since`` is the module's bookmark less a second, so the boundary is read again
    (the target upserts on module + id). A module without a bookmark of its own (the first run,
    or a state written with one bookmark for all modules) is read from ``start_date``.

    A record the :class:`RestoreFinder` found restored gets a row of type ``restored`` (its
    module's stream exported it again). Deletions listed here that the finder's look at the bin
    missed (made after it) are kept in the partition's state as ``recycle_seen``, so that their
    restore is found too.
    """

    name = "Deleted_Records"
    primary_keys = ("module", "id")
    replication_key = "deleted_time"
    is_sorted = False
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(
        self,
        tap: Tap,
        *,
        deletions: DeletionReader,
        restores: RestoreFinder,
        modules: ParentModules,
    ) -> None:
        super().__init__(tap=tap, name=self.name, schema=DELETED_SCHEMA)
        self.deletions = deletions
        self.restores = restores
        self.modules = modules

    @property
    @override
    def partitions(self) -> list[dict[str, Any]]:
        """One partition, and so one bookmark, per selected module."""
        return [{"module": module} for module in self.modules.selected_parents()]

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The module's restored records, then its deletions since its bookmark, every page.

        Restores come first: a record restored and then deleted again ends as deleted. A module
        whose list cannot be read is one WARNING; its bookmark stays where it was (no deletion
        read before the failure moves it), and the other modules are still read.
        """
        module = str((context or {}).get("module"))
        state = self.get_context_state(context)
        change = self.restores.change(module)
        if not change.checked:
            self.drop_progress(context)
            return  # the list cannot be read; the finder said so, and the bookmark stays
        yield from (restored_record(module, record_id) for record_id in sorted(change.restored))
        start = self.get_starting_timestamp(context)
        started, read, binned = time.monotonic(), 0, set()
        try:
            for record in self.deletions.since(module, start):
                read += 1
                if record["type"] == "recycle":
                    binned.add(record["id"])
                yield record
        except ZohoAPIError as exc:
            self.drop_progress(context)
            self.deletions.warn_unlisted(module, exc)
            return
        unseen = binned - change.binned
        if unseen:
            state[RECYCLE_SEEN_KEY] = encode_ids(unseen)
        else:
            state.pop(RECYCLE_SEEN_KEY, None)
        self.logger.info(
            "Deleted_Records: %s of %s read in %.1fs%s",
            plural(read, "deletion"),
            module,
            time.monotonic() - started,
            f", {plural(len(change.restored), 'restored record')}" if change.restored else "",
        )
