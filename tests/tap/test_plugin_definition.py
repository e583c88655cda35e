"""The Meltano plugin definition and this repository's meltano.yml say what the tap says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TAP = Path(sys.executable).parent / "tap-zoho-bulkread"


def test_the_definition_and_meltano_yml_are_written_from_the_taps_about() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "plugin_definition.py"), "--check"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_every_setting_of_the_tap_is_declared_with_its_secrecy_and_default() -> None:
    """Read against the tap's --about, not the generator: secrets sensitive (so `meltano config
    set` keeps them in .env), arrays and objects as such (so JSON values reach the tap parsed),
    and the repository's meltano.yml declaring the same plugin but for where it installs from."""
    about = json.loads(
        subprocess.run(
            [str(TAP), "--about", "--format", "json"], capture_output=True, text=True, check=True
        ).stdout
    )
    definition = yaml.safe_load((ROOT / "plugin" / "tap-zoho-bulkread.yml").read_text())
    declared = {s["name"]: s for s in definition["settings"]}
    assert set(declared) == set(about["settings"]["properties"])
    for name, schema in about["settings"]["properties"].items():
        entry = declared[name]
        assert entry.get("sensitive", False) == bool(schema.get("secret")), name
        assert entry.get("description"), name
        # a default is said, never set: a value would freeze it in the user's meltano.yml
        assert "value" not in entry, name
        if "default" in schema:
            assert f"Default: {json.dumps(schema['default'])}." in entry["description"], name
    assert declared["modules"]["kind"] == "array"
    for name in ("stream_maps", "stream_map_config", "module_settings", "batch_config"):
        assert declared[name]["kind"] == "object", name
    assert set(definition["capabilities"]) == set(about["capabilities"])
    assert "structured-logging" in definition["capabilities"]
    (repository,) = [
        p
        for p in yaml.safe_load((ROOT / "meltano.yml").read_text())["plugins"]["extractors"]
        if p["name"] == "tap-zoho-bulkread"
    ]
    assert {**repository, "pip_url": ""} == {**definition, "pip_url": ""}
