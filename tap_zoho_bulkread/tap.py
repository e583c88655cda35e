"""The tap: settings, data centers, stream construction, and reuse of an input catalog."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any

from singer_sdk import Tap
from singer_sdk import typing as th

from tap_zoho_bulkread.auth import ZohoAuthenticator
from tap_zoho_bulkread.client import DownloadLimiter, ZohoClient
from tap_zoho_bulkread.errors import ConfigurationError, ZohoError
from tap_zoho_bulkread.jobs import BulkReader, JobLedger, JobSettings
from tap_zoho_bulkread.metadata import (
    field_specs,
    module_is_exportable,
    specs_from_schema,
    stream_schema,
)
from tap_zoho_bulkread.output import BufferedMsgSpecWriter
from tap_zoho_bulkread.query import job_body, normalize_criteria
from tap_zoho_bulkread.streams import CHECKPOINT_KEY, ModuleSettings, ZohoModuleStream

ACCOUNTS_SERVERS = {
    "us": "https://accounts.zoho.com",
    "eu": "https://accounts.zoho.eu",
    "in": "https://accounts.zoho.in",
    "au": "https://accounts.zoho.com.au",
    "jp": "https://accounts.zoho.jp",
    "cn": "https://accounts.zoho.com.cn",
    "ca": "https://accounts.zohocloud.ca",
    "sa": "https://accounts.zoho.sa",
}
API_DOMAIN_SUFFIXES = {
    "us": "com",
    "eu": "eu",
    "in": "in",
    "au": "com.au",
    "jp": "jp",
    "cn": "com.cn",
    "ca": "ca",
    "sa": "sa",
}
ENVIRONMENT_HOSTS = {"production": "www", "sandbox": "sandbox", "developer": "developer"}
VERSIONS = {"crm": [f"v{n}" for n in range(2, 9)], "bigin": ["v1", "v2"]}
DEFAULT_VERSIONS = {"crm": "v8", "bigin": "v2"}
REPLICATION_KEYS = ("Created_Time", "Modified_Time")

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
        description="Dot fields such as Owner.last_name, added to the stream as strings.",
    ),
)


LOOKUP_TYPES = frozenset({"lookup", "ownerlookup", "userlookup"})


def check_lookup_fields(
    module: str, lookup_fields: list[str], fields: list[dict[str, Any]]
) -> None:
    """Refuse dot fields whose first part is not a lookup field of the module."""
    types = {entry.get("api_name"): entry.get("data_type") for entry in fields}
    for dotted in lookup_fields:
        base = dotted.split(".", 1)[0]
        if types.get(base) not in LOOKUP_TYPES:
            found = "is not a field of" if base not in types else "is not a lookup field of"
            raise ConfigurationError(
                f"module_settings.{module}.lookup_fields: {base!r} {found} {module}; a dot field "
                "starts with a lookup such as Owner or Account_Name."
            )


class TapZohoBulkRead(Tap):
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
        th.Property("data_center", th.StringType, default="us",
                    allowed_values=list(ACCOUNTS_SERVERS),
                    description="Where the Zoho org lives: us, eu, in, au, jp, cn, ca, sa."),
        th.Property("environment", th.StringType, default="production",
                    allowed_values=list(ENVIRONMENT_HOSTS),
                    description="production, sandbox or developer org."),
        th.Property("accounts_url", th.StringType,
                    description="Accounts server override (e.g. an emulator's URL)."),
        th.Property("api_domain", th.StringType,
                    description="API domain override; else the one Zoho returns with the token."),
        th.Property("product", th.StringType, default="crm", allowed_values=["crm", "bigin"],
                    description="crm or bigin."),
        th.Property("api_version", th.StringType,
                    description="Bulk read API version: v2..v8 for CRM (default v8), "
                    "v1..v2 for Bigin (default v2)."),
        th.Property("start_date", th.DateTimeType,
                    description="Export records whose replication key is at or after this."),
        th.Property("modules", th.ArrayType(th.StringType),
                    description="Modules to expose as streams; default: every module bulk "
                    "read can export."),
        th.Property("replication_key", th.StringType, default="Created_Time",
                    allowed_values=list(REPLICATION_KEYS),
                    description="Created_Time appends new records; Modified_Time also "
                    "captures updates."),
        th.Property("module_settings", th.ObjectType(additional_properties=MODULE_SETTINGS),
                    description="Per module: cvid, criteria, replication_key, lookup_fields."),
        th.Property("max_concurrent_jobs", th.IntegerType, default=3,
                    description="Bulk read jobs in flight at once."),
        th.Property("poll_interval_seconds", th.NumberType, default=5,
                    description="First wait between job status checks; waits then grow."),
        th.Property("job_timeout_seconds", th.NumberType, default=3600,
                    description="Give up on a job still unfinished after this long."),
        th.Property("max_tries", th.IntegerType, default=6,
                    description="Tries per request before giving up on 429s, 5xx answers "
                    "and dropped connections."),
        th.Property("retry_wait_seconds", th.NumberType, default=1,
                    description="First wait between tries (doubling, up to 60s) when Zoho "
                    "sends no Retry-After."),
        th.Property("max_downloads_per_minute", th.IntegerType, default=10,
                    description="Zoho allows 10 result downloads a minute per org; lower it "
                    "when other tools share the org."),
    ).to_dict()  # fmt: skip

    @property
    def product(self) -> str:
        """``crm`` or ``bigin``."""
        return str(self.config.get("product") or "crm")

    @property
    def api_version(self) -> str:
        """The configured API version, checked against the product."""
        version = str(self.config.get("api_version") or DEFAULT_VERSIONS[self.product])
        if version not in VERSIONS[self.product]:
            raise ConfigurationError(
                f"api_version {version!r} is not a {self.product} bulk read version; use one of "
                f"{', '.join(VERSIONS[self.product])}."
            )
        return version

    def accounts_url(self) -> str:
        """The accounts server of the configured data center (or the override)."""
        return str(
            self.config.get("accounts_url")
            or ACCOUNTS_SERVERS[self.config.get("data_center") or "us"]
        )

    def configured_api_domain(self) -> str | None:
        """The API domain, when settings decide it rather than the token."""
        if self.config.get("api_domain"):
            return str(self.config["api_domain"])
        environment = self.config.get("environment") or "production"
        if environment == "production" or self.config.get("accounts_url"):
            return None  # the api_domain Zoho returns with the token is authoritative
        suffix = API_DOMAIN_SUFFIXES[self.config.get("data_center") or "us"]
        return f"https://{ENVIRONMENT_HOSTS[environment]}.zohoapis.{suffix}"

    def check_settings(self) -> None:
        """Check what JSON schema cannot, before any API call."""
        _ = self.api_version
        for module, value in (self.config.get("module_settings") or {}).items():
            settings = ModuleSettings.from_config(value)
            if settings.criteria:
                normalize_criteria(settings.criteria, f"module_settings.{module}.criteria")
            for dotted in settings.lookup_fields:
                if not re.fullmatch(r"\w+\.\w+", dotted):
                    raise ConfigurationError(
                        f"module_settings.{module}.lookup_fields: {dotted!r} is not a dot field "
                        "such as Owner.last_name"
                    )

    @cached_property
    def zoho_client(self) -> ZohoClient:
        """The one API session (and token) every stream shares."""
        authenticator = ZohoAuthenticator(
            accounts_url=self.accounts_url(),
            client_id=self.config["client_id"],
            client_secret=self.config["client_secret"],
            refresh_token=self.config["refresh_token"],
        )
        authenticator.max_tries = max(int(self.config.get("max_tries") or 6), 1)
        authenticator.retry_base_seconds = float(self.config.get("retry_wait_seconds") or 1)
        return ZohoClient(
            authenticator,
            api_domain=self.configured_api_domain(),
            logger=self.logger,
            limiter=DownloadLimiter(int(self.config.get("max_downloads_per_minute") or 10)),
            max_tries=max(int(self.config.get("max_tries") or 6), 1),
            retry_base_seconds=float(self.config.get("retry_wait_seconds") or 1),
        )

    @cached_property
    def job_settings(self) -> JobSettings:
        """Where jobs go and how patiently they are awaited."""
        return JobSettings(
            product=self.product,
            version=self.api_version,
            poll_interval_seconds=float(self.config.get("poll_interval_seconds") or 5),
            job_timeout_seconds=float(self.config.get("job_timeout_seconds") or 3600),
            max_concurrent_jobs=int(self.config.get("max_concurrent_jobs") or 3),
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
        """Create the first job of the streams after ``current`` while there is room.

        Zoho runs jobs in parallel; creating them ahead overlaps its job time with the tap's
        downloading and decoding. Output stays one stream at a time.
        """
        ledger = self.job_ledger
        names = [s.name for s in self.streams.values() if s.selected]
        if current not in names:
            return
        reader = BulkReader(self.zoho_client, self.job_settings, self.logger, Path(), ledger=ledger)
        for name in names[names.index(current) + 1 :]:
            if not ledger.has_room():
                return
            stream = self.streams[name]
            assert isinstance(stream, ZohoModuleStream)
            if name in ledger.ahead or stream.stream_state.get(CHECKPOINT_KEY):
                continue  # a stream with a checkpoint resumes its own jobs
            body = job_body(stream.job_query(), product=self.product, version=self.api_version)
            job_id = reader.create(body, stream.module)
            ledger.keep_ahead(stream.module, job_id, body)
            self.logger.info("%s: job %s created ahead of its turn", stream.module, job_id)

    def _module_settings(self, module: str) -> ModuleSettings:
        return ModuleSettings.from_config((self.config.get("module_settings") or {}).get(module))

    def _replication_key(self, module: str, properties: dict[str, Any]) -> str | None:
        key = self._module_settings(module).replication_key or self.config.get(
            "replication_key", "Created_Time"
        )
        return key if key in properties else None

    def discover_streams(self) -> list[ZohoModuleStream]:
        """Streams from the input catalog when given (no API calls), else from Zoho metadata."""
        try:
            self.check_settings()
            if self.input_catalog:
                return self._streams_from_catalog()
            return self._streams_from_metadata()
        except ZohoError as exc:
            self.logger.error("%s", exc)
            raise SystemExit(1) from None

    def _streams_from_catalog(self) -> list[ZohoModuleStream]:
        streams = []
        assert self.input_catalog is not None
        for entry in self.input_catalog.values():
            schema = entry.schema.to_dict()
            module = entry.tap_stream_id
            streams.append(
                ZohoModuleStream(
                    self,
                    module=module,
                    schema=schema,
                    specs=specs_from_schema(schema),
                    replication_key=self._replication_key(module, schema.get("properties", {})),
                    settings=self._module_settings(module),
                )
            )
        return streams

    def _streams_from_metadata(self) -> list[ZohoModuleStream]:
        client = self.zoho_client
        prefix = f"/{self.product}/{self.api_version}/settings"
        listed = client.get_json(f"{prefix}/modules").get("modules", [])
        exportable = [m["api_name"] for m in listed if module_is_exportable(m)]
        wanted = self.config.get("modules") or exportable
        unknown = sorted(set(wanted) - set(exportable))
        if unknown:
            raise ConfigurationError(
                f"modules: {unknown} cannot be exported by bulk read in this org. "
                f"Exportable modules: {', '.join(sorted(exportable))}."
            )
        unknown_settings = sorted(set(self.config.get("module_settings") or {}) - set(wanted))
        if unknown_settings:
            raise ConfigurationError(
                f"module_settings names {unknown_settings}, which are not among the synced "
                f"modules ({', '.join(sorted(wanted))})."
            )
        streams = []
        for module in wanted:
            entries = client.get_json(f"{prefix}/fields", {"module": module}).get("fields", [])
            specs = field_specs(entries, module, self.logger)
            settings = self._module_settings(module)
            check_lookup_fields(module, settings.lookup_fields, entries)
            schema = stream_schema(specs, settings.lookup_fields)
            streams.append(
                ZohoModuleStream(
                    self,
                    module=module,
                    schema=schema,
                    specs=specs,
                    replication_key=self._replication_key(module, schema["properties"]),
                    settings=settings,
                )
            )
        return streams

    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """Run the command line; a Zoho problem ends the run with its message, no traceback."""
        try:
            super().invoke(*args, **kwargs)
        except ZohoError as exc:
            cls.logger.error("%s", exc)
            raise SystemExit(1) from None


if __name__ == "__main__":
    TapZohoBulkRead.cli()
