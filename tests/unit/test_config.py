"""Settings typed once: one default per setting, read through TapConfig."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import yaml

from tap_zoho_bulkread.config import DEFAULTS, TapConfig
from tap_zoho_bulkread.tap import TapZohoBulkRead

ROOT = Path(__file__).resolve().parents[2]
SDK_PREFIXES = ("stream_map", "flattening_", "batch_config", "faker_config")  # singer-sdk's own


def test_every_setting_of_the_schema_is_a_typed_field_with_the_schemas_default() -> None:
    schema = TapZohoBulkRead.config_jsonschema["properties"]
    own = {name for name in schema if not name.startswith(SDK_PREFIXES)}
    assert own == {item.name for item in fields(TapConfig)}
    for name in own:
        assert schema[name].get("default") == (
            getattr(DEFAULTS, name) if "default" in schema[name] else None
        ), name


def test_missing_and_null_settings_take_the_default_and_values_get_their_type() -> None:
    config = TapConfig.from_mapping(
        {"client_id": "x", "max_tries": "3", "poll_interval_seconds": 0.05, "api_domain": None,
         "modules": ["Leads", "Calls"], "token_cache": False, "batch_compression_level": 0}
    )  # fmt: skip
    assert config.max_tries == 3 and config.poll_interval_seconds == 0.05
    assert config.api_domain is None and config.data_center == "us"
    assert config.modules == ("Leads", "Calls") and config.token_cache is False
    assert config.batch_compression_level == 0  # a falsy value is a value, not the default
    assert TapConfig.from_mapping({}) == DEFAULTS


def test_meltano_yml_restates_no_default_of_the_tap() -> None:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (tap,) = [p for p in project["plugins"]["extractors"] if p["name"] == "tap-zoho-bulkread"]
    restated = {s["name"]: s["value"] for s in tap["settings"] if "value" in s}
    assert restated == {}
