"""The tap: settings, data centers, stream construction, and reuse of an input catalog."""

from __future__ import annotations

import io
import json
import logging
import signal
import sys
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import IO, Any, ClassVar

import click
import platformdirs
from singer_sdk import typing as th
from singer_sdk.streams import Stream

from tap_zoho_bulkread.bulk.jobs import BulkReader, JobLedger, JobSettings, create_jobs_ahead
from tap_zoho_bulkread.config import DEFAULTS, TapConfig
from tap_zoho_bulkread.coql.read import DeltaReader
from tap_zoho_bulkread.discovery import (
    DiscoveredModule,
    modules_from_catalog,
    modules_from_metadata,
)
from tap_zoho_bulkread.errors import ConfigurationError, Interrupted, ZohoError
from tap_zoho_bulkread.planner import ReadPlanner
from tap_zoho_bulkread.settings import (
    ACCOUNTS_SERVERS,
    API_DOMAIN_SUFFIXES,
    DEFAULT_VERSIONS,
    ENVIRONMENT_HOSTS,
    REPLICATION_KEYS,
    SCOPE_PREFIXES,
    ModuleSettings,
    check_config_file,
    check_settings,
    future_start_date,
    read_state,
    trusted_api_domains,
    validate_against_schema,
)
from tap_zoho_bulkread.streams.base import ZohoTapBase
from tap_zoho_bulkread.streams.deletions import DeletedRecordsStream
from tap_zoho_bulkread.streams.events_ics import EventsIcsStream
from tap_zoho_bulkread.streams.full_table_reads import FullTableReadsStream
from tap_zoho_bulkread.streams.modules import CHECKPOINT_KEY, ZohoModuleStream
from tap_zoho_bulkread.streams.rest import UsersStream
from tap_zoho_bulkread.summary import RunSummary
from tap_zoho_bulkread.writers.records import BufferedMsgSpecWriter
from tap_zoho_bulkread.zoho import redact
from tap_zoho_bulkread.zoho.auth import TokenCache, ZohoAuthenticator
from tap_zoho_bulkread.zoho.changes import ChangeProbe
from tap_zoho_bulkread.zoho.client import DownloadLimiter, ZohoClient
from tap_zoho_bulkread.zoho.deletions import DeletionReader, RestoreFinder
from tap_zoho_bulkread.zoho.recycle_bin import RECYCLE_BIN_KEY, RECYCLE_SEEN_KEY, decode_ids

MODULE_SETTINGS = th.ObjectType(
    th.Property("cvid", th.StringType, description="Custom view id whose records to export."),
    th.Property(
        "criteria",
        th.ObjectType(),
        description="Zoho criteria JSON (either version's shape), ANDed with the bookmark.",
    ),
    th.Property(
        "replication_key",
        th.StringType,
        allowed_values=list(REPLICATION_KEYS),
        description="Overrides the tap-wide replication_key for this module.",
    ),
    th.Property(
        "lookup_fields",
        th.ArrayType(th.StringType),
        description="Dot fields such as Owner.last_name, added to the stream as strings "
        "named Owner__last_name.",
    ),
    additional_properties=False,
)


def _quiet_sdk_lines(record: logging.LogRecord) -> bool:
    """Drop singer-sdk's line on every run that tells a user nothing."""
    return record.getMessage() != "Skipping parse of env var settings..."


