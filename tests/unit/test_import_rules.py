"""DESIGN.md's import rules, read from the source with ast (nothing is imported): no module imports its own device's
driver, an AstroLink part imports no sibling part, link/ imports nothing of indi/ or the devices, nothing but a tool
imports tools/, and the package has no import cycle.

The graph has an edge for every import in a module: at module level, inside functions, and under TYPE_CHECKING alike,
since an import moved into a function or behind TYPE_CHECKING to dodge a cycle still ties the two modules together.
The NexStar driver is not split yet: its modules are listed in NOT_YET, and a listed module that no longer breaks a
rule fails the test, so the list only shrinks."""

from __future__ import annotations

import ast
from pathlib import Path

import indi_astrojolo

PACKAGE = "indi_astrojolo"
ROOT = Path(indi_astrojolo.__file__).parent

# The AstroLink's parts: each gets what it needs through its constructor, from driver.py, never from a sibling.
ASTROLINK_PARTS = {
    f"{PACKAGE}.astrolink4.{name}" for name in ("alerts", "dewheaters", "focusing", "power", "sensors", "sessionlog")
}

# Not yet: modules that still break a rule, until the NexStar driver is split into parts like the AstroLink's.
# Each entry must still break one (see test_not_yet_is_not_stale): delete it when its module is fixed.
NOT_YET = {
    f"{PACKAGE}.nexstar.driver",  # on the cycles below: it builds the parts, and they hold it
    f"{PACKAGE}.nexstar.focuser",  # holds the NexStarDriver (TYPE_CHECKING)
    f"{PACKAGE}.nexstar.motion",  # holds the NexStarDriver (TYPE_CHECKING)
    f"{PACKAGE}.nexstar.satellite",  # holds the NexStarDriver (TYPE_CHECKING)
    f"{PACKAGE}.nexstar.snooping",  # holds the NexStarDriver (TYPE_CHECKING)
}
# The executables' entry points are above the composition root: they build and run the driver.
ENTRY_POINTS = {f"{PACKAGE}.astrolink4.main", f"{PACKAGE}.nexstar.main"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


MODULES = all_modules()


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def resolve(importer: str, level: int, target: str | None) -> str:
    """The absolute name a (possibly relative) import refers to."""
    if level == 0:
        return target or ""
    base = importer.split(".")
    if not is_package(importer):
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imports_in(source: str, name: str) -> set[str]:
    """The package's modules that `source`, the text of module `name`, imports anywhere."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            origin = resolve(name, node.level, node.module)
            # `from package import module` imports the module; `from module import name` the module itself.
            candidates = [origin] + [f"{origin}.{alias.name}" for alias in node.names]
        else:
            continue
        for candidate in candidates:
            # `import a.b.c` binds and runs a, a.b and a.b.c: the deepest one of ours is the module meant.
            while candidate and candidate not in MODULES:
                candidate = candidate.rpartition(".")[0]
            if (candidate == PACKAGE or candidate.startswith(PACKAGE + ".")) and candidate != name:
                found.add(candidate)
    return found


def imports_of(name: str) -> set[str]:
    return imports_in(MODULES[name].read_text(), name)


GRAPH = {name: imports_of(name) for name in MODULES}


def device_package(name: str) -> str | None:
    """The device package a module belongs to (astrolink4, nexstar), or None."""
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 and parts[1] in ("astrolink4", "nexstar") else None


def imports_own_driver(name: str) -> bool:
    device = device_package(name)
    if device is None or name in ENTRY_POINTS or name == f"{device}.driver":
        return False
    return f"{device}.driver" in GRAPH[name]


def imports_sibling_part(name: str) -> bool:
    return name in ASTROLINK_PARTS and bool(GRAPH[name] & (ASTROLINK_PARTS - {name}))


def in_a_cycle() -> set[str]:
    """Every module on an import cycle (the members of the graph's strongly connected components of two or more)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cyclic: set[str] = set()

    def visit(
        node: str,
    ) -> None:  # Tarjan's algorithm; the package is small enough for recursion
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(GRAPH[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cyclic.update(component)

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return cyclic


CYCLIC = in_a_cycle()


def link_imports_indi(name: str) -> set[str]:
    """link/ moves bytes and knows no INDI and no device: what it imports of indi/, astrolink4/ or nexstar/."""
    if not name.startswith(f"{PACKAGE}.link"):
        return set()
    above = tuple(f"{PACKAGE}.{room}" for room in ("indi", "astrolink4", "nexstar"))
    return {target for target in GRAPH[name] if target.startswith(above)}


INDI_CONNECTION = f"{PACKAGE}.indi.connection"  # libindi's connection plugins: indi/'s one way to open a link


def indi_reaches_into_link(name: str) -> set[str]:
    """indi/ opens links only through its connection module, and otherwise knows the link's pure error types."""
    if not name.startswith(f"{PACKAGE}.indi") or name == INDI_CONNECTION:
        return set()
    pure = f"{PACKAGE}.link.errors"
    return {target for target in GRAPH[name] if target.startswith(f"{PACKAGE}.link") and target != pure}


TOOLS = f"{PACKAGE}.tools"  # the command-line tools: above the drivers, which must not carry their imports


def imports_a_tool(name: str) -> set[str]:
    """What a module outside tools/ imports of tools/ (a tool may use the drivers' modules, not the other way)."""
    if name == TOOLS or name.startswith(f"{TOOLS}."):
        return set()
    return {target for target in GRAPH[name] if target == TOOLS or target.startswith(f"{TOOLS}.")}


def violations(name: str) -> list[str]:
    found = []
    if link_imports_indi(name):
        found.append(f"imports {sorted(link_imports_indi(name))} from above the link")
    if indi_reaches_into_link(name):
        found.append(f"imports {sorted(indi_reaches_into_link(name))}: indi/ opens links only in {INDI_CONNECTION}")
    if imports_a_tool(name):
        found.append(f"imports {sorted(imports_a_tool(name))}: only tools import tools/")
    if imports_own_driver(name):
        found.append("imports its driver")
    if imports_sibling_part(name):
        found.append(f"imports sibling parts {sorted(GRAPH[name] & ASTROLINK_PARTS)}")
    if name in CYCLIC:
        found.append("is on an import cycle: " + " -> ".join(cycle_through(name)))
    return found


def cycle_through(start: str) -> list[str]:
    """One import cycle through `start`, for the failure message."""
    paths = [[start]]
    seen = {start}
    while paths:
        path = paths.pop(0)
        for successor in sorted(GRAPH[path[-1]]):
            if successor == start:
                return path + [start]
            if successor not in seen:
                seen.add(successor)
                paths.append(path + [successor])
    return [start]


def test_the_graph_sees_every_kind_of_import() -> None:
    # The ways the parts used to reach their driver and each other: each must count, or the rules could be dodged.
    source = """
from typing import TYPE_CHECKING
import trio
from . import protocol as p
from ..indi.properties import State
import indi_astrojolo.link.framing
if TYPE_CHECKING:
    from .driver import AstroLink4Driver
def later():
    from .sensors import Sensors
"""
    astrolink = f"{PACKAGE}.astrolink4"
    assert imports_in(source, f"{astrolink}.alerts") == {
        astrolink,  # `from . import` runs the package first
        f"{astrolink}.protocol",
        f"{PACKAGE}.indi.properties",
        f"{PACKAGE}.link.framing",
        f"{astrolink}.driver",
        f"{astrolink}.sensors",
    }
    assert ASTROLINK_PARTS <= set(MODULES)
    assert f"{astrolink}.emulator" in GRAPH[f"{astrolink}.driver"]  # imported only when simulating
    assert any(target.startswith(f"{PACKAGE}.link.") for target in GRAPH[INDI_CONNECTION])
    assert f"{PACKAGE}.astrolink4.datalog" in GRAPH[f"{TOOLS}.charts"]  # tools/ is seen, and may use the drivers'
    assert imports_a_tool(f"{astrolink}.alerts") == set()


def test_no_module_breaks_the_import_rules() -> None:
    broken = {name: found for name in sorted(MODULES) if name not in NOT_YET and (found := violations(name))}
    assert not broken, "\n".join(f"{name}: {'; '.join(found)}" for name, found in broken.items())


def test_not_yet_is_not_stale() -> None:
    unknown = sorted(NOT_YET - set(MODULES))
    fixed = sorted(name for name in NOT_YET & set(MODULES) if not violations(name))
    assert not (unknown or fixed), (
        f"NOT_YET names modules that do not exist: {unknown}; modules that keep the rules now: {fixed}"
    )
