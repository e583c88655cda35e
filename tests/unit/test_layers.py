"""The layers the tree shows hold in the code: what each package may import."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tap_zoho_bulkread"
# talk to Zoho, read its files, decide the read path: no singer-sdk, nothing above
LOWER = ("zoho", "bulk", "coql", "planner")
ABOVE = ("streams", "writers", "tap", "discovery", "settings", "credentials")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of its code (TYPE_CHECKING blocks too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


MODULES = {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}


def reachable(start: str) -> set[str]:
    """The tap's modules ``start`` imports, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        for name in MODULES.get(todo.pop(), set()):
            if name in MODULES and name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def test_zoho_bulk_coql_and_the_planner_never_reach_singer_sdk_nor_the_layers_above() -> None:
    lower = [m for m in MODULES if m.split(".")[1:2] and m.split(".")[1] in LOWER]
    assert len(lower) >= 17, lower  # the test sees the packages
    assert {"tap_zoho_bulkread.planner", "tap_zoho_bulkread.coql.read"} <= set(lower)
    for module in lower:
        closure = {module, *reachable(module)}
        sdk = {m: sorted(n for n in MODULES[m] if n.split(".")[0] == "singer_sdk") for m in closure}
        assert not any(sdk.values()), (module, {m: n for m, n in sdk.items() if n})
        above = sorted(m for m in closure if m.split(".")[1] in ABOVE)
        assert not above, (module, above)


def test_the_test_sees_an_import_of_singer_sdk_where_there_is_one() -> None:
    assert "singer_sdk" in {n.split(".")[0] for n in MODULES["tap_zoho_bulkread.streams.base"]}


def test_streams_holds_only_singer_sdk_streams_and_their_schemas() -> None:
    """The REST readers live in zoho/, beside the change check; streams/ holds streams."""
    import tap_zoho_bulkread.streams.deletions as stream
    import tap_zoho_bulkread.zoho.deletions as reader

    assert tuple(stream.DELETED_SCHEMA["properties"]) == reader.DELETED_FIELDS
    for module in ("deletions", "rest", "modules", "events_ics", "full_table_reads"):
        names = MODULES[f"tap_zoho_bulkread.streams.{module}"]
        assert not any(n.endswith(("DeletionReader", "RestoreFinder", "PageGuard")) and
                       n.startswith("tap_zoho_bulkread.streams") for n in names), module  # fmt: skip
    assert "tap_zoho_bulkread.zoho.deletions" in MODULES
    assert "tap_zoho_bulkread.streams.recycle_bin" not in MODULES
