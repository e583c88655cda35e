"""``tap-zoho-bulkread-auth``: a Self Client's grant code -> the refresh token the tap needs.

Zoho's grant code lives a few minutes and can be used once; this command exchanges it at the
data center's accounts server and prints the refresh token and the org's API domain. The client
secret is read from ``ZOHO_CLIENT_SECRET`` or asked for without echo, never printed or logged.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from urllib.parse import urlsplit

import requests

from tap_zoho_bulkread.zoho.auth import header_safe
from tap_zoho_bulkread.zoho.data_centers import ACCOUNTS_SERVERS
from tap_zoho_bulkread.zoho.network import CONNECT_TIMEOUT_SECONDS, network_failure

ANSWERS = {  # Zoho's error answers to the grant-code exchange (Kaizen #4), and the fix
    "invalid_code": (
        "the grant code has expired or was already used (a code lives the few minutes chosen "
        "when it was made, and works once). Generate a new one in the API console's Self "
        "Client and run this command again right away."
    ),
    "invalid_client": (
        "this accounts server does not know the client id: check the client id, and the data "
        "center (--data-center): it is the one your Zoho account lives in, the ending of the "
        "address you sign in at (accounts.zoho.eu -> eu, accounts.zohocloud.ca -> ca)."
    ),
    "invalid_client_secret": (
        "the client secret does not belong to this client id: copy it again from the API "
        "console (Self Client -> Client Secret)."
    ),
}


class ExchangeError(Exception):
    """The exchange failed; the message says why and what to do."""


def exchange(accounts_url: str, client_id: str, client_secret: str, code: str) -> dict[str, str]:
    """Exchange ``code`` for a refresh token; the refresh token and api_domain, checked."""
    host = urlsplit(accounts_url).netloc or accounts_url
    try:
        response = requests.post(
            f"{accounts_url.rstrip('/')}/oauth/v2/token",
            data={
                "grant_type": "authorization_code",
                "client_id": client_id,
                "client_secret": client_secret,
                "code": code,
            },
            timeout=(CONNECT_TIMEOUT_SECONDS, 30),
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise ExchangeError(f"cannot reach {host}: {network_failure(exc, 1).cause}") from None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise ExchangeError(
            f"{host} answered HTTP {response.status_code} without JSON; is --data-center right?"
        )
    error = answer.get("error")
    if error is not None:
        text = str(error)[:60]
        raise ExchangeError(f"Zoho refused the grant code ({text}): {ANSWERS.get(text, '')}")
    refresh, domain = answer.get("refresh_token"), answer.get("api_domain")
    if not header_safe(refresh) or not isinstance(domain, str) or not domain:
        raise ExchangeError(
            f"{host} answered without a usable refresh_token and api_domain; the code may have "
            "been made without offline access: generate a new one in the Self Client."
        )
    assert isinstance(refresh, str)
    return {"refresh_token": refresh, "api_domain": domain}


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    command = argparse.ArgumentParser(
        prog="tap-zoho-bulkread-auth",
        description="Exchange a Zoho Self Client grant code for the refresh token the tap "
        "needs; prints the refresh token and the org's API domain as JSON. The client secret "
        "comes from ZOHO_CLIENT_SECRET or a prompt that does not echo.",
    )
    command.add_argument("--client-id", default=os.environ.get("ZOHO_CLIENT_ID"), required=False)
    command.add_argument("--code", required=True, help="the grant code (valid minutes, once)")
    command.add_argument(
        "--data-center", default="us", choices=sorted(ACCOUNTS_SERVERS),
        help="where your Zoho account lives (default: us)",
    )  # fmt: skip
    command.add_argument("--accounts-url", help="an accounts server address (for the emulator)")
    return command


def main(argv: list[str] | None = None) -> int:
    """Run the exchange; one line on stderr and exit 1 if it fails."""
    args = parser().parse_args(argv)
    if not args.client_id:
        print("tap-zoho-bulkread-auth: give --client-id (or ZOHO_CLIENT_ID).", file=sys.stderr)
        return 1
    secret = os.environ.get("ZOHO_CLIENT_SECRET")
    if not secret and not sys.stdin.isatty():
        print(
            "tap-zoho-bulkread-auth: no client secret: set ZOHO_CLIENT_SECRET, or run the "
            "command in a terminal to type it at a prompt that does not echo.",
            file=sys.stderr,
        )
        return 1
    if not secret:
        try:
            secret = getpass.getpass("Client secret: ")
        except (EOFError, KeyboardInterrupt):
            print("\ntap-zoho-bulkread-auth: no client secret was typed.", file=sys.stderr)
            return 1
    accounts = args.accounts_url or ACCOUNTS_SERVERS[args.data_center]
    try:
        found = exchange(accounts, args.client_id, secret, args.code.strip())
    except ExchangeError as exc:
        print(f"tap-zoho-bulkread-auth: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({**found, "accounts_url": accounts}, indent=2))
    where = (
        f"accounts_url to {accounts}" if args.accounts_url else f"data_center to {args.data_center}"
    )
    print(
        "Put refresh_token in the tap's settings (meltano config set tap-zoho-bulkread "
        f"refresh_token ...) and {where}, as used here.",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
