"""The layers the tree shows hold in the code: what each package may import."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tap_zoho_bulkread"
# talk to Zoho, read its files, decide the read path: no singer-sdk, nothing above
LOWER = ("zoho", "bulk", "coql", "planner", "read_path", "module_state")
ABOVE = ("streams", "writers", "tap", "discovery", "config", "run_parts", "credentials")
# Each module's floor (a package's, or the module's own name): an import goes to the same
# floor or a lower one. streams.base, the singer-sdk seam, sits on floor 1, below the streams.
FLOORS = {
    **dict.fromkeys([*LOWER, "errors", "times", "summary"], 0),
    **dict.fromkeys(["config", "config_checks", "state_file", "run_parts", "streams.base"], 1),
    "writers": 2,
    **dict.fromkeys(["streams", "discovery"], 3),
    **dict.fromkeys(["tap", "credentials"], 4),
}


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


def floor_of(module: str) -> int:
    parts = module.split(".")[1:]
    for key in (".".join(parts[:2]), parts[0] if parts else ""):
        if key in FLOORS:
            return FLOORS[key]
    raise AssertionError(f"{module} has no floor in FLOORS: give it one")


def test_no_import_runs_up_a_floor() -> None:
    """Imports go down (or stay level); the streams reach singer-sdk only through the seam."""
    modules = [m for m in MODULES if m != "tap_zoho_bulkread"]
    assert {"tap_zoho_bulkread.coql.decode", "tap_zoho_bulkread.bulk.kinds"} <= set(modules)
    upward = [
        (module, name)
        for module in modules
        for name in MODULES[module]
        if name in MODULES and name != "tap_zoho_bulkread" and floor_of(name) > floor_of(module)
    ]
    assert upward == []


def test_the_floors_test_sees_an_upward_import() -> None:
    assert floor_of("tap_zoho_bulkread.streams.modules") > floor_of("tap_zoho_bulkread.config")
    assert floor_of("tap_zoho_bulkread.streams.base") < floor_of(
        "tap_zoho_bulkread.writers.records"
    )


def test_the_readmes_layout_names_every_module_of_the_tree() -> None:
    readme = (PACKAGE.parent / "README.md").read_text()
    start = readme.index("- Layout, along the data flow")
    layout = readme[start : readme.index("`emulator/` (its own distribution", start)]
    files = [p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"]
    assert len(files) >= 50
    named = [f"`{p.name}`" in layout or f"`{p.relative_to(PACKAGE)}`" in layout for p in files]
    unnamed = [
        str(p.relative_to(PACKAGE)) for p, seen in zip(files, named, strict=True) if not seen
    ]
    assert unnamed == []
    for package in ("zoho", "coql", "bulk", "streams", "writers"):
        assert f"`{package}/`" in layout, package
