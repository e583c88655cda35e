"""Typed errors of the tap, and the one table of what each Zoho error code makes the tap do.

Each message says what failed and what to do about it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType


class ZohoError(Exception):
    """Base of every error the tap raises on purpose."""


class ConfigurationError(ZohoError):
    """A setting is missing or invalid; raised before any API call."""


class AuthenticationError(ZohoError):
    """Zoho's accounts server refused the refresh token or the client."""


class ZohoAPIError(ZohoError):
    """Zoho answered an API call with an error envelope, or the tap refused what it answered.

    Codes the tap gives (an answer that is not Zoho's, a redirect loop, tries used up) start
    with ``TAP_``; every other code is Zoho's own.
    """

    def __init__(self, code: str, status: int, message: str, details: object = None) -> None:
        if code.startswith(TAP_PREFIX):
            where = f", HTTP {status}" if status else ""
            super().__init__(f"{message} ({code}{where})")
        else:
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


TAP_PREFIX = "TAP_"
TAP_UNEXPECTED_RESPONSE = "TAP_UNEXPECTED_RESPONSE"  # an answer that is not what Zoho sends
TAP_FOREIGN_URL = "TAP_FOREIGN_URL"  # a redirect or download URL outside the trusted hosts
TAP_REDIRECT_LOOP = "TAP_REDIRECT_LOOP"
TAP_RETRIES_EXHAUSTED = "TAP_RETRIES_EXHAUSTED"
# The tap's refusals of an answer: trying again would only meet them again.
TAP_REFUSALS = frozenset({TAP_UNEXPECTED_RESPONSE, TAP_FOREIGN_URL, TAP_REDIRECT_LOOP})


class Action(Enum):
    """What the tap does about an error code, where it meets it."""

    REFRESH = "refresh the access token and send the request again"
    NEW_JOB = "create a new job for the same page (a failed or lost job)"
    SKIP_MODULE = "skip the module with one warning; the run goes on"
    DROP_FIELD = "leave the field out of the job with one warning; it stays null"
    SKIP_LIST = "skip a REST list this token cannot read, with one warning"
    FAIL = "end the run in one line naming the fix"


@dataclass(frozen=True)
class CodeRule:
    """One code's actions: on any request, on a bulk read job, on a REST list; and its fix."""

    on_request: Action = Action.FAIL
    on_job: Action = Action.FAIL
    on_list: Action = Action.FAIL
    fix: str = ""  # the user's fix, with {module}, {code} and {prefix} (ZohoCRM...) filled in
    fix_says_all: bool = False  # the fix is the whole message (no "Zoho refused the job")


_CRITERIA_FIX = "fix module_settings.{module}.criteria."
_NO_ACCESS = (
    "the Zoho user has no permission to read this module ({code}). Ask the org admin for "
    "access, or deselect the stream."
)
_TRANSIENT = CodeRule(on_job=Action.NEW_JOB)  # a job FAILURE a new job may not meet again
_NOT_LISTED = CodeRule(on_list=Action.SKIP_LIST)  # a module without such a list

