"""How many API calls Zoho answers at once for an org, from the edition ``GET /crm/v8/org`` names.

Zoho counts the API calls active at one instant per user and app, by edition (Kaizen #35, "API
Concurrency", and the API limits page): Free 5, Standard/Starter 10, Professional 15,
Enterprise/Zoho One/CRM Plus 20, Ultimate 25; a group of complex calls has a limit of its own,
10 in every edition. The tap reads modules ahead through the records API and the Query API in
that many threads less one (the module being written makes one more call), and never more than
the complex calls' 10 less one, whatever the edition.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tap_zoho_bulkread.errors import TAP_REFUSALS, ZohoAPIError
from tap_zoho_bulkread.zoho.client import ZohoClient
from tap_zoho_bulkread.zoho.data_centers import ApiPaths

CALLS_AT_ONCE = {
    "free": 5, "standard": 10, "starter": 10, "professional": 15, "enterprise": 20,
    "zohoone": 20, "crmplus": 20, "ultimate": 25,
}  # fmt: skip
COMPLEX_CALLS_AT_ONCE = 10
FREE_EDITION = "free"
MAX_ORG_BYTES = 256 * 1024  # one org's details; a longer answer is not Zoho's


def reads_at_once(edition: str | None) -> int:
    """Modules read ahead at once on ``edition``; an unknown one is taken as the Free edition."""
    calls = CALLS_AT_ONCE.get(edition or "", CALLS_AT_ONCE[FREE_EDITION])
    return min(calls, COMPLEX_CALLS_AT_ONCE) - 1


def edition_of(answer: Mapping[str, Any]) -> str | None:
    """The edition an org answer is paid for (``license_details.paid_type``); None if unsaid.

    An org on trial is ``paid: false`` with ``paid_type`` ``free`` and the trial's edition in
    ``trial_type``: its limits are taken to be the Free edition's, the reading that never asks
    for more than Zoho answers.
    """
    orgs = answer.get("org")
    org = orgs[0] if isinstance(orgs, list) and len(orgs) == 1 else None
    licence = org.get("license_details") if isinstance(org, dict) else None
    if not isinstance(licence, dict):
        return None
    if licence.get("paid") is not True:
        return FREE_EDITION
    paid = licence.get("paid_type")
    if not isinstance(paid, str) or paid.lower() not in CALLS_AT_ONCE:
        return None
    return paid.lower()


def org_reads_at_once(client: ZohoClient, api: ApiPaths, logger: logging.Logger) -> int:
    """Modules read ahead at once for this org: from its edition, asked once (one API call).

    Bigin's editions have limits of their own, which the tap does not know: Bigin, an org whose
    edition cannot be read (the scope ``ZohoCRM.org.READ`` missing) or is not one Zoho lists
    read as many as the Free edition allows.
    """
    free = reads_at_once(FREE_EDITION)
    if api.product != "crm":
        return free
    try:
        answer = client.get_json(f"{api.root}/org", max_bytes=MAX_ORG_BYTES)
    except ZohoAPIError as exc:
        if exc.code in TAP_REFUSALS:
            raise
        logger.info(
            "The org's edition could not be read (%s; the scope ZohoCRM.org.READ reads it): "
            "up to %d modules are read ahead at once, what the Free edition allows; "
            "max_concurrent_queries sets it.",
            exc.code,
            free,
        )
        return free
    edition = edition_of(answer)
    count = reads_at_once(edition)
    logger.info(
        "Zoho CRM %s: up to %d modules are read ahead at once (Zoho answers %d API calls at "
        "once on it, %d complex ones on every edition); max_concurrent_queries sets it.",
        f"edition {edition}" if edition else "edition not one Zoho lists, taken as Free",
        count,
        CALLS_AT_ONCE[edition or FREE_EDITION],
        COMPLEX_CALLS_AT_ONCE,
    )
    return count
