"""How each module is read this run, and why: nothing, the Query API, or a bulk read job.

The stream hands the planner plain facts (its state, its settings) and the planner asks Zoho
only what those facts leave open: the records API whether anything changed after the bookmark
(or, for a full table, whether its records changed, were deleted or restored), the Query API how
many records the window holds, and the records API again whether the Query API's window leaves
a record out. Each answer is a :class:`ReadPlan` with its reason, which the stream logs once.
No singer-sdk here: the rules are tested as a table (``tests/unit/test_planner.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tap_zoho_bulkread.coql.query import EVERY_RECORD, since
from tap_zoho_bulkread.coql.read import DeltaReader, DeltaUnusable
from tap_zoho_bulkread.times import zoho_datetime
from tap_zoho_bulkread.zoho.changes import ChangeProbe
from tap_zoho_bulkread.zoho.deletions import RestoreFinder

# A bookmark at least this long before the export began cannot gain a record in its own second.
SAME_SECOND_MARGIN = timedelta(seconds=60)
DONE_TO = {"Created_Time": "created", "Modified_Time": "modified"}  # what a key's value says


@dataclass(frozen=True)
class ReadPlan:
    """Whether a run makes bulk read jobs for a module, and why (logged once).

    ``where`` (with ``order_by``) is set when the change is read through the Query API.
    """

    bulk: bool
    why: str
    where: str = ""
    order_by: str = ""

    @property
    def path(self) -> str:
        """The path the module's records take, as the log line names it."""
        if self.bulk:
            return "bulk read"
        return "Query API" if self.where else "no bulk read job"


@dataclass(frozen=True)
class ModuleRun:
    """What the planner is told of a module this run: its settings and its state."""

    module: str
    replication_key: str | None
    child_of: str | None = None
    child_kind: str | None = None  # "subform" or "linking"
    resumes: bool = False  # the state holds an interrupted export's checkpoint
    start: datetime | None = None  # the bookmark, or start_date
    last_export_began: datetime | None = None
    restored_records: bool = False  # records restored from the recycle bin since the last run
    own_filter: bool = False  # a cvid or criteria of module_settings: bulk read's own


