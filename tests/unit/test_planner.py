"""The read planner, rule by rule: every read path the README's "Incremental semantics" states.

Each row gives a module's facts and what Zoho answers (stand-ins for the records API, the Query
API and the recycle bin look), and the path and reason the README promises for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tap_zoho_bulkread.coql.read import DeltaUnusable
from tap_zoho_bulkread.planner import ModuleRun, ReadPlanner
from tap_zoho_bulkread.zoho.changes import Change

BOOKMARK = datetime(2025, 6, 1, tzinfo=timezone.utc)
LAST_RUN = BOOKMARK + timedelta(hours=1)
NEWER = BOOKMARK + timedelta(minutes=30)


@dataclass
class Zoho:
    """What the stand-ins answer; ``asked`` records the questions."""

    change: Change = field(default_factory=lambda: Change(False))
    deleted: bool | None = False
    coql_ids: list[str] | Exception | None = field(default_factory=lambda: ["1", "2", "3"])
    listed: set[str] | None = field(default_factory=lambda: {"1", "2", "3"})
    bin_checked: bool = True
    bin_compared: bool = True
    restored: dict[str, str | None] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    max_records: int = 2000

    # the records API (ChangeProbe)
    def after(self, module: str, moment: datetime, key: str) -> Change:
        self.asked.append(f"after {module} {key}")
        return self.change

    def deleted_after(self, module: str, moment: datetime) -> bool | None:
        self.asked.append(f"deleted {module}")
        return self.deleted

    def ids_since(self, module: str, since: Any, key: str, most: int) -> set[str] | None:
        self.asked.append(f"listed {module}")
        return self.listed

    # the Query API (DeltaReader)
    def ids(self, module: str, where: str, order_by: str) -> list[str] | None:
        self.asked.append(f"coql {module} where {where}")
        if isinstance(self.coql_ids, Exception):
            raise self.coql_ids
        return self.coql_ids

    # the recycle bin look (RestoreFinder)
    def change_of_bin(self, module: str) -> Any:
        self.asked.append(f"bin {module}")
        return type(
            "Bin", (), {"checked": self.bin_checked, "compared": self.bin_compared,
                        "restored": self.restored}
        )()  # fmt: skip


class Bin:
    def __init__(self, zoho: Zoho) -> None:
        self.zoho = zoho

    def change(self, module: str) -> Any:
        return self.zoho.change_of_bin(module)


INCREMENTAL = {"module": "Leads", "replication_key": "Modified_Time", "start": BOOKMARK,
               "last_export_began": LAST_RUN}  # fmt: skip
SUBFORM = {"module": "Quoted_Items", "replication_key": None, "child_of": "Quotes",
           "child_kind": "subform", "last_export_began": LAST_RUN}  # fmt: skip
LINKING = {**SUBFORM, "module": "Contacts_X_Deals", "child_of": "Contacts", "child_kind": "linking"}
CHANGED = Change(True, NEWER)

# (rule, the module's facts, what Zoho answers, path, reason the log line gives)
RULES = [
    ("bulk_only: a job every run", INCREMENTAL, None, "bulk read", "bulk_only is set"),
    ("a checkpoint resumes its export", {**INCREMENTAL, "resumes": True}, Zoho(), "bulk read",
     "the interrupted export resumes"),
    ("no bookmark: the whole module", {**INCREMENTAL, "start": None}, Zoho(), "bulk read",
     "no bookmark yet: the whole module"),
    ("restored records are read again", {**INCREMENTAL, "restored_records": True}, Zoho(),
     "bulk read", "records restored from the recycle bin are read again"),
    ("nothing changed: no job, the bookmark stays", INCREMENTAL, Zoho(), "no bulk read job",
     "the records API lists nothing modified after 2025-06-01T00:00:00+00:00; the bookmark "
     "stays"),
    ("Created_Time: nothing created", {**INCREMENTAL, "replication_key": "Created_Time"}, Zoho(),
     "no bulk read job", "the records API lists nothing created after"),
    ("a small change: the Query API", INCREMENTAL, Zoho(change=CHANGED), "Query API",
     "a record was modified at 2025-06-01T00:30:00+00:00, after the bookmark "
     "2025-06-01T00:00:00+00:00; 3 records to read, at most 2000"),
    ("a large change: a job", INCREMENTAL, Zoho(change=CHANGED, coql_ids=None), "bulk read",
     "more than 2000 records to read"),
    ("the records API cannot tell: counted", INCREMENTAL,
     Zoho(change=Change(None, refusal="INVALID_MODULE")), "Query API",
     "the records API cannot tell (INVALID_MODULE); 3 records to read"),
    ("no last export start: counted", {**INCREMENTAL, "last_export_began": None}, Zoho(),
     "Query API", "when the last export began is not in the state; 3 records to read"),
    ("a bookmark near the last start: counted",
     {**INCREMENTAL, "last_export_began": BOOKMARK + timedelta(seconds=30)}, Zoho(), "Query API",
     "the bookmark is too close to the last export's start to trust its second"),
    ("a cvid or criteria: bulk read's own", {**INCREMENTAL, "own_filter": True},
     Zoho(change=CHANGED), "bulk read", "a cvid or criteria needs bulk read"),
    ("the Query API refuses: a job", INCREMENTAL,
     Zoho(change=CHANGED, coql_ids=DeltaUnusable("the Query API refused it (NO_PERMISSION)")),
     "bulk read", "the Query API refused it (NO_PERMISSION)"),
    ("COQL leaves out converted or unapproved records: a job", INCREMENTAL,
     Zoho(change=CHANGED, listed={"1", "2", "3", "4"}), "bulk read",
     "the Query API leaves out 1 of the records the records API lists (converted or awaiting "
     "approval), so bulk read exports them"),
    ("the records API cannot list the window: a job", INCREMENTAL,
     Zoho(change=CHANGED, listed=None), "bulk read",
     "the records API cannot list the same records to check the Query API's"),
    ("a full table without its last start: a job", {**SUBFORM, "last_export_began": None},
     Zoho(), "bulk read", "when the last full export began is not in the state"),
    ("a linking module: read whole each run", LINKING, Zoho(), "Query API",
     "a linking module is read in full each run; 3 records to read"),
    ("a subform whose parent changed: read whole", SUBFORM, Zoho(change=CHANGED), "Query API",
     "a record of Quotes was modified at 2025-06-01T00:30:00+00:00, after the last full export "
     "began"),
    ("a subform whose parent lost records: read whole", SUBFORM, Zoho(deleted=True),
     "Query API", "records of Quotes were deleted since then"),
    ("deletions unknown: a job", SUBFORM, Zoho(deleted=None), "bulk read",
     "whether records of Quotes were deleted is not known"),
    ("restores unknown: a job", SUBFORM, Zoho(bin_compared=False), "bulk read",
     "whether records of Quotes were restored is not known"),
    ("a parent restored: read whole", SUBFORM, Zoho(restored={"9": None}), "Query API",
     "records of Quotes were restored from the recycle bin"),
    ("a subform whose parent did not change: nothing", SUBFORM, Zoho(), "no bulk read job",
     "no record of Quotes was modified, deleted or restored since the last full export began "
     "(2025-06-01T01:00:00+00:00); the table stays as it is"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("facts", "zoho", "path", "why"), [row[1:] for row in RULES], ids=[row[0] for row in RULES]
)
def test_each_rule_gives_its_path_and_its_reason(
    facts: dict[str, Any], zoho: Zoho | None, path: str, why: str
) -> None:
    planner = (
        ReadPlanner(None, None, None) if zoho is None else ReadPlanner(zoho, zoho, Bin(zoho))  # type: ignore[arg-type]
    )
    plan = planner.plan(ModuleRun(**facts))
    assert plan.path == path
    assert why in plan.why, plan.why
    if path == "Query API":
        assert plan.where and plan.order_by


def test_child_rows_are_not_checked_against_the_records_api() -> None:
    """A subform's or link's rows have no conversion or approval of their own."""
    zoho = Zoho(change=CHANGED, listed={"something", "else"})
    plan = ReadPlanner(zoho, zoho, Bin(zoho)).plan(ModuleRun(**SUBFORM))  # type: ignore[arg-type]
    assert plan.path == "Query API"
    assert not [q for q in zoho.asked if q.startswith("listed")]


def test_the_planner_asks_only_what_the_facts_leave_open() -> None:
    zoho = Zoho()
    ReadPlanner(zoho, zoho, Bin(zoho)).plan(ModuleRun(**INCREMENTAL))  # type: ignore[arg-type]
    assert zoho.asked == ["after Leads Modified_Time"]  # nothing changed: no count, no listing
    resumed = Zoho()
    ReadPlanner(resumed, resumed, Bin(resumed)).plan(  # type: ignore[arg-type]
        ModuleRun(**{**INCREMENTAL, "resumes": True})
    )
    assert resumed.asked == []