class TapZohoBulkRead(ZohoTapBase):
    """Zoho CRM and Bigin through the Bulk Read API."""

    name = "tap-zoho-bulkread"
    message_writer_class = BufferedMsgSpecWriter

    config_jsonschema = th.PropertiesList(
        th.Property("client_id", th.StringType, required=True, secret=True,
                    description="OAuth client id of a Zoho self client or server app."),
        th.Property("client_secret", th.StringType, required=True, secret=True,
                    description="OAuth client secret."),
        th.Property("refresh_token", th.StringType, required=True, secret=True,
                    description="Refresh token with the bulk read and module read scopes."),
        th.Property("data_center", th.StringType, default=DEFAULTS.data_center,
                    allowed_values=list(ACCOUNTS_SERVERS),
                    description="Where the Zoho org lives: us, eu, in, au, jp, cn, ca, sa."),
        th.Property("environment", th.StringType, default=DEFAULTS.environment,
                    allowed_values=list(ENVIRONMENT_HOSTS),
                    description="production, sandbox or developer org."),
        th.Property("accounts_url", th.StringType,
                    description="Accounts server override (e.g. an emulator's URL)."),
        th.Property("api_domain", th.StringType,
                    description="API domain override; else the one Zoho returns with the token."),
        th.Property("product", th.StringType, default=DEFAULTS.product,
                    allowed_values=["crm", "bigin"],
                    description="crm or bigin."),
        th.Property("api_version", th.StringType,
                    description="Bulk read API version: v2..v8 for CRM (default v8), "
                    "v1..v2 for Bigin (default v2)."),
        th.Property("start_date", th.DateTimeType,
                    description="Export records whose replication key is at or after this."),
        th.Property("modules", th.ArrayType(th.StringType),
                    description="Modules to expose as streams; default: every module bulk "
                    "read can export."),
        th.Property("replication_key", th.StringType, default=DEFAULTS.replication_key,
                    allowed_values=list(REPLICATION_KEYS),
                    description="Created_Time appends new records; Modified_Time also "
                    "captures updates."),
        th.Property("module_settings", th.ObjectType(additional_properties=MODULE_SETTINGS),
                    description="Per module: cvid, criteria, replication_key, lookup_fields "
                    "(no other key)."),
        th.Property("max_concurrent_jobs", th.IntegerType, default=DEFAULTS.max_concurrent_jobs,
                    description="Bulk read jobs in flight at once."),
        th.Property("poll_interval_seconds", th.NumberType, default=DEFAULTS.poll_interval_seconds,
                    description="First wait between job status checks; waits then grow."),
        th.Property("job_timeout_seconds", th.NumberType, default=DEFAULTS.job_timeout_seconds,
                    description="Give up on a job still unfinished after this long."),
        th.Property("max_tries", th.IntegerType, default=DEFAULTS.max_tries,
                    description="Tries per request before giving up on 429s, 5xx answers "
                    "and dropped connections (a host name that does not resolve or a refused "
                    "connection: 3 at most)."),
        th.Property("retry_wait_seconds", th.NumberType, default=DEFAULTS.retry_wait_seconds,
                    description="First wait between tries (doubling, up to 60s) when Zoho "
                    "sends no Retry-After."),
        th.Property("max_downloads_per_minute", th.IntegerType,
                    default=DEFAULTS.max_downloads_per_minute,
                    description="Zoho allows 10 result downloads a minute per org; lower it "
                    "when other tools share the org."),
        th.Property("deletions_in_module_streams", th.BooleanType,
                    default=DEFAULTS.deletions_in_module_streams,
                    description="Also emit {id, _sdc_deleted_at} in each module's stream for "
                    "records Zoho lists as deleted (for targets that delete on _sdc_deleted_at, "
                    "such as target-duckdb with hard_delete)."),
        th.Property("bulk_only", th.BooleanType, default=DEFAULTS.bulk_only,
                    description="Create a bulk read job for every selected module on every "
                    "run. Off, an incremental module first asks the records API (one call) "
                    "whether anything changed since its bookmark, and makes no job if not; "
                    "a small change is read through the Query API (COQL)."),
        th.Property("query_api_max_records", th.IntegerType,
                    default=DEFAULTS.query_api_max_records,
                    description="The most changed records (0 to 2000) an incremental run "
                    "reads through the Query API (COQL) instead of a bulk read job; 0 never "
                    "uses it."),
        th.Property("events_ics", th.BooleanType, default=DEFAULTS.events_ics,
                    description="Add the stream Events_ICS: Events exported as iCalendar, one "
                    "record per VEVENT with recurrence rules and edited occurrences."),
        th.Property("batch_compression_level", th.IntegerType,
                    default=DEFAULTS.batch_compression_level,
                    description="gzip level (0-9) of the BATCH files written when batch_config "
                    "is set; 1 is much faster than 9, for larger files."),
        th.Property("token_cache", th.BooleanType, default=DEFAULTS.token_cache,
                    description="Keep the access token (valid an hour) in a private file in "
                    "the user's cache folder, so discovery and syncs share one refresh."),
        th.Property("log_metrics", th.BooleanType, default=DEFAULTS.log_metrics,
                    description="Log singer-sdk's METRIC lines (record counts, timings as "
                    "JSON); off, the run ends with a readable summary instead."),
    ).to_dict()  # fmt: skip

    SYNCED_LAST = (FullTableReadsStream.name,)  # it lists the reads of the streams before it

    #: the tap of the current command, for the summary once its sync is over
    current: ClassVar[TapZohoBulkRead | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """The SDK's tap, with secrets redacted from every log line from here on."""
        redact.install()
        logging.getLogger(self.name).addFilter(_quiet_sdk_lines)
        self.run_summary = RunSummary()
        self.run_started = datetime.now(timezone.utc)  # before any job of this run
        self.discovering = False  # set by run_discovery: an interruption then writes no STATE
        super().__init__(*args, **kwargs)
        self.metrics_logger.addHandler(self.run_summary.metrics_handler())
        self.metrics_logger.propagate = self.settings.log_metrics
        TapZohoBulkRead.current = self

    def log_summary(self) -> None:
        """The run's last lines: each stream's records, pages and time, then the totals."""
        limiter = self.zoho_client.limiter
        for line in self.run_summary.lines(limiter.downloads, limiter.waited):
            self.logger.info("%s", line)

    def check_config(self) -> None:
        """Refuse bad settings in every mode, discovery included, with one clear line."""
        for name in ("client_id", "client_secret", "refresh_token"):
            redact.add_secret(self.config.get(name))
        validate_against_schema(dict(self.config), self.config_jsonschema)
        check_settings(dict(self.config))
        warning = future_start_date(dict(self.config))
        if warning:
            self.logger.warning(warning)

    @property
    def product(self) -> str:
        """``crm`` or ``bigin``."""
        return self.settings.product

    @property
    def api_version(self) -> str:
        """The configured API version (checked with the other settings)."""
        return self.settings.api_version or DEFAULT_VERSIONS[self.product]

    @property
    def api_root(self) -> str:
        """The REST API's path prefix: ``/crm/v8`` or ``/bigin/v2``."""
        return f"/{self.product}/{self.api_version}"

    @cached_property
    def settings(self) -> TapConfig:
        """The settings, typed, with their defaults (read once, after they were checked)."""
        return TapConfig.from_mapping(self.config)

    def accounts_url(self) -> str:
        """The accounts server of the configured data center (or the override)."""
        return self.settings.accounts_url or ACCOUNTS_SERVERS[self.settings.data_center]

    def configured_api_domain(self) -> str | None:
        """The API domain, when settings decide it rather than the token."""
        settings = self.settings
        if settings.api_domain:
            return settings.api_domain
        if settings.environment == "production" or settings.accounts_url:
            return None  # the api_domain Zoho returns with the token is authoritative
        suffix = API_DOMAIN_SUFFIXES[settings.data_center]
        return f"https://{ENVIRONMENT_HOSTS[settings.environment]}.zohoapis.{suffix}"

    @cached_property
    def zoho_client(self) -> ZohoClient:
        """The one API session (and token) every stream shares."""
        cache = None
        if self.settings.token_cache:
            cache = TokenCache(
                Path(platformdirs.user_cache_dir("tap-zoho-bulkread")),
                client_id=self.settings.client_id,
                client_secret=self.settings.client_secret,
                refresh_token=self.settings.refresh_token,
                accounts=self.accounts_url(),
                logger=self.logger,
            )
        max_tries = max(self.settings.max_tries, 1)
        retry_base_seconds = self.settings.retry_wait_seconds
        authenticator = ZohoAuthenticator(
            accounts_url=self.accounts_url(),
            client_id=self.settings.client_id,
            client_secret=self.settings.client_secret,
            refresh_token=self.settings.refresh_token,
            cache=cache,
            max_tries=max_tries,
            retry_base_seconds=retry_base_seconds,
        )
        return ZohoClient(
            authenticator,
            api_domain=self.configured_api_domain(),
            logger=self.logger,
            trusted_api_domains=trusted_api_domains(dict(self.config)),
            limiter=DownloadLimiter(self.settings.max_downloads_per_minute),
            max_tries=max_tries,
            retry_base_seconds=retry_base_seconds,
        )

    @cached_property
    def job_settings(self) -> JobSettings:
        """Where jobs go and how patiently they are awaited."""
        return JobSettings(
            product=self.product,
            version=self.api_version,
            poll_interval_seconds=self.settings.poll_interval_seconds,
            job_timeout_seconds=self.settings.job_timeout_seconds,
            max_concurrent_jobs=self.settings.max_concurrent_jobs,
        )

    @cached_property
    def job_ledger(self) -> JobLedger:
        """The jobs in flight across all streams."""
        return JobLedger(self.job_settings.max_concurrent_jobs)

    def bulk_reader(self, work_dir: Path, stream_name: str) -> BulkReader:
        """A job runner for ``stream_name``, writing its downloads under ``work_dir``."""
        return BulkReader(
            self.zoho_client,
            self.job_settings,
            self.logger,
            work_dir,
            ledger=self.job_ledger,
            schedule_ahead=lambda: self.create_jobs_ahead(stream_name),
        )

    def create_jobs_ahead(self, current: str) -> None:
        """Create the first job of the selected module streams after ``current``, if room.

        A stream with a checkpoint resumes its own jobs instead.
        """
        streams = [
            s
            for s in self.streams.values()
            if s.selected and isinstance(s, ZohoModuleStream) and not s.dry_run
        ]
        names = [s.name for s in streams]
        if current not in names:
            return
        later = streams[names.index(current) + 1 :]
        reader = BulkReader(
            self.zoho_client, self.job_settings, self.logger, Path(), ledger=self.job_ledger
        )
        create_jobs_ahead(
            reader,
            [
                (s.module, s.job_query)
                for s in later
                if not s.stream_state.get(CHECKPOINT_KEY) and s.export_needed()
            ],
        )

    def _module_settings(self, module: str) -> ModuleSettings:
        return ModuleSettings.from_config(self.settings.module_settings.get(module))

    def replication_key_for(
        self, module: str, properties: dict[str, Any], child_of: str | None
    ) -> str | None:
        """The module's replication key; None (FULL_TABLE) for a child module by default.

        A child row edited or removed in Zoho leaves nothing a criterion can find, so only a
        child's own ``module_settings`` entry makes it incremental.
        """
        key = self._module_settings(module).replication_key
        if key is None and child_of is None:
            key = self.settings.replication_key
        return key if key in properties else None

    def discover_streams(self) -> list[Stream]:
        """Streams from the input catalog when given (no API calls), else from Zoho metadata.

        Users and Deleted_Records, read through the REST API, come after the modules.
        """
        catalog = self.input_catalog
        if catalog:
            found = modules_from_catalog(catalog, self.logger)
        else:
            found = modules_from_metadata(
                self.zoho_client,
                prefix=f"{self.api_root}/settings",
                product=self.product,
                wanted=list(self.settings.modules) if self.settings.modules else None,
                module_settings={
                    name: self._module_settings(name) for name in self.settings.module_settings
                },
                logger=self.logger,
            )
        with_users = not catalog or "Users" in catalog
        with_deletions = not catalog or "Deleted_Records" in catalog
        with_ics = "Events_ICS" in catalog if catalog else self.settings.events_ics
        streams: list[Stream] = [self._module_stream(module) for module in found]
        if with_ics:
            streams.append(
                EventsIcsStream(self, bulk_reader=self.bulk_reader, summary=self.run_summary)
            )
        if with_users:
            streams.append(self._users_stream())
        if with_deletions:
            streams.append(self._deleted_records_stream())
        if not catalog or FullTableReadsStream.name in catalog:
            # last: it lists the full-table reads the streams before it completed
            streams.append(FullTableReadsStream(self, summary=self.run_summary))
        return streams

    @cached_property
    def deletion_reader(self) -> DeletionReader:
        """Reads Zoho's lists of deleted records, for Deleted_Records and module streams."""
        prefix = SCOPE_PREFIXES[self.product]
        return DeletionReader(
            self.zoho_client,
            path_of=self.records_path,
            scope_of=lambda module: f"{prefix}.modules.{module}.READ",
            logger=self.logger,
        )

    @cached_property
    def change_probe(self) -> ChangeProbe:
        """Asks the records API whether a module changed after a moment (once per run)."""
        return ChangeProbe(self.zoho_client, path_of=self.records_path)

    @cached_property
    def delta_reader(self) -> DeltaReader | None:
        """Reads small changes through the Query API (``POST /crm/v8/coql``); None if off."""
        if self.settings.bulk_only or not self.settings.query_api_max_records:
            return None
        return DeltaReader(
            self.zoho_client,
            path=f"{self.api_root}/coql",
            max_records=self.settings.query_api_max_records,
        )

    @cached_property
    def read_planner(self) -> ReadPlanner | None:
        """Decides each module's read path this run; None with ``bulk_only`` (a job each)."""
        if self.settings.bulk_only:
            return None
        return ReadPlanner(self.change_probe, self.delta_reader, self.restore_finder)

    def records_path(self, module: str) -> str:
        """A module's REST records path: ``/crm/v8/Leads``."""
        return f"{self.api_root}/{module}"

    @cached_property
    def restore_finder(self) -> RestoreFinder:
        """Finds the records restored from each module's recycle bin since the last run."""
        return RestoreFinder(
            self.deletion_reader,
            previous_of=self._previous_recycle_bin,
            key_of=lambda module: (
                self._module_stream_named(module).replication_key or "Created_Time"
            ),
            logger=self.logger,
        )

    def _module_stream_named(self, module: str) -> ZohoModuleStream:
        stream = self.streams[module]
        assert isinstance(stream, ZohoModuleStream)
        return stream

    def _previous_recycle_bin(self, module: str) -> set[str] | None:
        """The ids in the module's recycle bin at the last run, and those listed after that look.

        None when the module's state keeps no bin (the first run, or a state of 0.2).
        """
        if module not in self.streams or not self.streams[module].selected:
            return None  # a module this run does not read keeps no bin up to date
        kept = self._module_stream_named(module).stream_state.get(RECYCLE_BIN_KEY)
        if kept is None:
            return None
        # read, not through the SDK's writeable state: that would add a partition to the state
        # of a Deleted_Records stream that may not even be selected
        deleted = self.state.get("bookmarks", {}).get(DeletedRecordsStream.name, {})
        seen = [
            partition[RECYCLE_SEEN_KEY]
            for partition in deleted.get("partitions", [])
            if partition.get("context") == {"module": module} and RECYCLE_SEEN_KEY in partition
        ]
        return decode_ids(kept).union(*map(decode_ids, seen))

    def _module_deletions(self) -> DeletionReader | None:
        """The deletion reader module streams use, when deletions_in_module_streams is on."""
        return self.deletion_reader if self.settings.deletions_in_module_streams else None

    def _deleted_records_stream(self) -> DeletedRecordsStream:
        return DeletedRecordsStream(
            self,
            deletions=self.deletion_reader,
            restores=self.restore_finder,
            modules=lambda: [
                stream.module
                for stream in self.streams.values()
                if isinstance(stream, ZohoModuleStream) and stream.selected and not stream.child_of
            ],
        )

    def _users_stream(self) -> UsersStream:
        return UsersStream(
            self,
            client=self.zoho_client,
            users_path=f"{self.api_root}/users",
            scope=f"{SCOPE_PREFIXES[self.product]}.users.READ",
            summary=self.run_summary,
        )

    def _module_stream(self, found: DiscoveredModule) -> ZohoModuleStream:
        return ZohoModuleStream(
            self,
            module=found.module,
            schema=found.schema,
            specs=found.specs,
            dot_fields=found.dot_fields,
            replication_key=self.replication_key_for(
                found.module, found.schema.get("properties", {}), found.child_of
            ),
            settings=self._module_settings(found.module),
            bulk_reader=self.bulk_reader,
            product=self.product,
            deletions=None if found.child_of else self._module_deletions(),
            restores=self.restore_finder,
            planner=self.read_planner,
            sampler=self.change_probe,
            delta=self.delta_reader,
            run_started=self.run_started,
            child_of=found.child_of,
            child_kind=found.child_kind,
            summary=self.run_summary,
            compression_level=self.settings.batch_compression_level,
        )

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: Any = None,
        state: IO[str] | None = None,
        catalog: IO[str] | None = None,
    ) -> None:
        """Run the command line with a state file that is checked (and unwrapped) first."""
        if state is not None:
            checked = read_state(state.read(), getattr(state, "name", "given"))
            state.close()
            state = io.StringIO(json.dumps(checked))
        if catalog is not None:
            text = catalog.read()
            catalog.close()
            try:
                json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigurationError(
                    f"The catalog file {getattr(catalog, 'name', '')} is not JSON ({exc.msg} at "
                    f"line {exc.lineno}); write it with --discover or meltano."
                ) from None
            catalog = io.StringIO(text)
        cls.current = None
        super().invoke(
            about=about, about_format=about_format, config=config, state=state, catalog=catalog
        )
        if cls.current is not None and not about:
            cls.current.log_summary()

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """The SDK's ``--config`` reading, after each file is checked: one line if unusable."""
        for name in value:
            if name != "ENV":
                check_config_file(Path(name))
        return super().cb_config(ctx, param, value)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's command, opening --state and --catalog only when a sync reads them.

        Discovery never reads them; opened eagerly, Meltano's state file would be left open.
        """
        command = super().get_singer_command()
        for param in command.params:
            if param.name in ("state", "catalog"):
                param.type = click.File(lazy=True)
        return command

    def run_discovery(self) -> str:
        """The SDK's discovery, remembered as the mode (an interruption then has no STATE)."""
        self.discovering = True
        return super().run_discovery()

    def on_termination(self, signum: int) -> None:
        """On SIGTERM or SIGINT: write the last STATE, then unwind (temp files go) and fail.

        During discovery there is no state: nothing is written, and the message says so.
        """
        name = signal.Signals(signum).name
        if self.discovering:
            raise Interrupted(
                name,
                128 + signum,
                message=f"Interrupted by {name} during discovery; no catalog was written. Run "
                "the discovery again.",
            )
        self.state_writer.write_state(self.state)
        raise Interrupted(name, 128 + signum)


def main() -> None:
    """The ``tap-zoho-bulkread`` command: a problem the tap knows ends in one line, no traceback."""
    try:
        TapZohoBulkRead.cli()
    except ZohoError as exc:
        redact.install()
        TapZohoBulkRead.logger.error("%s", exc)
        sys.exit(1)
    except Interrupted as exc:
        redact.install()
        TapZohoBulkRead.logger.error("%s", exc)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
