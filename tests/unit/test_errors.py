"""One table says what each Zoho error code makes the tap do; the tap's own codes stand apart."""

from __future__ import annotations

from tap_zoho_bulkread.errors import (
    TAP_REFUSALS,
    ZOHO_CODES,
    Action,
    ZohoAPIError,
    codes_where,
    rule_of,
)

# Zoho's v8 create-job error codes (the bulk read reference pages), each with an action
DOCUMENTED_JOB_CODES = {
    "MODULE_NOT_SUPPORTED", "MODULE_NOT_AVAILABLE", "CVID_NOT_SUPPORTED", "INVALID_CRITERIA",
    "AMBIGUOUS_CRITERIA", "CRITERIA_LIMIT_EXCEEDED", "FIELD_IN_CRITERIA_NOT_SUPPORTED",
    "FIELD_COMPARATOR_IN_CRITERIA_NOT_SUPPORTED", "FIELD_NOT_SUPPORTED", "FIELD_NOT_AVAILABLE",
    "FIELD_IN_CRITERIA_NOT_AVAILABLE", "FIELD_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE",
    "COMPARATOR_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE", "VALUE_LIMIT_EXCEEDED_IN_CRITERIA",
}  # fmt: skip


def test_every_documented_job_refusal_is_skipped_dropped_or_failed_with_a_fix() -> None:
    for code in DOCUMENTED_JOB_CODES:
        rule = rule_of(code)
        assert rule.on_job in (Action.SKIP_MODULE, Action.DROP_FIELD) or rule.fix, code
        text = rule.fix.format(module="Leads", prefix="ZohoCRM", code=code)
        assert "{" not in text, code


def test_what_each_place_does_comes_from_the_one_table() -> None:
    assert codes_where("request", Action.REFRESH) == {"INVALID_TOKEN", "AUTHENTICATION_FAILURE"}
    assert "" in codes_where("job", Action.NEW_JOB)  # a FAILURE without a code
    assert {"OAUTH_SCOPE_MISMATCH", "NO_PERMISSION"} <= codes_where("list", Action.SKIP_LIST)
    assert codes_where("job", Action.SKIP_MODULE) == {"MODULE_NOT_SUPPORTED"}
    assert rule_of("SOMETHING_NEW").on_job is Action.FAIL  # unknown: fail, naming it


def test_the_taps_own_codes_are_not_zohos_and_say_so() -> None:
    assert all(code.startswith("TAP_") for code in TAP_REFUSALS)
    assert not set(ZOHO_CODES) & TAP_REFUSALS
    error = ZohoAPIError("TAP_UNEXPECTED_RESPONSE", 200, "the users list is: 7")
    assert str(error) == "the users list is: 7 (TAP_UNEXPECTED_RESPONSE, HTTP 200)"
    zoho = ZohoAPIError("INVALID_DATA", 400, "bad")
    assert str(zoho) == "Zoho API error INVALID_DATA (HTTP 400): bad"
