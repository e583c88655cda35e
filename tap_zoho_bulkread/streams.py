"""One singer-sdk stream per Zoho module: the bookmark goes in, typed records come out."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from singer_sdk.streams import Stream

from tap_zoho_bulkread.decode import RecordDecoder
from tap_zoho_bulkread.errors import ZohoAPIError, ZohoError
from tap_zoho_bulkread.metadata import FieldSpec
from tap_zoho_bulkread.query import build_query

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_zoho_bulkread.tap import TapZohoBulkRead


@dataclass(frozen=True)
class ModuleSettings:
    """The per-module part of the ``module_settings`` setting."""

    cvid: str | None = None
    criteria: Any = None
    replication_key: str | None = None
    lookup_fields: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, value: dict[str, Any] | None) -> ModuleSettings:
        """Read one module's entry of ``module_settings``."""
        value = value or {}
        return cls(
            cvid=str(value["cvid"]) if value.get("cvid") else None,
            criteria=value.get("criteria"),
            replication_key=value.get("replication_key"),
            lookup_fields=list(value.get("lookup_fields") or []),
        )


class ZohoModuleStream(Stream):
    """The records of one Zoho module, exported through bulk read jobs.

    Exports come sorted by id, not by the replication key, so the stream is unsorted: the
    bookmark advances only once the whole export has been read.
    """

    is_sorted = False

    def __init__(
        self,
        tap: TapZohoBulkRead,
        *,
        module: str,
        schema: dict[str, Any],
        specs: list[FieldSpec],
        replication_key: str | None,
        settings: ModuleSettings,
    ) -> None:
        super().__init__(tap=tap, name=module, schema=schema)
        self.module = module
        self.specs = specs
        self.settings = settings
        self.primary_keys = ["id"]
        self.replication_key = replication_key
        self._zoho_tap = tap

    def selected_properties(self) -> list[str]:
        """The properties selected in the catalog (``id`` and the replication key always)."""
        mask = self.mask
        return [
            name
            for name in self.schema["properties"]
            if name in ("id", self.replication_key) or mask.get(("properties", name), True)
        ]

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Run the module's bulk read jobs and yield every row of every page."""
        selected = self.selected_properties()
        lookup_fields = [f for f in self.settings.lookup_fields if f in selected]
        plain = [name for name in selected if name != "id" and name not in lookup_fields]
        start = self.get_starting_timestamp(context) if self.replication_key else None
        query = build_query(
            module=self.module,
            selected=plain,
            lookup_fields=lookup_fields,
            replication_key=self.replication_key,
            start=start,
            user_criteria=self.settings.criteria,
            cvid=self.settings.cvid,
        )
        self.logger.info(
            "%s: exporting %d fields%s",
            self.module,
            len(selected),
            f" where {self.replication_key} >= {start.isoformat()}" if start else " (full export)",
        )
        decoder = RecordDecoder(self.module, self.specs, selected)
        work_dir = Path(tempfile.mkdtemp(prefix=f"tap-zoho-{self.module}-"))
        started, total = time.monotonic(), 0
        try:
            reader = self._zoho_tap.bulk_reader(work_dir)
            for page in reader.pages(query):
                for record in decoder.records(page.path, page.job_id):
                    total += 1
                    yield record
        except ZohoAPIError as exc:
            raise self._explain(exc) from None
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
        self.logger.info("%s: %d records in %.1fs", self.module, total, time.monotonic() - started)

    def _explain(self, exc: ZohoAPIError) -> ZohoError:
        tap = self._zoho_tap
        if exc.code == "OAUTH_SCOPE_MISMATCH":
            prefix = "ZohoCRM" if tap.product == "crm" else "ZohoBigin"
            return ZohoError(
                f"{self.module}: the refresh token lacks the scopes {prefix}.bulk.read and "
                f"{prefix}.modules.{self.module}.READ. Create a refresh token with them, or "
                "deselect the stream."
            )
        if exc.code in ("NO_PERMISSION", "AUTHORIZATION_FAILED"):
            return ZohoError(
                f"{self.module}: the Zoho user has no permission to read this module "
                f"({exc.code}). Ask the org admin for access, or deselect the stream."
            )
        return ZohoError(f"{self.module}: {exc}")
