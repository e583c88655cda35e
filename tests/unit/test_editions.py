"""How many modules are read ahead at once, from the edition Zoho's org answer names.

Expected values from Kaizen #35 ("API Concurrency": Free 5, Standard/Starter 10, Professional
15, Enterprise/Zoho One/CRM Plus 20, Ultimate 25 calls at once) and Zoho's limit of 10 on
complex calls in every edition, less the module being written; the answer shapes from the
v8 org example of zoho/crm-oas (an org evaluating Enterprise: paid false, paid_type free).
"""

from __future__ import annotations

from typing import Any

import pytest

from tap_zoho_bulkread.zoho.editions import edition_of, reads_at_once


def org(**licence: Any) -> dict[str, Any]:
    return {"org": [{"id": "1", "license_details": licence}]}


@pytest.mark.parametrize(
    ("answer", "edition", "modules"),
    [
        (org(paid=True, paid_type="free"), "free", 4),
        (org(paid=False, paid_type="free", trial_type=None), "free", 4),
        (org(paid=False, paid_type="free", trial_type="enterprise"), "free", 4),  # a trial
        (org(paid=True, paid_type="standard"), "standard", 9),
        (org(paid=True, paid_type="Starter"), "starter", 9),
        (org(paid=True, paid_type="professional"), "professional", 9),
        (org(paid=True, paid_type="enterprise"), "enterprise", 9),
        (org(paid=True, paid_type="ultimate"), "ultimate", 9),
        (org(paid=True, paid_type="platinum"), None, 4),  # not an edition Zoho lists
        (org(paid="yes", paid_type="ultimate"), "free", 4),  # paid is a JSON boolean
        (org(paid=True, paid_type=25), None, 4),
        ({"org": []}, None, 4),
        ({"org": [{"id": "1"}, {"id": "2"}]}, None, 4),
        ({"org": "enterprise"}, None, 4),
        ({}, None, 4),
    ],
)
def test_the_edition_and_the_modules_read_ahead_at_once(answer, edition, modules) -> None:
    assert edition_of(answer) == edition
    assert reads_at_once(edition_of(answer)) == modules
