"""Every property and member name the code spells out exists in the XML it is declared in.

A name mistyped in code (`props.number("FOCUS_MAXX")`, `vector["TIMED_GUIDE_NN"]`) would fail only when that line
runs, perhaps at night; here each one is checked against the driver's own files at once. Read from the code's syntax
tree: the vector named in `props.number/switch/text/light("NAME")`, `props["NAME"]`, `update("NAME", ...)` and the
keys of a part's `handlers`; the member in `props.number("NAME")["MEMBER"]`, which must belong to that vector."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "indi_astrojolo"
XML = ROOT / "xml"
SHARED = ("general.xml", "connection.xml")
FILES = {
    "astrolink4": (*SHARED, "astrolink4_usb.xml"),
    "nexstar": (*SHARED, *(path.name for path in sorted(XML.glob("nexstar_aux*.xml")))),
}
TYPED = {"number", "switch", "text", "light"}
# Vectors built in code rather than declared: SYSTEM_PORTS's members are the serial ports found (indi/spec.py).
BUILT_IN_CODE = {"SYSTEM_PORTS": set()}


def declared(files: tuple[str, ...]) -> dict[str, set[str]]:
    """Vector name → its member names, from the given files."""
    vectors: dict[str, set[str]] = {name: set(members) for name, members in BUILT_IN_CODE.items()}
    for name in files:
        for vector in etree.parse(str(XML / name)).getroot():
            if isinstance(vector.tag, str) and vector.tag.startswith("def") and vector.get("name"):
                vectors.setdefault(vector.get("name"), set()).update(m.get("name") for m in vector if m.get("name"))
    return vectors


def _string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_props(node: ast.AST) -> bool:
    """`props`, `self.props`, `driver.props`: a device's property set (not a snooped vector or a JSON entry)."""
    return (isinstance(node, ast.Name) and node.id == "props") or (
        isinstance(node, ast.Attribute) and node.attr == "props"
    )


def _vector_named(node: ast.AST) -> str | None:
    """The vector a `props.number("NAME")` (or switch/text/light) call, or a `props["NAME"]`, names."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in TYPED and node.args:
        return _string(node.args[0]) if _is_props(node.func.value) else None
    if isinstance(node, ast.Subscript) and _is_props(node.value):
        return _string(node.slice)
    return None


def _members_through_locals(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[tuple[str, str, int]]:
    """`status = self.props.number("SAT_STATUS")` then `status["SAT_AZ"]`, within one function (a local assigned a
    vector once, and never anything else)."""
    assigned: dict[str, set[str | None]] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            assigned.setdefault(node.targets[0].id, set()).add(_vector_named(node.value))
    vectors = {name: next(iter(found)) for name, found in assigned.items() if len(found) == 1 and None not in found}
    return {
        (vectors[node.value.id], member, node.lineno)
        for node in ast.walk(function)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in vectors
        if (member := _string(node.slice)) is not None
    }


def names_used(path: Path) -> tuple[set[tuple[str, int]], set[tuple[str, str, int]]]:
    """(vector, line) and (vector, member, line) the module spells out."""
    vectors: set[tuple[str, int]] = set()
    members: set[tuple[str, str, int]] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (name := _vector_named(node)) is not None:
            vectors.add((name, node.lineno))
        if isinstance(node, ast.Subscript) and (vector := _vector_named(node.value)) is not None:
            if (member := _string(node.slice)) is not None:
                members.add((vector, member, node.lineno))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update":
            if node.args and (name := _string(node.args[0])) is not None:
                vectors.add((name, node.lineno))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            members.update(_members_through_locals(node))
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Attribute) and target.attr == "handlers" for target in node.targets
        ):
            value = node.value
            if isinstance(value, ast.Dict):
                vectors.update((key, node.lineno) for k in value.keys if k is not None and (key := _string(k)))
    return vectors, members


def undeclared(paths: list[Path], known: dict[str, set[str]]) -> list[str]:
    """Each name the modules spell out that `known` lacks, as `path:line: what`."""
    missing = []
    for path in paths:
        vectors, members = names_used(path)
        where = path.relative_to(ROOT)
        missing += [f"{where}:{line}: vector {name}" for name, line in vectors if name not in known]
        missing += [
            f"{where}:{line}: {vector} has no member {member}"
            for vector, member, line in members
            if vector in known and member not in known[vector]
        ]
    return sorted(missing)


@pytest.mark.parametrize("room", sorted(FILES))
def test_every_name_a_driver_spells_out_is_declared_in_its_xml(room: str) -> None:
    missing = undeclared(sorted((PACKAGE / room).rglob("*.py")), declared(FILES[room]))
    assert not missing, "\n".join(missing)


def test_the_shared_rooms_use_only_names_some_driver_declares() -> None:
    known: dict[str, set[str]] = {}
    for files in FILES.values():
        for name, members in declared(files).items():
            known.setdefault(name, set()).update(members)
    shared = [path for path in sorted(PACKAGE.rglob("*.py")) if path.relative_to(PACKAGE).parts[0] not in FILES]
    missing = undeclared(shared, known)
    assert not missing, "\n".join(missing)


def test_the_check_finds_a_mistyped_name(tmp_path) -> None:
    module = tmp_path / "part.py"
    module.write_text(
        'self.handlers = {"FOCUS_MAXX": self.on_max}\n'
        'x = self.props.number("ABS_FOCUS_POSITION")["FOCUS_ABSOLUTE_POSITON"]\n'
        'self.driver.update("DEW_CHANNELZ", State.OK)\n'
        "def show(self):\n"
        '    status = self.props.number("SAT_STATUS")\n'
        '    status["SAT_AZZ"].value = 1.0\n'
    )
    vectors, members = names_used(module)
    assert {name for name, _ in vectors} == {"FOCUS_MAXX", "ABS_FOCUS_POSITION", "DEW_CHANNELZ", "SAT_STATUS"}
    assert {(vector, member) for vector, member, _ in members} == {
        ("ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITON"),
        ("SAT_STATUS", "SAT_AZZ"),
    }
