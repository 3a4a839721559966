"""Load property declarations from the project's xml/ files; sans-I/O (reading those files is all it does).

The files are INDI skeleton files: a root element (conventionally ``<INDIDriver>``) holding ``def*Vector`` elements in
the wire format. Two attributes that never reach the wire extend them: ``save="true"`` marks a vector that
CONFIG_SAVE writes to the config file, and ``device`` may be left out (the runtime device name is used).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from .properties import (
    BlobMember,
    BlobVector,
    LightMember,
    LightVector,
    NumberMember,
    NumberVector,
    State,
    SwitchMember,
    SwitchVector,
    TextMember,
    TextVector,
    Vector,
)
from .xmlstream import parse_number

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


class DefinitionError(ValueError):
    """A property file that does not describe valid INDI properties."""


def xml_dir() -> Path:
    """Where the property files live: inside the installed package, or at the top of a source checkout."""
    for candidate in (PACKAGE_ROOT / "xml", PACKAGE_ROOT.parent / "xml"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("no xml/ directory with property definitions found")


def _float(element: etree._Element, attribute: str, default: float | None = None) -> float:
    text = element.get(attribute)
    if text is None:
        if default is None:
            raise DefinitionError(f"line {element.sourceline}: <{element.tag}> needs {attribute}=")
        return default
    try:
        return parse_number(text)
    except ValueError as exc:
        raise DefinitionError(f"line {element.sourceline}: {attribute}={text!r}: {exc}") from None


def _label(element: etree._Element) -> str:
    return element.get("label") or element.get("name", "")


def _number(element: etree._Element) -> NumberMember:
    return NumberMember(
        name=element.get("name", ""),
        label=_label(element),
        format=element.get("format", "%g"),
        min=_float(element, "min"),
        max=_float(element, "max"),
        step=_float(element, "step", 0.0),
        value=parse_number((element.text or "0").strip() or "0"),
    )


def _switch(element: etree._Element) -> SwitchMember:
    return SwitchMember(element.get("name", ""), _label(element), (element.text or "").strip() == "On")


def _text(element: etree._Element) -> TextMember:
    return TextMember(element.get("name", ""), _label(element), (element.text or "").strip())


def _light(element: etree._Element) -> LightMember:
    return LightMember(element.get("name", ""), _label(element), State((element.text or "Idle").strip()))


def _blob(element: etree._Element) -> BlobMember:
    return BlobMember(element.get("name", ""), _label(element))


_KINDS: dict[str, tuple[type[Vector], str, Callable[[etree._Element], object]]] = {
    "defNumberVector": (NumberVector, "defNumber", _number),
    "defSwitchVector": (SwitchVector, "defSwitch", _switch),
    "defTextVector": (TextVector, "defText", _text),
    "defLightVector": (LightVector, "defLight", _light),
    "defBLOBVector": (BlobVector, "defBLOB", _blob),
}


def _vector(element: etree._Element, device: str) -> Vector:
    cls, member_tag, make_member = _KINDS[element.tag]
    members = []
    for child in element:
        if not isinstance(child.tag, str):
            continue  # comments
        if child.tag != member_tag:
            raise DefinitionError(f"line {child.sourceline}: <{child.tag}> inside <{element.tag}>")
        if not child.get("name"):
            raise DefinitionError(f"line {child.sourceline}: <{child.tag}> without a name")
        members.append(make_member(child))
    name = element.get("name")
    if not name:
        raise DefinitionError(f"line {element.sourceline}: <{element.tag}> without a name")
    if not members:
        raise DefinitionError(f"line {element.sourceline}: {name} has no members")
    kwargs: dict[str, Any] = {  # each kind takes its own keywords
        "state": State(element.get("state", "Idle")),
        "timeout": _float(element, "timeout", 0.0),
        "save": element.get("save", "false") == "true",
    }
    if cls is not LightVector:
        kwargs["perm"] = element.get("perm", "rw")
    if cls is SwitchVector:
        kwargs["rule"] = element.get("rule", "OneOfMany")
    try:
        vector = cls(device, name, _label(element), element.get("group", "Main Control"), members, **kwargs)
    except ValueError as exc:
        raise DefinitionError(f"line {element.sourceline}: {exc}") from None
    if isinstance(vector, SwitchVector) and vector.rule == "OneOfMany" and len(vector.on_names()) != 1:
        raise DefinitionError(f"line {element.sourceline}: OneOfMany switch {name} must start with one switch On")
    return vector


@cache
def _parsed(path: Path) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=True)
    return etree.parse(str(path), parser).getroot()


def load_vectors(filename: str | Path, device: str) -> list[Vector]:
    """Fresh property objects for every def*Vector in one file (relative names are looked up in xml/)."""
    path = Path(filename)
    if not path.is_absolute():
        path = xml_dir() / path
    root = _parsed(path)
    vectors = []
    for element in root:
        if not isinstance(element.tag, str):
            continue
        if element.tag not in _KINDS:
            raise DefinitionError(f"{path.name} line {element.sourceline}: unexpected <{element.tag}>")
        try:
            vectors.append(_vector(element, device))
        except DefinitionError as exc:
            raise DefinitionError(f"{path.name}: {exc}") from None
    return vectors
