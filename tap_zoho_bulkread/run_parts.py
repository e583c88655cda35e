"""The collaborators of one run, built once from the settings and handed to the streams by name.

The tap makes one :class:`RunParts`; each stream reads the parts it uses from it (the API
session, the jobs, the planner and the REST readers). Nothing here knows singer-sdk's streams:
what the parts need to know of the streams comes through :class:`StreamOrder`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Protocol

import platformdirs

from tap_zoho_bulkread.bulk.jobs import BulkJobs, JobsAhead
from tap_zoho_bulkread.bulk.ledger import JobSettings
from tap_zoho_bulkread.config import TapConfig
from tap_zoho_bulkread.coql.read import DeltaReader
from tap_zoho_bulkread.planner import ReadPlanner
from tap_zoho_bulkread.summary import RunSummary
from tap_zoho_bulkread.zoho.auth import TokenCache, ZohoAuthenticator
from tap_zoho_bulkread.zoho.changes import ChangeProbe
from tap_zoho_bulkread.zoho.client import DownloadLimiter, ZohoClient
from tap_zoho_bulkread.zoho.data_centers import (
    ACCOUNTS_SERVERS,
    DEFAULT_VERSIONS,
    ApiPaths,
    configured_api_domain,
    trusted_api_domains,
)
from tap_zoho_bulkread.zoho.deletions import DeletionReader, RecycleBinMemory, RestoreFinder
from tap_zoho_bulkread.zoho.editions import org_reads_at_once


class StreamOrder(JobsAhead, RecycleBinMemory, Protocol):
    """The module streams of the run, in their order: who is next, what each kept of its bin."""

    def read_ahead(self, stream: str) -> None:
        """Check and read, ahead of their turn, the module streams after ``stream``."""


class PartsHolder(Protocol):
    """What holds the run's parts: the tap."""

    @property
    def parts(self) -> RunParts:
        """The run's parts."""


class RunParts:
    """The API session, the jobs, the planner and the REST readers every stream shares."""

    def __init__(
        self,
        settings: TapConfig,
        logger: logging.Logger,
        order: StreamOrder,
        summary: RunSummary | None = None,
    ) -> None:
        self.settings = settings
        self.logger = logger
        self.order = order
        self.summary = summary or RunSummary()
        self.run_started = datetime.now(timezone.utc)  # before any job of this run
        self.api = ApiPaths(
            settings.product, settings.api_version or DEFAULT_VERSIONS[settings.product]
        )

    @property
    def accounts_url(self) -> str:
        """The accounts server of the configured data center (or the override)."""
        return self.settings.accounts_url or ACCOUNTS_SERVERS[self.settings.data_center]

    @property
    def api_domain(self) -> str | None:
        """The API domain, when settings decide it rather than the token."""
        settings = self.settings
        return configured_api_domain(
            settings.data_center, settings.environment, settings.accounts_url, settings.api_domain
        )

    @cached_property
    def client(self) -> ZohoClient:
        """The one API session (and token) every stream shares."""
        settings = self.settings
        cache = None
        if settings.token_cache:
            cache = TokenCache(
                Path(platformdirs.user_cache_dir("tap-zoho-bulkread")),
                client_id=settings.client_id,
                client_secret=settings.client_secret,
                refresh_token=settings.refresh_token,
                accounts=self.accounts_url,
                logger=self.logger,
            )
        max_tries = max(settings.max_tries, 1)
        authenticator = ZohoAuthenticator(
            accounts_url=self.accounts_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            refresh_token=settings.refresh_token,
            cache=cache,
            max_tries=max_tries,
            retry_base_seconds=settings.retry_wait_seconds,
        )
        return ZohoClient(
            authenticator,
            api_domain=self.api_domain,
            logger=self.logger,
            trusted_api_domains=trusted_api_domains(settings.data_center, settings.accounts_url),
            limiter=DownloadLimiter(settings.max_downloads_per_minute),
            max_tries=max_tries,
            retry_base_seconds=settings.retry_wait_seconds,
        )

    @cached_property
    def queries_at_once(self) -> int:
        """Modules checked and read ahead at once: the setting, else from the org's edition."""
        if self.settings.max_concurrent_queries is not None:
            return self.settings.max_concurrent_queries
        return org_reads_at_once(self.client, self.api, self.logger)

    @cached_property
    def jobs(self) -> BulkJobs:
        """The run's bulk read jobs: where they go, how patiently they are awaited."""
        settings = JobSettings(
            product=self.api.product,
            version=self.api.version,
            poll_interval_seconds=self.settings.poll_interval_seconds,
            job_timeout_seconds=self.settings.job_timeout_seconds,
            max_concurrent_jobs=self.settings.max_concurrent_jobs,
        )
        return BulkJobs(self.client, settings, self.logger, ahead=self.order)

    @cached_property
    def deletion_reader(self) -> DeletionReader:
        """Reads Zoho's lists of deleted records, for Deleted_Records and module streams."""
        return DeletionReader(self.client, self.api, self.logger)

    @property
    def module_deletions(self) -> DeletionReader | None:
        """The deletion reader of module streams, when deletions_in_module_streams is on."""
        return self.deletion_reader if self.settings.deletions_in_module_streams else None

    @cached_property
    def change_probe(self) -> ChangeProbe:
        """Asks the records API whether a module changed after a moment (once per run)."""
        return ChangeProbe(self.client, self.api)

    @cached_property
    def delta_reader(self) -> DeltaReader | None:
        """Reads small changes through the Query API (``POST /crm/v8/coql``); None if off."""
        if self.settings.bulk_only or not self.settings.query_api_max_records:
            return None
        return DeltaReader(
            self.client,
            path=f"{self.api.root}/coql",
            max_records=self.settings.query_api_max_records,
        )

    @cached_property
    def restore_finder(self) -> RestoreFinder:
        """Finds the records restored from each module's recycle bin since the last run."""
        return RestoreFinder(self.deletion_reader, self.order, self.logger)

    @cached_property
    def planner(self) -> ReadPlanner | None:
        """Decides each module's read path this run; None with ``bulk_only`` (a job each)."""
        if self.settings.bulk_only:
            return None
        return ReadPlanner(self.change_probe, self.delta_reader, self.restore_finder)