class ReadPlanner:
    """Decides each module's read path; ``changes`` None means ``bulk_only``."""

    def __init__(
        self,
        changes: ChangeProbe | None,
        delta: DeltaReader | None,
        restores: RestoreFinder | None,
    ) -> None:
        self.changes = changes
        self.delta = delta
        self.restores = restores

    def plan(self, run: ModuleRun) -> ReadPlan:
        """Bulk read, the Query API, or nothing to read, with the reason."""
        if self.changes is None:
            return ReadPlan(True, "bulk_only is set")
        if run.resumes:
            return ReadPlan(True, "the interrupted export resumes")
        if run.replication_key is None:
            return self._full_table(run, self.changes)
        start = run.start
        if start is None:
            return ReadPlan(True, "no bookmark yet: the whole module")
        if run.restored_records:
            return ReadPlan(True, "records restored from the recycle bin are read again")
        key = run.replication_key
        where, order_by = since(key, start), f"{key} asc, id asc"
        last = run.last_export_began
        if last is None:
            why = "when the last export began is not in the state"
            return self._small(run, ReadPlan(True, why), where, order_by, start)
        if start > last - SAME_SECOND_MARGIN:
            # the records API cannot tell; a count at or after the bookmark, like the job, can
            why = "the bookmark is too close to the last export's start to trust its second"
            return self._small(run, ReadPlan(True, why), where, order_by, start)
        what = f"the bookmark {zoho_datetime(start)}"
        changed = self._changed(self.changes, run, run.module, start, what, key)
        if changed is not None:
            return self._small(run, changed, where, order_by, start)
        return ReadPlan(
            False,
            f"the records API lists nothing {DONE_TO[key]} after {zoho_datetime(start)}; the "
            "bookmark stays",
        )

    @staticmethod
    def _changed(
        changes: ChangeProbe,
        run: ModuleRun,
        module: str,
        moment: datetime,
        what: str,
        key: str = "Modified_Time",
    ) -> ReadPlan | None:
        """Bulk read if the records API says ``module`` changed after ``moment``, or cannot say.

        ``key`` is the field asked about; ``what`` names ``moment`` in the log line.
        """
        change = changes.after(module, moment, key)
        if change.changed is None:
            return ReadPlan(True, f"the records API cannot tell ({change.refusal})")
        if not change.changed:
            return None
        assert change.newest is not None
        subject = "a record" if module == run.module else f"a record of {module}"
        return ReadPlan(
            True, f"{subject} was {DONE_TO[key]} at {zoho_datetime(change.newest)}, after {what}"
        )

    def _small(
        self,
        run: ModuleRun,
        changed: ReadPlan,
        where: str,
        order_by: str,
        start: datetime | None = None,
    ) -> ReadPlan:
        """The change read through the Query API when at most its threshold of records match.

        Counted with one call listing ids. A custom view or criteria of the module's settings
        are bulk read's own, so such a module stays on bulk read. ``start``: the window starts
        at that value of the replication key (else the whole table).
        """
        if self.delta is None:
            return changed
        if run.own_filter:
            return ReadPlan(True, f"{changed.why}; a cvid or criteria needs bulk read")
        try:
            ids = self.delta.ids(run.module, where, order_by)
        except DeltaUnusable as exc:
            return ReadPlan(True, f"{changed.why}; {exc}")
        if ids is None:
            limit = self.delta.max_records
            return ReadPlan(True, f"{changed.why}; more than {limit} records to read")
        left_out = self._left_out_by_coql(run, set(ids), start)
        if left_out:
            return ReadPlan(True, f"{changed.why}; {left_out}")
        read = f"{changed.why}; {len(ids)} records to read, at most {self.delta.max_records}"
        return ReadPlan(False, read, where, order_by)

    def _left_out_by_coql(self, run: ModuleRun, ids: set[str], start: datetime | None) -> str:
        """Why the Query API's ids cannot be trusted as the whole window, or "" if they can.

        No Zoho document says whether COQL returns converted records or records awaiting
        approval; the records API says (with ``converted=both`` and ``approved=both``). Every
        id it lists in the window must be among COQL's, else the module takes its job. A
        subform's or link's rows have no conversion or approval of their own.
        """
        if run.child_of is not None or self.changes is None or self.delta is None:
            return ""
        key = run.replication_key or "Modified_Time"
        listed = self.changes.ids_since(run.module, start, key, self.delta.max_records)
        if listed is None:
            return "the records API cannot list the same records to check the Query API's"
        missing = listed - ids
        if missing:
            return (
                f"the Query API leaves out {len(missing)} of the records the records API lists "
                "(converted or awaiting approval), so bulk read exports them"
            )
        return ""

    def _whole_table(self, run: ModuleRun, changed: ReadPlan) -> ReadPlan:
        """A full table read again: through the Query API when it holds few enough rows."""
        return self._small(run, changed, EVERY_RECORD, "id asc")

    def _full_table(self, run: ModuleRun, changes: ChangeProbe) -> ReadPlan:
        """A full table is read again only if the records holding its rows changed.

        A subform's rows are written through their parent record (Kaizen #31), so they can
        only have changed if a parent record was modified, deleted or restored since the last
        export began; a plain module's rows, if one of its own was. A linking module's links
        can be made from either side, so it is always read whole: through COQL when small and
        once a job has read it (no Zoho document says COQL reads linking modules; if Zoho
        refuses, the job).
        """
        last = run.last_export_began
        if last is None:
            return ReadPlan(True, "when the last full export began is not in the state")
        if run.child_of and run.child_kind != "subform":
            # no change check: read whole, through COQL when small (Zoho refusing: a job)
            return self._whole_table(
                run, ReadPlan(True, "a linking module is read in full each run")
            )
        owner = run.child_of or run.module
        moment = last - SAME_SECOND_MARGIN
        changed = self._changed(changes, run, owner, moment, "the last full export began")
        if changed is not None:
            return self._whole_table(run, changed)
        deleted = changes.deleted_after(owner, moment)
        if deleted is None:
            return ReadPlan(True, f"whether records of {owner} were deleted is not known")
        if deleted:
            return self._whole_table(
                run, ReadPlan(True, f"records of {owner} were deleted since then")
            )
        bin_change = self.restores.change(owner) if self.restores is not None else None
        if bin_change is None or not (bin_change.checked and bin_change.compared):
            return ReadPlan(True, f"whether records of {owner} were restored is not known")
        if bin_change.restored:
            why = f"records of {owner} were restored from the recycle bin"
            return self._whole_table(run, ReadPlan(True, why))
        return ReadPlan(
            False,
            f"no record of {owner} was modified, deleted or restored since the last full "
            f"export began ({zoho_datetime(last)}); the table stays as it is",
        )
