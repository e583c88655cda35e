"""The tap reads child modules from the field metadata shapes Zoho's v8 documents give.

The entries below follow the official v8 SDK's models (``Fields.subform`` is a ``Subform``
{module: string, id}; ``associated_module`` a ``MinifiedModule``; ``multiselectlookup`` a
``Multiselectlookup`` {linking_details {module {api_name, id, ...}, lookup_field,
connected_lookup_field}, connected_details, related_list, record_access}). The SDK test
(`test_official_sdk.py`) checks that the emulator writes the same shapes.
"""

from __future__ import annotations

import logging

import pytest

from tap_zoho_bulkread.bulk.metadata import child_module_of, field_specs

SUBFORM = {
    "api_name": "Quoted_Items",
    "data_type": "subform",
    "subform": {"module": "Quoted_Items", "id": "4876543000000002011"},
    "associated_module": {"module": "Quoted_Items", "id": "4876543000000002011"},
}
MULTI_SELECT_LOOKUP = {
    "api_name": "Linked_Deals",
    "data_type": "multiselectlookup",
    "multiselectlookup": {
        "linking_details": {
            "module": {
                "api_name": "Contacts_X_Deals",
                "id": "4876543000000002015",
                "plural_label": "Contacts X Deals",
                "visibility": 1,
            },
            "lookup_field": {"api_name": "Contact", "id": "1", "field_label": "Contact"},
            "connected_lookup_field": {"api_name": "Deal", "id": "2", "field_label": "Deal"},
        },
        "connected_details": {
            "field": {"api_name": "Contacts_Deals", "field_label": "Linked Deals"},
            "module": {"api_name": "Deals", "id": "4876543000000002003"},
        },
        "related_list": {"api_name": "Linked_Deals", "id": "3", "display_label": "Linked Deals"},
        "record_access": False,
    },
}
MULTI_USER_LOOKUP = {
    "api_name": "Team",
    "data_type": "multiuserlookup",
    "multiuserlookup": {
        "linking_details": {"module": {"api_name": "Projects_X_Users", "id": "9"}},
        "connected_details": {"module": {"api_name": "users"}},
    },
}


@pytest.mark.parametrize(
    ("entry", "child"),
    [
        (SUBFORM, "Quoted_Items"),
        ({**SUBFORM, "subform": None}, "Quoted_Items"),  # associated_module alone
        (MULTI_SELECT_LOOKUP, "Contacts_X_Deals"),
        (MULTI_USER_LOOKUP, "Projects_X_Users"),
        (
            {"api_name": "X", "data_type": "subform", "subform": None, "associated_module": None},
            None,
        ),
        # a name that is not an api name never reaches a log line or a stream name
        ({"api_name": "X", "data_type": "subform", "subform": {"module": "../etc\nx"}}, None),
    ],
)
def test_the_child_module_is_read_from_zohos_v8_shapes(entry, child) -> None:
    assert child_module_of(entry) == child


def test_the_shapes_this_project_once_invented_are_not_read() -> None:
    """``linking_module`` and ``subform.module.api_name`` are no keys of Zoho's."""
    invented = {
        "api_name": "Linked_Deals",
        "data_type": "multiselectlookup",
        "multiselectlookup": {"linking_module": {"api_name": "Contacts_X_Deals"}},
    }
    assert child_module_of(invented) is None


def test_a_left_out_field_names_its_child_stream_in_the_log(caplog) -> None:
    with caplog.at_level(logging.INFO):
        specs = field_specs([SUBFORM, MULTI_SELECT_LOOKUP], "Quotes", logging.getLogger("t"))
    assert specs == []
    assert "Quotes.Quoted_Items (subform) is not a column of Quotes; its rows are the stream " \
        "Quoted_Items" in caplog.text  # fmt: skip
    assert "its rows are the stream Contacts_X_Deals" in caplog.text
    assert "bulk read cannot export it" not in caplog.text


def test_a_left_out_field_whose_child_is_not_synced_says_how_to_export_it(caplog) -> None:
    with caplog.at_level(logging.INFO):
        field_specs([MULTI_SELECT_LOOKUP], "Contacts", logging.getLogger("t"), frozenset({"Leads"}))
    assert "its rows are the module Contacts_X_Deals: add it to modules to export them" in (
        caplog.text
    )
    assert "the stream Contacts_X_Deals" not in caplog.text
