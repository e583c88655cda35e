"""The job body the tap sends, per API version and product."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tap_zoho_bulkread.bulk.query import bookmark_criterion, build_query, job_body
from tap_zoho_bulkread.errors import ConfigurationError
from tap_zoho_bulkread.times import zoho_datetime

START = datetime(2024, 3, 10, 9, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=-8)))


def leads_query(**overrides):
    options = {
        "module": "Leads",
        "selected": ["Last_Name", "Email"],
        "lookup_fields": [],
        "replication_key": "Created_Time",
        "start": START,
    }
    return build_query(**{**options, **overrides})


def test_bookmark_becomes_greater_equal_at_second_precision_in_utc() -> None:
    assert zoho_datetime(START) == "2024-03-10T17:59:59+00:00"
    body = job_body(leads_query(), product="crm", version="v2")
    assert body == {
        "query": {
            "module": "Leads",
            "fields": ["Last_Name", "Email", "Created_Time"],
            "criteria": {
                "api_name": "Created_Time",
                "comparator": "greater_equal",
                "value": "2024-03-10T17:59:59+00:00",
            },
            "page": 1,
        }
    }


def test_v8_nests_module_and_criteria_fields_and_pages_by_token() -> None:
    user = {
        "group_operator": "or",
        "group": [{"api_name": "Lead_Source", "comparator": "in", "value": ["Web", "Partner"]}],
    }
    body = job_body(
        leads_query(user_criteria=user, cvid="42"), product="crm", version="v8", page_token="tok"
    )
    assert body["query"]["module"] == {"api_name": "Leads"}
    assert body["query"]["cvid"] == "42"
    assert body["query"]["page_token"] == "tok" and "page" not in body["query"]
    assert body["query"]["criteria"] == {
        "group_operator": "and",
        "group": [
            {
                "field": {"api_name": "Created_Time"},
                "comparator": "greater_equal",
                "value": "2024-03-10T17:59:59+00:00",
            },
            {
                "group_operator": "or",
                "group": [
                    {
                        "field": {"api_name": "Lead_Source"},
                        "comparator": "in",
                        "value": ["Web", "Partner"],
                    }
                ],
            },
        ],
    }


def test_bigin_keeps_v2_shapes_whatever_its_version() -> None:
    body = job_body(leads_query(module="Pipelines"), product="bigin", version="v2", page=3)
    assert body["query"]["module"] == "Pipelines"
    assert body["query"]["criteria"]["api_name"] == "Created_Time"
    assert body["query"]["page"] == 3


def test_no_bookmark_and_no_criteria_exports_everything_selected() -> None:
    body = job_body(leads_query(start=None), product="crm", version="v8")
    assert "criteria" not in body["query"]


def test_more_than_200_fields_are_not_sent() -> None:
    many = [f"Field_{n}" for n in range(205)]
    assert (
        "fields" not in job_body(leads_query(selected=many), product="crm", version="v8")["query"]
    )
    exactly = [f"Field_{n}" for n in range(199)]
    assert (
        len(job_body(leads_query(selected=exactly), product="crm", version="v8")["query"]["fields"])
        == 200
    )


def test_lookup_fields_are_added_to_fields() -> None:
    query = leads_query(lookup_fields=["Owner.last_name"])
    assert query.fields == ("Last_Name", "Email", "Owner.last_name", "Created_Time")


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        (
            {"api_name": "Lead_Source", "comparator": "in", "value": [str(n) for n in range(21)]},
            "Zoho allows 20",
        ),
        (
            {
                "api_name": "Created_Time",
                "comparator": "equal",
                "value": "2024-01-01T00:00:00.500+00:00",
            },
            "fractional",
        ),
        ({"group_operator": "xor", "group": []}, "group_operator"),
        ({"comparator": "equal", "value": "x"}, "api_name"),
        (
            {
                "group_operator": "and",
                "group": [{"api_name": "A", "comparator": "equal", "value": n} for n in range(25)],
            },
            "Zoho allows 25",
        ),
        ("Lead_Source = Web", "JSON object"),
    ],
)
def test_invalid_user_criteria_are_refused_before_any_job(criteria, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        leads_query(user_criteria=criteria)


def test_restored_records_before_the_bookmark_are_asked_for_by_their_second() -> None:
    start = datetime(2024, 5, 1, tzinfo=timezone.utc)
    earlier = [f"2023-01-{day:02d}T10:00:00+00:00" for day in range(1, 26)]  # 25 values
    later = "2024-06-01T00:00:00+00:00"  # after the bookmark: the leaf already holds it
    node = bookmark_criterion("Created_Time", start, (*earlier, later, earlier[0]))
    assert node["group_operator"] == "or"
    leaf, *lists = node["group"]
    assert leaf == {
        "api_name": "Created_Time", "comparator": "greater_equal",
        "value": "2024-05-01T00:00:00+00:00",
    }  # fmt: skip
    assert [len(x["value"]) for x in lists] == [20, 5]  # Zoho takes 20 values an "in"
    assert sorted(v for x in lists for v in x["value"]) == earlier
    # more than four lists hold: the export starts at the earliest instead
    many = tuple(f"2023-{1 + i // 28:02d}-{1 + i % 28:02d}T00:00:00+00:00" for i in range(81))
    assert bookmark_criterion("Created_Time", start, many) == {
        "api_name": "Created_Time", "comparator": "greater_equal", "value": min(many),
    }  # fmt: skip
    assert bookmark_criterion("Created_Time", start, (later,))["comparator"] == "greater_equal"
