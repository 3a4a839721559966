"""INDI config files (~/.indi/<device>_config.xml): the format libindi drivers use, so a user's habits carry over.

A config file is an ``<INDIDriver>`` element holding ``new*Vector`` elements; loading replays them as if a client had
sent them. ``<path>.default`` keeps the driver's own defaults and is written the first time a config is saved or
loaded, as libindi does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from lxml import etree

from ..files import atomic_write_bytes, indi_home
from .properties import Vector
from .xmlstream import NewVector


class ConfigError(Exception):
    """A config file that cannot be read."""


class ConfigMissing(ConfigError):
    """No config file has been saved yet: normal on a first run."""


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


def read(path: Path) -> list[NewVector]:
    """The requests stored in a config file, in file order."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigMissing(f"no config file at {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ConfigError(f"{path} is not valid XML: {exc}") from None
    requests = []
    for element in root:
        tag = element.tag
        if not isinstance(tag, str) or not (tag.startswith("new") and tag.endswith("Vector")):
            continue
        kind = tag[3:-6]
        member_tag = f"one{kind}"
        members = tuple(
            (child.get("name"), (child.text or "").strip()) for child in element if child.tag == member_tag
        )
        requests.append(NewVector(kind, element.get("device"), element.get("name"), members, None))
    return requests


def purge(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
