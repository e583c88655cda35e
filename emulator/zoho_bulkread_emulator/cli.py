"""Command line of the emulator: ``zoho-bulkread-emulator``."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from zoho_bulkread_emulator.server import Emulator
from zoho_bulkread_emulator.state import DEFAULT_SCOPES, EDITIONS, EmulatorConfig

DESCRIPTION = """\
A local Zoho CRM + Bigin Bulk Read server (OAuth, metadata, bulk read jobs, zipped CSV
results) for tests, demos and benchmarks. Serves on loopback only and never calls out.

Admin paths: GET /__emulator__/health, GET /__emulator__/records/{module}?product=crm
(ground truth as JSON lines, times in UTC; &fields=A,B.c adds values), GET
/__emulator__/ics_events (the VEVENTs of Events as a client should read them), GET
/__emulator__/requests, POST
/__emulator__/mutate {"module","product","create","update","seconds_ago"}, POST /__emulator__/faults
{"seed","error_rate","burst_429","drop_downloads","fail_next_job":{module:code},
"slow_job_seconds","download_delay_seconds","token_seconds","revoke_tokens",
"retry_after_seconds","html_answers","corrupt_downloads"},
POST /__emulator__/convert {"module":"Leads","ids":[...] or "count"} (Convert Lead),
POST /__emulator__/set {"module","id","values":{field: value}} (edit one record),
POST /__emulator__/reset, POST /__emulator__/grant_code {"scopes": [...], "seconds": 180}
(a Self Client grant code, as Zoho's API console makes one: give it to tap-zoho-bulkread-auth
with --accounts-url set to this server).
"""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults and keeps the description's line breaks."""


def parse_records(values: list[str]) -> dict[tuple[str, str], int]:
    """``["Leads=250000", "bigin:Pipelines=10"]`` -> {("crm", "Leads"): 250000, ...}."""
    counts: dict[tuple[str, str], int] = {}
    for value in values:
        name, separator, count = value.partition("=")
        product, _, module = name.rpartition(":")
        if not separator or not count.isdigit() or not module:
            raise argparse.ArgumentTypeError(
                f"--records takes MODULE=COUNT or bigin:MODULE=COUNT, got {value!r}"
            )
        counts[(product or "crm", module)] = int(count)
    return counts


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; every option documents its default."""
    defaults = EmulatorConfig()
    parser = argparse.ArgumentParser(
        prog="zoho-bulkread-emulator",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    add = parser.add_argument
    add("--host", default=defaults.host, help="loopback address to listen on")
    add("--port", type=int, default=defaults.port, help="port; 0 picks any free port")
    add("--seed", type=int, default=defaults.seed, help="seed of the generated records")
    add(
        "--records",
        action="append",
        default=[],
        metavar="MODULE=COUNT",
        help="record count of a module (repeatable; prefix bigin: for Bigin modules); "
        "modules not named keep the small default org's counts",
    )
    add("--client-id", default=defaults.client_id, help="OAuth client id accepted")
    add("--client-secret", default=defaults.client_secret, help="OAuth client secret accepted")
    add("--refresh-token", default=defaults.refresh_token, help="OAuth refresh token accepted")
    add(
        "--scopes",
        default=",".join(DEFAULT_SCOPES),
        help="comma-separated scopes granted to access tokens",
    )
    add("--token-seconds", type=int, default=defaults.token_seconds, help="access token lifetime")
    add(
        "--max-token-refreshes",
        type=int,
        default=defaults.max_token_refreshes,
        help="refreshes allowed per refresh token per 10 minutes",
    )
    add("--per-page", type=int, default=defaults.per_page, help="records per bulk read page")
    add(
        "--gone-result-status",
        type=int,
        choices=(400, 404),
        default=defaults.gone_result_status,
        help="HTTP status of RESOURCE_NOT_FOUND for an expired result (v8 spec: 400)",
    )
    add(
        "--coql-record-set",
        choices=("all", "records_api_default"),
        default=defaults.coql_record_set,
        help="whether COQL returns converted and unapproved records (Zoho does not document it)",
    )
    add(
        "--rest-seconds",
        type=float,
        default=defaults.rest_seconds,
        help="server time of each records API and Query API answer",
    )
    add(
        "--max-concurrent-calls",
        type=int,
        default=defaults.max_concurrent_calls,
        help="records API and Query API calls answered at once; one more gets 429 "
        "TOO_MANY_REQUESTS (Zoho: 5 on the Free edition to 25; 0: no limit)",
    )
    add(
        "--edition",
        choices=EDITIONS,
        default=defaults.edition,
        help="the edition GET /crm/v8/org names (trial: evaluating Enterprise, paid_type free); "
        "set --max-concurrent-calls to match it (5, 10, 15, 20, 25)",
    )
    add(
        "--job-seconds",
        type=float,
        default=defaults.job_seconds,
        help="how long a job stays in progress at least",
    )
    add(
        "--max-concurrent-jobs",
        type=int,
        default=defaults.max_concurrent_jobs,
        help="jobs in progress at once per org; more wait as QUEUED",
    )
    add("--timezone", default=defaults.timezone, help="org time zone of exported datetimes")
    add(
        "--result-ttl-seconds",
        type=float,
        default=defaults.result_ttl_seconds,
        help="how long a result can be downloaded",
    )
    add(
        "--download-limit",
        type=int,
        default=defaults.download_limit,
        help="downloads allowed per window; the next gets HTTP 429",
    )
    add(
        "--download-window-seconds",
        type=float,
        default=defaults.download_window_seconds,
        help="length of the download limit window",
    )
    add(
        "--download-window-kind",
        choices=["anchored", "rolling", "clock"],
        default=defaults.download_window_kind,
        help="how downloads are counted as they arrive: a window from the first one, any "
        "rolling window, or each clock minute (window)",
    )
    return parser


def config_from_args(argv: list[str] | None = None) -> EmulatorConfig:
    """Parse the command line into an :class:`EmulatorConfig`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        records = parse_records(args.records)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        records=records,
        client_id=args.client_id,
        client_secret=args.client_secret,
        refresh_token=args.refresh_token,
        per_page=args.per_page,
        job_seconds=args.job_seconds,
        max_concurrent_jobs=args.max_concurrent_jobs,
        timezone=args.timezone,
        token_seconds=args.token_seconds,
        scopes=tuple(s for s in args.scopes.split(",") if s),
        result_ttl_seconds=args.result_ttl_seconds,
        download_limit=args.download_limit,
        download_window_seconds=args.download_window_seconds,
        download_window_kind=args.download_window_kind,
        max_token_refreshes=args.max_token_refreshes,
        gone_result_status=args.gone_result_status,
        coql_record_set=args.coql_record_set,
        rest_seconds=args.rest_seconds,
        max_concurrent_calls=args.max_concurrent_calls,
        edition=args.edition,
    )


def main(argv: list[str] | None = None) -> int:
    """Start the emulator and serve until interrupted."""
    config = config_from_args(argv)
    try:
        emulator = Emulator(config)
    except (ValueError, OSError) as exc:
        print(f"zoho-bulkread-emulator: {exc}", file=sys.stderr)
        return 2

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"listening on {emulator.url}", flush=True)
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.server.server_close()
        emulator.state.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
