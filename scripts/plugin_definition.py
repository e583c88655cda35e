"""The tap's Meltano plugin definition, written from ``tap-zoho-bulkread --about``.

``plugin/tap-zoho-bulkread.yml`` is what users add with
``meltano add extractor tap-zoho-bulkread --from-ref <file>``; this repository's ``meltano.yml``
declares the same plugin (only ``pip_url`` differs: the working tree instead of the package),
and the README's settings table lists the same settings. All three are written here from the
tap's own settings schema, so they cannot drift from it:

    .venv/bin/python scripts/plugin_definition.py          # write both files
    .venv/bin/python scripts/plugin_definition.py --check  # exit 1 if either is out of date
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
DEFINITION = ROOT / "plugin" / "tap-zoho-bulkread.yml"
MELTANO_YML = ROOT / "meltano.yml"
README = ROOT / "README.md"
TABLE_BEGIN = "<!-- BEGIN settings: written by scripts/plugin_definition.py from --about -->"
TABLE_END = "<!-- END settings -->"
TAP = Path(sys.executable).parent / "tap-zoho-bulkread"
PACKAGE_PIP_URL = "tap-zoho-bulkread[fast]"
REPOSITORY_PIP_URL = "-e .[fast]"
BEGIN = "  # BEGIN tap-zoho-bulkread: written by scripts/plugin_definition.py, do not edit by hand"
END = "  # END tap-zoho-bulkread"
HEADER = (
    "# The Meltano plugin definition of tap-zoho-bulkread, written by\n"
    "# scripts/plugin_definition.py from `tap-zoho-bulkread --about`. Add it to your project:\n"
    "#   meltano add extractor tap-zoho-bulkread --from-ref tap-zoho-bulkread.yml\n"
)
OPTION_LABELS = {
    "us": "United States", "eu": "Europe", "in": "India", "au": "Australia", "jp": "Japan",
    "cn": "China", "ca": "Canada", "sa": "Saudi Arabia",
    "production": "Production", "sandbox": "Sandbox", "developer": "Developer",
    "crm": "Zoho CRM", "bigin": "Bigin",
    "Created_Time": "Created_Time (append new records)",
    "Modified_Time": "Modified_Time (also capture updates)",
}  # fmt: skip
KINDS = {"integer": "integer", "number": "decimal", "boolean": "boolean", "array": "array",
         "object": "object"}  # fmt: skip


def about() -> dict[str, Any]:
    """The tap's ``--about`` as JSON."""
    text = subprocess.run(
        [str(TAP), "--about", "--format", "json"], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(text)  # type: ignore[no-any-return]


def setting(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """One Meltano setting from the JSON schema of one of the tap's settings."""
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    found: dict[str, Any] = {"name": name}
    if schema.get("title"):
        found["label"] = schema["title"]
    if "enum" in schema:
        found["kind"] = "options"
        found["options"] = [
            {"label": OPTION_LABELS.get(value, value), "value": value} for value in schema["enum"]
        ]
    elif schema.get("format") == "date-time":
        found["kind"] = "date_iso8601"
    else:
        found["kind"] = next((KINDS[t] for t in types if t in KINDS), "string")
    if schema.get("secret"):
        found["sensitive"] = True
    text = " ".join(str(schema.get("description", "")).split())
    if "default" in schema:
        # said, not set: a `value` would freeze this version's default in the user's project
        text += f" Default: {json.dumps(schema['default'])}."
    if text:
        found["description"] = text
    return found


def definition(found: dict[str, Any], pip_url: str) -> dict[str, Any]:
    """The extractor's plugin definition, as the Hub writes one."""
    settings = found["settings"]
    return {
        "name": found["name"],
        "namespace": "tap_zoho_bulkread",
        "label": "Zoho CRM and Bigin (Bulk Read)",
        "description": found["description"],
        "pip_url": pip_url,
        "executable": found["name"],
        "capabilities": list(found["capabilities"]),
        "settings_group_validation": [list(settings.get("required", []))],
        "settings": [setting(name, schema) for name, schema in settings["properties"].items()],
    }


def dump(value: Any) -> str:
    return str(yaml.safe_dump(value, sort_keys=False, width=100, allow_unicode=True))


def meltano_yml(text: str, block: dict[str, Any]) -> str:
    """``meltano.yml`` with the extractor between the markers replaced by ``block``."""
    lines = text.splitlines()
    start, end = lines.index(BEGIN), lines.index(END)
    item = ["  " + line for line in dump([block]).splitlines()]
    return "\n".join([*lines[: start + 1], *item, *lines[end:]]) + "\n"


def settings_table(found: dict[str, Any]) -> list[str]:
    """The README's table of settings: name, required, default, description."""
    required = set(found["settings"].get("required", []))
    rows = [
        "| Setting | Required | Default | Description |",
        "|:--------|:--------:|:-------:|:------------|",
    ]
    for name, schema in found["settings"]["properties"].items():
        text = " ".join(str(schema.get("description", "")).split()).replace("|", "\\|")
        default = json.dumps(schema["default"]) if "default" in schema else ""
        rows.append(f"| {name} | {'yes' if name in required else ''} | {default} | {text} |")
    return rows


def readme(text: str, found: dict[str, Any]) -> str:
    """The README with the settings table between its markers written anew."""
    lines = text.splitlines()
    start, end = lines.index(TABLE_BEGIN), lines.index(TABLE_END)
    return "\n".join([*lines[: start + 1], *settings_table(found), *lines[end:]]) + "\n"


def wanted() -> dict[Path, str]:
    """Each file's content as the tap's ``--about`` makes it."""
    found = about()
    return {
        DEFINITION: HEADER + dump(definition(found, PACKAGE_PIP_URL)),
        MELTANO_YML: meltano_yml(MELTANO_YML.read_text(), definition(found, REPOSITORY_PIP_URL)),
        README: readme(README.read_text(), found),
    }


def main() -> int:
    """Write the files, or with ``--check`` say which one is out of date."""
    command = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    command.add_argument("--check", action="store_true", help="only check the files")
    args = command.parse_args()
    stale = []
    for path, text in wanted().items():
        if path.exists() and path.read_text() == text:
            continue
        if args.check:
            stale.append(path.relative_to(ROOT))
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
    if stale:
        print(
            f"{', '.join(map(str, stale))} differ from `tap-zoho-bulkread --about`; run "
            "scripts/plugin_definition.py to write them again.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
