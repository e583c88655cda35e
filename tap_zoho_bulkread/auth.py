"""Zoho's refresh-token flow: one access token shared by every stream, refreshed before expiry."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import requests
from singer_sdk.authenticators import OAuthAuthenticator
from singer_sdk.helpers._util import utc_now

from tap_zoho_bulkread.errors import AuthenticationError

REFRESH_MARGIN_SECONDS = 120


def _is_json(response: requests.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True


class ZohoAuthenticator(OAuthAuthenticator):
    """singer-sdk's OAuth authenticator, taught Zoho's dialect.

    Zoho reports refresh errors as HTTP 200 with ``{"error": ...}``, returns the org's
    ``api_domain`` with the token, and wants ``Authorization: Zoho-oauthtoken <token>``.
    """

    def __init__(
        self, *, accounts_url: str, client_id: str, client_secret: str, refresh_token: str
    ) -> None:
        super().__init__(
            auth_endpoint=f"{accounts_url.rstrip('/')}/oauth/v2/token",
            client_id=client_id,
            client_secret=client_secret,
            default_expiration=3600,
        )
        self._refresh_token_value = refresh_token
        self.api_domain: str | None = None
        self.max_tries = 6
        self.retry_base_seconds = 1.0
        self._lock = threading.Lock()

    @property
    def oauth_request_body(self) -> dict[str, Any]:
        """The refresh-token grant."""
        return {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self._refresh_token_value,
        }

    def is_token_valid(self) -> bool:
        """True while the token has more than two minutes (or a tenth of its life) to live."""
        if self.last_refreshed is None or self.access_token is None:
            return False
        expires_in = self.expires_in or 3600
        margin = min(REFRESH_MARGIN_SECONDS, expires_in / 10)
        return utc_now() - self.last_refreshed < timedelta(seconds=expires_in - margin)

    def update_access_token(self) -> None:
        """Ask the accounts server for a new access token; raise a clear error if refused."""
        self.logger.info("Requesting a new Zoho access token from %s", self.auth_endpoint)
        started = utc_now()
        response = self._post_with_retries()
        answer = response.json()
        if not isinstance(answer, dict):
            answer = {}
        if response.status_code != 200 or "access_token" not in answer:
            error = answer.get("error") or f"HTTP {response.status_code}"
            hint = (
                "the refresh token, client id or client secret is wrong, or belongs to "
                "another data center: check client_id, client_secret, refresh_token and "
                "data_center"
                if error in ("invalid_code", "invalid_client")
                else "wait a few minutes; Zoho allows 10 token refreshes per 10 minutes"
                if error == "Access Denied"
                else "check the accounts server and credentials"
            )
            raise AuthenticationError(f"Zoho refused the token refresh ({error}): {hint}.")
        self.access_token = answer["access_token"]
        self.expires_in = int(answer.get("expires_in") or 3600)
        self.api_domain = answer.get("api_domain") or self.api_domain
        self.last_refreshed = started

    def _post_with_retries(self) -> requests.Response:
        """POST the refresh grant; retry 429, 5xx, non-JSON answers and dropped connections."""
        wait = self.retry_base_seconds
        for attempt in range(1, self.max_tries + 1):
            problem = ""
            try:
                response = self._session.post(
                    self.auth_endpoint, data=self.oauth_request_payload, timeout=60
                )
            except requests.RequestException as exc:
                problem = type(exc).__name__
            else:
                transient = response.status_code == 429 or response.status_code >= 500
                if not transient and _is_json(response):
                    return response
                problem = f"HTTP {response.status_code}" + ("" if transient else ", not JSON")
            if attempt == self.max_tries:
                raise AuthenticationError(
                    f"The Zoho accounts server {self.auth_endpoint} still failed after "
                    f"{attempt} tries ({problem}). Check data_center / accounts_url, or try later."
                )
            self.logger.warning(
                "Token refresh failed (%s); try %d of %d, retrying in %.1fs",
                problem,
                attempt,
                self.max_tries,
                wait,
            )
            time.sleep(wait)
            wait = min(wait * 2, 60)
        raise AssertionError("unreachable")  # pragma: no cover

    def ensure_token(self, *, force: bool = False) -> str:
        """Return a valid access token, refreshing it (once, for all threads) when needed."""
        with self._lock:
            if force or not self.is_token_valid():
                self.update_access_token()
            assert self.access_token is not None
            return self.access_token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` after Zoho called it invalid, unless another thread already did."""
        with self._lock:
            if self.access_token == token:
                self.access_token = None

    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add Zoho's authorization header."""
        request.headers["Authorization"] = f"Zoho-oauthtoken {self.ensure_token()}"
        return request
