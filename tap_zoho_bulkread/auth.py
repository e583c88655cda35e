"""Zoho's refresh-token flow: one access token shared by every stream, refreshed before expiry."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import requests
from singer_sdk.authenticators import OAuthAuthenticator
from singer_sdk.helpers._util import utc_now

from tap_zoho_bulkread.errors import AuthenticationError

REFRESH_MARGIN_SECONDS = 120


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
        try:
            response = self._session.post(
                self.auth_endpoint, data=self.oauth_request_payload, timeout=60
            )
        except requests.RequestException as exc:
            raise AuthenticationError(
                f"Could not reach the Zoho accounts server {self.auth_endpoint}: "
                f"{type(exc).__name__}. Check data_center / accounts_url and the network."
            ) from None
        try:
            answer = response.json()
        except ValueError:
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
