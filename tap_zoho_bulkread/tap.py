"""The tap: the command line, its settings and state checked, and the streams it offers."""

from __future__ import annotations

import io
import json
import logging
import signal
import sys
from functools import cached_property
from pathlib import Path
from typing import IO, Any, ClassVar

import click
from singer_sdk.streams import Stream
from typing_extensions import override

from tap_zoho_bulkread.config import CONFIG_SCHEMA, TapConfig
from tap_zoho_bulkread.config_checks import (
    check_config_file,
    check_settings,
    future_start_date,
    validate_against_schema,
)
from tap_zoho_bulkread.discovery import (
    DiscoveredModule,
    modules_from_catalog,
    modules_from_metadata,
)
from tap_zoho_bulkread.errors import ConfigurationError, Interrupted, ZohoError
from tap_zoho_bulkread.run_parts import RunParts
from tap_zoho_bulkread.state_file import read_state
from tap_zoho_bulkread.streams.base import BatchConfig, ZohoTapBase
from tap_zoho_bulkread.streams.deletions import DeletedRecordsStream
from tap_zoho_bulkread.streams.events_ics import EventsIcsStream
from tap_zoho_bulkread.streams.full_table_reads import FullTableReadsStream
from tap_zoho_bulkread.streams.modules import ZohoModuleStream
from tap_zoho_bulkread.streams.registry import ModuleStreams
from tap_zoho_bulkread.streams.rest import UsersStream
from tap_zoho_bulkread.summary import RunSummary
from tap_zoho_bulkread.writers.batch_checks import check_batch_config
from tap_zoho_bulkread.writers.records import BufferedMsgSpecWriter
from tap_zoho_bulkread.zoho import redact
from tap_zoho_bulkread.zoho.data_centers import SCOPE_PREFIXES


def _quiet_sdk_lines(record: logging.LogRecord) -> bool:
    """Drop singer-sdk's line on every run that tells a user nothing."""
    return record.getMessage() != "Skipping parse of env var settings..."


class TapZohoBulkRead(ZohoTapBase):
    """Zoho CRM and Bigin through the Bulk Read API."""

    name = "tap-zoho-bulkread"
    message_writer_class = BufferedMsgSpecWriter
    config_jsonschema = CONFIG_SCHEMA  # drawn from config.TapConfig

    SYNCED_LAST = (FullTableReadsStream.name,)  # it lists the reads of the streams before it

    #: the tap of the current command, for the summary once its sync is over
    current: ClassVar[TapZohoBulkRead | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """The SDK's tap, with secrets redacted from every log line from here on."""
        redact.install()
        logging.getLogger(self.name).addFilter(_quiet_sdk_lines)
        self.run_summary = RunSummary()
        self.discovering = False  # set by run_discovery: an interruption then writes no STATE
        super().__init__(*args, **kwargs)
        self.metrics_logger.addHandler(self.run_summary.metrics_handler())
        self.metrics_logger.propagate = self.settings.log_metrics
        TapZohoBulkRead.current = self

    def log_summary(self) -> None:
        """The run's last lines: each stream's records, pages and time, then the totals."""
        limiter = self.parts.client.limiter
        for line in self.run_summary.lines(limiter.downloads, limiter.waited):
            self.logger.info("%s", line)

    @override
    def check_config(self) -> None:
        """Refuse bad settings in every mode, discovery included, with one clear line."""
        for name in ("client_id", "client_secret", "refresh_token"):
            redact.add_secret(self.config.get(name))
        config = dict(self.config)
        validate_against_schema(config, self.config_jsonschema)
        check_settings(config)
        if config.get("batch_config"):
            check_batch_config(BatchConfig.from_dict(config["batch_config"]))
        warning = future_start_date(config)
        if warning:
            self.logger.warning(warning)

    @cached_property
    def settings(self) -> TapConfig:
        """The settings, typed, with their defaults (read once, after they were checked)."""
        return TapConfig.from_mapping(self.config)

    @cached_property
    def parts(self) -> RunParts:
        """The API session, jobs, planner and REST readers every stream of the run shares."""
        return RunParts(self.settings, self.logger, self.module_streams, self.run_summary)

    @cached_property
    def module_streams(self) -> ModuleStreams:
        """The module streams in their order, as the run's parts see them."""
        return ModuleStreams(self, reads_at_once=self.settings.max_concurrent_queries)

    def replication_key_for(self, found: DiscoveredModule) -> str | None:
        """The module's replication key; None (FULL_TABLE) for a child module by default.

        A child row edited or removed in Zoho leaves nothing a criterion can find, so only a
        child's own ``module_settings`` entry makes it incremental.
        """
        key = self.settings.module(found.module).replication_key
        if key is None and found.child_of is None:
            key = self.settings.replication_key
        return key if key in found.schema.get("properties", {}) else None

    @override
    def discover_streams(self) -> list[Stream]:
        """Streams from the input catalog when given (no API calls), else from Zoho metadata.

        Users and Deleted_Records, read through the REST API, come after the modules.
        """
        catalog, parts, settings = self.input_catalog, self.parts, self.settings
        if catalog:
            found = modules_from_catalog(catalog, self.logger)
        else:
            found = modules_from_metadata(
                parts.client,
                prefix=f"{parts.api.root}/settings",
                product=parts.api.product,
                wanted=list(settings.modules) if settings.modules else None,
                module_settings={name: settings.module(name) for name in settings.module_settings},
                logger=self.logger,
            )
        streams: list[Stream] = [
            ZohoModuleStream(
                self,
                module,
                replication_key=self.replication_key_for(module),
                settings=settings.module(module.module),
                parts=parts,
            )
            for module in found
        ]
        if "Events_ICS" in catalog if catalog else settings.events_ics:
            streams.append(EventsIcsStream(self, jobs=parts.jobs, summary=self.run_summary))
        if not catalog or "Users" in catalog:
            streams.append(
                UsersStream(
                    self,
                    client=parts.client,
                    users_path=f"{parts.api.root}/users",
                    scope=f"{SCOPE_PREFIXES[parts.api.product]}.users.READ",
                    summary=self.run_summary,
                )
            )
        if not catalog or DeletedRecordsStream.name in catalog:
            streams.append(
                DeletedRecordsStream(
                    self,
                    deletions=parts.deletion_reader,
                    restores=parts.restore_finder,
                    modules=self.module_streams,
                )
            )
        if not catalog or FullTableReadsStream.name in catalog:
            # last: it lists the full-table reads the streams before it completed
            streams.append(FullTableReadsStream(self, summary=self.run_summary))
        return streams

    @classmethod
    @override
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
    @override
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """The SDK's ``--config`` reading, after each file is checked: one line if unusable."""
        for name in value:
            if name != "ENV":
                check_config_file(Path(name))
        return super().cb_config(ctx, param, value)

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        """The SDK's command, opening --state and --catalog only when a sync reads them.

        Discovery never reads them; opened eagerly, Meltano's state file would be left open.
        """
        command = super().get_singer_command()
        for param in command.params:
            if param.name in ("state", "catalog"):
                param.type = click.File(lazy=True)
        return command

    @override
    def run_discovery(self) -> str:
        """The SDK's discovery, remembered as the mode (an interruption then has no STATE)."""
        self.discovering = True
        return super().run_discovery()

    @override
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
