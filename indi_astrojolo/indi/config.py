"""INDI config files (~/.indi/<device>_config.xml): the format libindi drivers use, so a user's habits carry over.

A config file is an ``<INDIDriver>`` element holding ``new*Vector`` elements; loading replays them as if a client had
sent them. ``<path>.default`` keeps the driver's own defaults and is written the first time a config is saved or
loaded, as libindi does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from ..files import FileTooLarge, atomic_write_bytes, copy_aside, file_error, indi_home, move_aside, read_bounded
from .properties import Vector
from .xmlstream import NewVector

MAX_CONFIG_BYTES = 1 << 20  # a full config is tens of kB; parsing a megabyte takes milliseconds, not seconds


class ConfigError(Exception):
    """A config file that cannot be read."""


class ConfigMissing(ConfigError):
    """No config file has been saved yet: normal on a first run."""


@dataclass
class ConfigFile:
    """What a config file holds. A damaged file (not valid XML) still gives every entry that could be read whole:
    `damage` says what is wrong, `skipped` counts the entries left out, `data` keeps the bytes for the copy."""

    path: Path
    requests: list[NewVector]
    data: bytes = b""
    damage: str | None = None
    skipped: int = 0

    def describe_damage(self) -> str:
        left_out = (
            f"; {self.skipped} damaged entr{'y was' if self.skipped == 1 else 'ies were'} left out"
            if self.skipped
            else ""
        )
        return f"{self.path} is damaged ({self.damage}): what could be read in it was applied{left_out}"


def config_path(device: str) -> Path:
    override = os.environ.get("INDICONFIG")
    if override:
        return Path(override)
    return indi_home() / f"{device}_config.xml"


def default_path(path: Path) -> Path:
    return path.with_name(path.name + ".default")


def render(vectors: Iterable[Vector]) -> bytes:
    root = etree.Element("INDIDriver")
    for vector in vectors:
        root.append(vector.config_element())
    return etree.tostring(root, pretty_print=True, encoding="utf-8")


def write(path: Path, vectors: Iterable[Vector]) -> None:
    atomic_write_bytes(path, render(vectors))


def write_default_once(path: Path, default_document: bytes) -> None:
    target = default_path(path)
    if not target.exists():
        atomic_write_bytes(target, default_document)


def _parser(**options: bool) -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True, **options)


def _readable_elements(data: bytes) -> tuple[list[etree._Element], str | None, int]:
    """The top-level elements that were read whole, the reason the document is not valid XML (None if it is), and
    how many elements were left out.

    A damaged file is read twice. A strict pass gives every element that ended before the first error: those are
    exactly what was written. A recovering pass then finds the elements after the damage; one is kept only if no
    error lies on the lines from its start to the next element's start (a value cut short, "10" read as "1", would
    otherwise pass as a different number). An element the strict pass could not finish is never kept.
    """
    try:
        return list(etree.fromstring(data, _parser())), None, 0
    except etree.XMLSyntaxError as exc:
        damage = str(exc)
    strict = etree.XMLPullParser(events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False)
    whole = 0
    depth = 0
    try:
        strict.feed(data)
    except etree.XMLSyntaxError:
        pass
    # Only the events of what was fed: at close() the parser also ends, as if whole, the elements the damage left
    # open, and those are exactly the ones not to trust.
    for event, _ in strict.read_events():
        depth += 1 if event == "start" else -1
        if event == "end" and depth == 1:
            whole += 1
    recovering = _parser(recover=True)
    try:
        root = etree.fromstring(data, recovering)
    except etree.XMLSyntaxError:
        root = None
    if root is None:
        return [], damage, 0
    elements = [element for element in root if isinstance(element.tag, str)]
    error_lines = [error.line for error in recovering.error_log]
    kept = elements[:whole]
    for index in range(whole, len(elements)):
        first = elements[index].sourceline or 0
        last = elements[index + 1].sourceline or first if index + 1 < len(elements) else float("inf")
        if not any(first <= line <= last for line in error_lines):
            kept.append(elements[index])
    return kept, damage, len(elements) - len(kept)


def load(path: Path, *, limit: int = MAX_CONFIG_BYTES) -> ConfigFile:
    """The requests stored in a config file, in file order; a damaged file gives what could be read of it.

    ConfigMissing if there is none; ConfigError if it cannot be read (it is then left as it is), or if it is larger
    than `limit` (it is then renamed to <name>.damaged-<UTC time>, so it is neither read again nor overwritten).
    """
    try:
        data = read_bounded(path, limit)
    except FileTooLarge as exc:
        try:
            kept = move_aside(path)
        except OSError as error:
            raise ConfigError(
                f"{path} was not read: {exc}; it could not be kept aside ({file_error(error, 'rename')})"
            ) from None
        raise ConfigError(f"{path} was not read: {exc}; it was kept aside as {kept.name}") from None
    except OSError as exc:
        raise ConfigError(f"{path} was not read: {file_error(exc)}") from None
    if data is None:
        raise ConfigMissing(f"no config file at {path}")
    elements, damage, skipped = _readable_elements(data)
    requests = []
    for element in elements:
        tag = element.tag
        if not isinstance(tag, str) or not (tag.startswith("new") and tag.endswith("Vector")):
            continue
        kind = tag[3:-6]
        member_tag = f"one{kind}"
        members = tuple((child.get("name"), (child.text or "").strip()) for child in element if child.tag == member_tag)
        requests.append(NewVector(kind, element.get("device"), element.get("name"), members, None))
    return ConfigFile(path, requests, data, damage, skipped)


def read(path: Path) -> list[NewVector]:
    """The requests of a config file that is whole; ConfigError if it is missing, unreadable or damaged."""
    loaded = load(path)
    if loaded.damage is not None:
        raise ConfigError(f"{path} is not valid XML: {loaded.damage}")
    return loaded.requests


def keep_damaged_copy(loaded: ConfigFile) -> Path:
    """A copy of a damaged config beside it (<name>.damaged-<UTC time>), made once; OSError if it cannot be."""
    return copy_aside(loaded.path, loaded.data)


def protect_before_overwrite(path: Path) -> None:
    """Called before a save replaces `path`: a damaged file there is kept aside first. ConfigError if it cannot
    be, so the save does not go ahead and destroy the only copy."""
    try:
        loaded = load(path)
    except ConfigMissing:
        return
    except ConfigError:
        return  # unreadable: the write reports its own error; too large: it was moved aside already
    if loaded.damage is None:
        return
    try:
        keep_damaged_copy(loaded)
    except OSError as exc:
        raise ConfigError(
            f"not saved: {path} is damaged and no copy of it could be kept ({file_error(exc, 'write')}); "
            "move it away by hand, then save again"
        ) from None


def purge(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
