"""Carries out the planner's answer for one module: nothing, the Query API, or a bulk job.

The stream asks once a run, with the facts of its state (``ModuleRun``); the decision is logged
once and kept. A Query API read that cannot be used turns the decision into a bulk read job.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from datetime import datetime

from tap_zoho_bulkread.bulk.export import ExportPlan
from tap_zoho_bulkread.coql.read import DeltaExport, DeltaReader, DeltaUnusable
from tap_zoho_bulkread.errors import Action, ZohoAPIError, rule_of
from tap_zoho_bulkread.planner import ModuleRun, ReadPlan, ReadPlanner
from tap_zoho_bulkread.zoho.changes import ChangeProbe


class ModuleReadPath:
    """One module's read path this run: decided by the planner (None: ``bulk_only``)."""

    def __init__(
        self,
        facts: ModuleRun,
        logger: logging.Logger,
        planner: ReadPlanner | None,
        delta: DeltaReader | None,
        sampler: ChangeProbe | None,
    ) -> None:
        """``facts``: what the settings say of the module; its state is told to ``decide``."""
        self.facts = facts
        self.module = facts.module
        self.logger = logger
        self.planner = planner
        self.delta = delta  # reads a small change through the Query API
        self.sampler = sampler  # reads one record for --test
        self.decision: ReadPlan | None = None
        self._lock = threading.RLock()  # the module is read ahead of its turn in another thread
        self._kept: DeltaExport | None = None  # read ahead, waiting for the module's turn
        self._turn_came = False

    def decide(
        self,
        *,
        resumes: bool,
        start: datetime | None,
        last_export_began: datetime | None,
        restored_records: bool,
    ) -> ReadPlan:
        """The module's read path this run, from what its state says (decided, logged once)."""
        with self._lock:
            if self.decision is not None:
                return self.decision
            facts = replace(
                self.facts, resumes=resumes, start=start,
                last_export_began=last_export_began, restored_records=restored_records,
            )  # fmt: skip
            decision = (
                self.planner.plan(facts)
                if self.planner is not None
                else ReadPlan(True, "bulk_only is set")
            )
            self.logger.info("%s: %s: %s", self.module, decision.path, decision.why)
            self.decision = decision
            return decision

    def query_api_export(self, plan: ExportPlan, *, ahead: bool = False) -> DeltaExport | None:
        """The change read through the Query API, or None (the decision is bulk read then).

        ``ahead``: read before the module's turn and kept for it (nothing is returned); at the
        turn, what was kept is handed out with ``plan``'s constants, or the read is made then.
        """
        with self._lock:
            if ahead:
                if not self._turn_came and self._kept is None:
                    self._kept = self._read(plan)
                return None
            self._turn_came = True
            kept, self._kept = self._kept, None
            if kept is None:
                return self._read(plan)
            kept.fill(plan.constants)
            return kept

    def _read(self, plan: ExportPlan) -> DeltaExport | None:
        decision = self.decision
        if decision is None or not decision.where or self.delta is None:
            return None
        started = time.monotonic()
        try:
            export = self.delta.read(plan, decision.where, decision.order_by)
        except DeltaUnusable as exc:
            self.decision = ReadPlan(True, f"the Query API read was given up: {exc}")
            self.logger.info("%s: bulk read after all: %s", self.module, exc)
            return None
        self.logger.info(
            "%s: %d records read through the Query API in %.1fs",
            self.module,
            len(export.records),
            time.monotonic() - started,
        )
        return export

    def sample(self) -> str | None:
        """``--test``: one record's id through the records API, one small request, no job.

        A module the records API does not list is said and gives none; any other refusal is
        raised as Zoho's ``ZohoAPIError``.
        """
        if self.sampler is None:
            return None
        try:
            found = self.sampler.one_record(self.module)
        except ZohoAPIError as exc:
            if rule_of(exc.code).on_list is not Action.SKIP_LIST:
                raise
            self.logger.info(
                "%s: the records API does not list this module (%s); --test makes no job for it",
                self.module,
                exc.code,
            )
            return None
        self.logger.info(
            "%s: --test read %s through the records API (no bulk read job)",
            self.module,
            "one record" if found else "no record (the module is empty)",
        )
        return found
