"""Typed errors of the tap; each message says what failed and what to do about it."""

from __future__ import annotations


class ZohoError(Exception):
    """Base of every error the tap raises on purpose."""


class ConfigurationError(ZohoError):
    """A setting is missing or invalid; raised before any API call."""


class AuthenticationError(ZohoError):
    """Zoho's accounts server refused the refresh token or the client."""


class ZohoAPIError(ZohoError):
    """Zoho answered an API call with an error envelope (or something that is not JSON)."""

    def __init__(self, code: str, status: int, message: str, details: object = None) -> None:
        super().__init__(f"Zoho API error {code} (HTTP {status}): {message}")
        self.code = code
        self.status = status
        self.message = message
        self.details = details


class JobFailed(ZohoError):
    """A bulk read job ended in FAILURE."""

    def __init__(self, module: str, job_id: str, code: str, message: str) -> None:
        reason = f"with {code}: {message}" if code else "without an error code"
        super().__init__(
            f"Bulk read job {job_id} for {module} failed {reason}. "
            "Check the module's criteria and field selection, then run the sync again."
        )
        self.module = module
        self.job_id = job_id
        self.code = code


class JobTimeout(ZohoError):
    """A bulk read job did not finish within ``job_timeout_seconds``."""

    def __init__(self, module: str, job_id: str, state: str, seconds: float) -> None:
        super().__init__(
            f"Bulk read job {job_id} for {module} was still {state} after {seconds:.0f}s; "
            "raise job_timeout_seconds or run the sync again later."
        )
        self.module = module
        self.job_id = job_id
        self.state = state


class ExportFileError(ZohoError):
    """A downloaded result is not the zip with one CSV that Zoho promises."""


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived: the run stops, keeping its checkpoint, and exits non-zero.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` swallows it.
    """

    def __init__(self, signal_name: str, exit_code: int, message: str | None = None) -> None:
        super().__init__(
            message
            or f"Interrupted by {signal_name}: the last STATE holds the export's checkpoint; "
            "run the sync again with it to continue where it stopped."
        )
        self.exit_code = exit_code