ZOHO_CODES: Mapping[str, CodeRule] = MappingProxyType({
    # a job FAILURE without a code is taken as transient: Zoho's spec shows such failures
    "": _TRANSIENT,
    "INTERNAL_ERROR": _TRANSIENT,
    "SERVER_BUSY": _TRANSIENT,
    "TOO_MANY_REQUESTS": _TRANSIENT,
    "INVALID_TOKEN": CodeRule(on_request=Action.REFRESH),
    "AUTHENTICATION_FAILURE": CodeRule(on_request=Action.REFRESH),
    "MODULE_NOT_SUPPORTED": CodeRule(on_job=Action.SKIP_MODULE, on_list=Action.SKIP_LIST),
    "FIELD_NOT_SUPPORTED": CodeRule(on_job=Action.DROP_FIELD),
    "FIELD_NOT_AVAILABLE": CodeRule(on_job=Action.DROP_FIELD),
    "OAUTH_SCOPE_MISMATCH": CodeRule(
        on_list=Action.SKIP_LIST,
        fix="the refresh token lacks the scopes {prefix}.bulk.read and "
        "{prefix}.modules.{module}.READ. Create a refresh token with them, or deselect the "
        "stream.",
        fix_says_all=True,
    ),
    "NO_PERMISSION": CodeRule(on_list=Action.SKIP_LIST, fix=_NO_ACCESS, fix_says_all=True),
    "AUTHORIZATION_FAILED": CodeRule(fix=_NO_ACCESS, fix_says_all=True),
    "INVALID_MODULE": _NOT_LISTED,
    "API_NOT_SUPPORTED": _NOT_LISTED,
    "NOT_SUPPORTED": _NOT_LISTED,
    # job refusals a setting can cause (Zoho's v8 create-job codes)
    "CRITERIA_LIMIT_EXCEEDED": CodeRule(
        fix="Zoho allows 25 comparisons, counting the custom view's (cvid) and the bookmark's; "
        "simplify module_settings.{module}.criteria or the custom view."
    ),
    "VALUE_LIMIT_EXCEEDED_IN_CRITERIA": CodeRule(
        fix="in and not_in take at most 20 values; split them into an 'or' group in "
        "module_settings.{module}.criteria."
    ),
    "FIELD_IN_CRITERIA_NOT_AVAILABLE": CodeRule(fix=_CRITERIA_FIX),
    "FIELD_IN_CRITERIA_NOT_SUPPORTED": CodeRule(fix=_CRITERIA_FIX),
    "FIELD_COMPARATOR_IN_CRITERIA_NOT_SUPPORTED": CodeRule(fix=_CRITERIA_FIX),
    "FIELD_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE": CodeRule(fix=_CRITERIA_FIX),
    "COMPARATOR_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE": CodeRule(fix=_CRITERIA_FIX),
    "VALUE_TYPE_NOT_SUPPORTED": CodeRule(fix=_CRITERIA_FIX),
    "GROUP_OPERATOR_NOT_SUPPORTED": CodeRule(fix=_CRITERIA_FIX),
    "INVALID_CRITERIA": CodeRule(fix=_CRITERIA_FIX),
    "AMBIGUOUS_CRITERIA": CodeRule(fix=_CRITERIA_FIX),
    "CVID_NOT_SUPPORTED": CodeRule(fix="fix or remove module_settings.{module}.cvid."),
    "MODULE_NOT_AVAILABLE": CodeRule(
        fix="the module is gone from this org; run discovery again, or remove {module} from "
        "the modules setting."
    ),
    "PAGE_RANGE_EXCEEDED": CodeRule(
        fix="the export has more than Zoho's 500 pages; split it with "
        "module_settings.{module}.criteria."
    ),
})  # fmt: skip


def refuses_checkpoint(exc: Exception) -> bool:
    """Whether a failure resuming an export may be Zoho refusing the checkpoint itself.

    An unknown job, a page token invalid or expired, a page past the end: anything but an
    answer that is not Zoho's, a refresh token without access, or a module Zoho does not export.
    Exporting again from the bookmark then loses nothing; the same failure on page 1 ends the run.
    """
    code = getattr(exc, "code", "")
    rule = rule_of(code)
    return not (code in TAP_REFUSALS or rule.fix_says_all or rule.on_job is Action.SKIP_MODULE)


def rule_of(code: str) -> CodeRule:
    """What the tap does about ``code`` (fail, naming it, when the table does not know it)."""
    return ZOHO_CODES.get(code, CodeRule())


def codes_where(where: str, action: Action) -> frozenset[str]:
    """The codes whose action ``where`` (``request``, ``job`` or ``list``) is ``action``."""
    return frozenset(
        code for code, rule in ZOHO_CODES.items() if getattr(rule, f"on_{where}") is action
    )


def refused_job(module: str, scope_prefix: str, exc: ZohoAPIError) -> ZohoError:
    """One line for a job Zoho refused: the fix from the table of codes, else its words."""
    rule = rule_of(exc.code)
    fix = rule.fix.format(module=module, prefix=scope_prefix, code=exc.code)
    if rule.fix_says_all:
        return ZohoError(f"{module}: {fix}")
    if fix:
        return ZohoError(f"{module}: Zoho refused the job ({exc.code}: {exc.message[:200]}); {fix}")
    return ZohoError(f"{module}: {exc}")
