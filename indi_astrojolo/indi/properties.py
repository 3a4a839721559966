"""INDI property vectors: members, state, permissions, rules, and all-or-nothing validation of client requests.

Sans-I/O: nothing here touches I/O. A client's ``new*Vector`` is turned into an :class:`Update` by
:meth:`Vector.validate`, which either accepts the whole message or raises :class:`ValidationError` naming exactly what
was wrong; the vector itself is only changed by :meth:`Vector.apply`, after the driver has carried the request out.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from lxml import etree

from .xmlstream import NewVector, format_number_wire, parse_number, sanitize_text, timestamp_now

MAX_TEXT_LENGTH = 4096


# Not StrEnum (ruff's UP042): str() and format() of a StrEnum member give its value ("Ok"), of this one its name
# ("State.OK"); changing that would change any text a state is put into.
class State(str, Enum):  # noqa: UP042
    IDLE = "Idle"
    OK = "Ok"
    BUSY = "Busy"
    ALERT = "Alert"


class ValidationError(Exception):
    """A client request that cannot be applied; the message is shown to the user as it is."""


@dataclass(slots=True)
class NumberMember:
    name: str
    label: str
    format: str
    min: float
    max: float
    step: float
    value: float

    def check(self, value: float) -> None:
        if not math.isfinite(value):
            raise ValidationError(f"{self.name}: {value} is not a finite number")
        if self.min < self.max and not (self.min <= value <= self.max):
            raise ValidationError(
                f"{self.name}: {format_plain(value)} is outside the allowed range "
                f"{format_plain(self.min)} … {format_plain(self.max)}"
            )


@dataclass(slots=True)
class SwitchMember:
    name: str
    label: str
    on: bool


@dataclass(slots=True)
class TextMember:
    name: str
    label: str
    value: str


@dataclass(slots=True)
class LightMember:
    name: str
    label: str
    state: State


@dataclass(slots=True)
class BlobMember:
    name: str
    label: str
    data: bytes = b""
    format: str = ""


def format_plain(value: float) -> str:
    """Short human text for a number in an error message."""
    return f"{value:.10g}"


@dataclass(slots=True)
class Update:
    """A validated request: the complete proposed member values and the names the client actually sent."""

    vector: Vector
    values: dict[str, Any]
    sent: tuple[str, ...]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    @property
    def switches(self) -> SwitchVector:
        """The vector, for a handler of a switch vector (as PropertySet.switch(), a wrong kind is a bug)."""
        assert isinstance(self.vector, SwitchVector), self.vector.name
        return self.vector

    def changed(self) -> dict[str, Any]:
        """Members whose proposed value differs from the current one."""
        current = self.vector.values()
        return {name: value for name, value in self.values.items() if current[name] != value}


class Vector:
    kind: str = ""
    member_tag: str = ""

    def __init__(
        self,
        device: str,
        name: str,
        label: str,
        group: str,
        members: Iterable[Any],
        *,
        state: State = State.IDLE,
        perm: str = "rw",
        timeout: float = 0,
        save: bool = False,
    ) -> None:
        self.device = device
        self.name = name
        self.label = label
        self.group = group
        self.state = state
        self.perm = perm
        self.timeout = timeout
        self.save = save
        self.members: dict[str, Any] = {}
        for member in members:
            if member.name in self.members:
                raise ValueError(f"{name}: duplicate member {member.name}")
            self.members[member.name] = member

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.state.value} {self.values()}>"

    def __getitem__(self, name: str) -> Any:
        return self.members[name]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.members.values())

    def __contains__(self, name: str) -> bool:
        return name in self.members

    def values(self) -> dict[str, Any]:
        raise NotImplementedError

    def apply(self, values: dict[str, Any]) -> None:
        raise NotImplementedError

    # --- validation -----------------------------------------------------------------------------------------------

    def validate(self, request: NewVector) -> Update:
        """Check a whole client request; raise ValidationError on the first problem, change nothing."""
        where = f"{self.name}"
        if request.kind != self.kind:
            raise ValidationError(f"{where} is a {self.kind} property, but a new{request.kind}Vector was sent")
        if self.perm == "ro":
            raise ValidationError(f"{where} is read-only")
        if not request.members:
            raise ValidationError(f"{where}: the request has no members")
        seen: set[str] = set()
        named: list[tuple[str, str]] = []  # request.members, every name checked
        for member_name, text in request.members:
            if member_name is None:
                raise ValidationError(f"{where}: a member has no name")
            if member_name not in self.members:
                known = ", ".join(self.members)
                raise ValidationError(f"{where} has no member {member_name!r} (members: {known})")
            if member_name in seen:
                raise ValidationError(f"{where}: member {member_name} is given twice")
            seen.add(member_name)
            named.append((member_name, text))
        return self._validate_members(named, request)

    def _validate_members(self, members: list[tuple[str, str]], request: NewVector) -> Update:
        """The kind's own checks of ``members`` (``request.members`` with each name known to this vector)."""
        raise NotImplementedError

    # --- wire form ------------------------------------------------------------------------------------------------

    def _vector_attrib(self, prefix: str, message: str | None) -> dict[str, str]:
        attrib = {"device": self.device, "name": self.name}
        if prefix == "def":
            attrib["label"] = self.label
            attrib["group"] = self.group
        attrib["state"] = self.state.value
        if prefix == "def" and self.kind != "Light":
            attrib["perm"] = self.perm
        if self.kind != "Light":
            attrib["timeout"] = format_plain(self.timeout)
        attrib["timestamp"] = timestamp_now()
        if message:
            attrib["message"] = sanitize_text(message)
        return attrib

    def def_element(self, message: str | None = None) -> etree._Element:
        root = etree.Element(f"def{self.kind}Vector", self._vector_attrib("def", message))
        for member in self.members.values():
            self._def_member(root, member)
        return root

    def set_element(self, message: str | None = None, only: Iterable[str] | None = None) -> etree._Element:
        root = etree.Element(f"set{self.kind}Vector", self._vector_attrib("set", message))
        names = self.members if only is None else only
        for name in names:
            self._set_member(root, self.members[name])
        return root

    def _def_member(self, root: etree._Element, member: Any) -> None:
        raise NotImplementedError

    def _set_member(self, root: etree._Element, member: Any) -> None:
        raise NotImplementedError

    def config_element(self) -> etree._Element:
        """The vector as a client request, the form INDI config files store."""
        root = etree.Element(f"new{self.kind}Vector", {"device": self.device, "name": self.name})
        for member in self.members.values():
            child = etree.SubElement(root, self.member_tag, {"name": member.name})
            child.text = self._member_text(member)
        return root

    def _member_text(self, member: Any) -> str:
        raise NotImplementedError


class NumberVector(Vector):
    kind = "Number"
    member_tag = "oneNumber"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits_changed: set[str] = set()

    def values(self) -> dict[str, float]:
        return {name: member.value for name, member in self.members.items()}

    def apply(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            self.members[name].value = float(value)

    def set_limits(self, name: str, minimum: float, maximum: float, step: float | None = None) -> None:
        """Change a member's range; the next set* carries min/max so libindi clients update theirs."""
        member = self.members[name]
        member.min, member.max = float(minimum), float(maximum)
        if step is not None:
            member.step = float(step)
        self._limits_changed.add(name)

    def _validate_members(self, members: list[tuple[str, str]], request: NewVector) -> Update:
        proposed = self.values()
        for name, text in members:
            member = self.members[name]
            try:
                value = parse_number(text)
            except ValueError as exc:
                raise ValidationError(f"{self.name}.{name}: {text!r} is not a number ({exc})") from None
            try:
                member.check(value)
            except ValidationError as exc:
                raise ValidationError(f"{self.name}.{exc}") from None
            proposed[name] = value
        return Update(self, proposed, tuple(name for name, _ in members))

    def _def_member(self, root: etree._Element, member: NumberMember) -> None:
        child = etree.SubElement(
            root,
            "defNumber",
            {
                "name": member.name,
                "label": member.label,
                "format": member.format,
                "min": format_plain(member.min),
                "max": format_plain(member.max),
                "step": format_plain(member.step),
            },
        )
        child.text = format_number_wire(member.value, member.format)
        self._limits_changed.discard(member.name)

    def _set_member(self, root: etree._Element, member: NumberMember) -> None:
        attrib = {"name": member.name}
        if member.name in self._limits_changed:
            attrib["min"] = format_plain(member.min)
            attrib["max"] = format_plain(member.max)
            attrib["step"] = format_plain(member.step)
            self._limits_changed.discard(member.name)
        child = etree.SubElement(root, "oneNumber", attrib)
        child.text = format_number_wire(member.value, member.format)

    def _member_text(self, member: NumberMember) -> str:
        return format_number_wire(member.value, member.format)


class SwitchVector(Vector):
    kind = "Switch"
    member_tag = "oneSwitch"

    def __init__(self, *args: Any, rule: str = "OneOfMany", **kwargs: Any) -> None:
        if rule not in ("OneOfMany", "AtMostOne", "AnyOfMany"):
            raise ValueError(f"unknown switch rule {rule!r}")
        self.rule = rule
        super().__init__(*args, **kwargs)

    def values(self) -> dict[str, bool]:
        return {name: member.on for name, member in self.members.items()}

    def apply(self, values: dict[str, Any]) -> None:
        for name, on in values.items():
            self.members[name].on = bool(on)

    def on_names(self) -> list[str]:
        return [name for name, member in self.members.items() if member.on]

    def selected(self) -> str | None:
        """The On member of a OneOfMany/AtMostOne vector, or None."""
        names = self.on_names()
        return names[0] if names else None

    def select(self, name: str | None) -> None:
        """Turn `name` On and every other member Off (None: all Off)."""
        if name is not None and name not in self.members:
            raise KeyError(f"{self.name} has no member {name}")
        for member_name, member in self.members.items():
            member.on = member_name == name

    def reset(self) -> None:
        self.select(None)

    def _validate_members(self, members: list[tuple[str, str]], request: NewVector) -> Update:
        requested: dict[str, bool] = {}
        for name, text in members:
            if text.startswith("On"):
                requested[name] = True
            elif text == "Off":
                requested[name] = False
            else:
                raise ValidationError(f"{self.name}.{name}: switch value must be On or Off, not {text!r}")
        turned_on = [name for name, on in requested.items() if on]
        proposed = self.values()
        if self.rule in ("OneOfMany", "AtMostOne"):
            if len(turned_on) > 1:
                raise ValidationError(
                    f"{self.name} allows only one switch On ({self.rule}), but {', '.join(turned_on)} were sent On"
                )
            if turned_on:
                proposed = {name: name == turned_on[0] for name in self.members}
            else:
                proposed.update(requested)
            if self.rule == "OneOfMany" and not any(proposed.values()):
                raise ValidationError(f"{self.name} needs exactly one switch On (OneOfMany)")
        else:
            proposed.update(requested)
        return Update(self, proposed, tuple(requested))

    def _def_member(self, root: etree._Element, member: SwitchMember) -> None:
        child = etree.SubElement(root, "defSwitch", {"name": member.name, "label": member.label})
        child.text = "On" if member.on else "Off"

    def _set_member(self, root: etree._Element, member: SwitchMember) -> None:
        child = etree.SubElement(root, "oneSwitch", {"name": member.name})
        child.text = "On" if member.on else "Off"

    def _vector_attrib(self, prefix: str, message: str | None) -> dict[str, str]:
        attrib = super()._vector_attrib(prefix, message)
        if prefix == "def":
            attrib["rule"] = self.rule
        return attrib

    def _member_text(self, member: SwitchMember) -> str:
        return "On" if member.on else "Off"


class TextVector(Vector):
    kind = "Text"
    member_tag = "oneText"

    def values(self) -> dict[str, str]:
        return {name: member.value for name, member in self.members.items()}

    def apply(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            self.members[name].value = str(value)

    def _validate_members(self, members: list[tuple[str, str]], request: NewVector) -> Update:
        proposed = self.values()
        for name, text in members:
            if len(text) > MAX_TEXT_LENGTH:
                raise ValidationError(f"{self.name}.{name}: text longer than {MAX_TEXT_LENGTH} characters")
            if sanitize_text(text) != text:
                raise ValidationError(f"{self.name}.{name}: text contains control characters")
            proposed[name] = text
        return Update(self, proposed, tuple(name for name, _ in members))

    def _def_member(self, root: etree._Element, member: TextMember) -> None:
        child = etree.SubElement(root, "defText", {"name": member.name, "label": member.label})
        child.text = sanitize_text(member.value)

    def _set_member(self, root: etree._Element, member: TextMember) -> None:
        child = etree.SubElement(root, "oneText", {"name": member.name})
        child.text = sanitize_text(member.value)

    def _member_text(self, member: TextMember) -> str:
        return sanitize_text(member.value)


class LightVector(Vector):
    kind = "Light"
    member_tag = "oneLight"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["perm"] = "ro"
        super().__init__(*args, **kwargs)

    def values(self) -> dict[str, State]:
        return {name: member.state for name, member in self.members.items()}

    def apply(self, values: dict[str, Any]) -> None:
        for name, state in values.items():
            self.members[name].state = State(state)

    def _validate_members(  # pragma: no cover - lights are read-only
        self, members: list[tuple[str, str]], request: NewVector
    ) -> Update:
        raise ValidationError(f"{self.name} is read-only")

    def _def_member(self, root: etree._Element, member: LightMember) -> None:
        child = etree.SubElement(root, "defLight", {"name": member.name, "label": member.label})
        child.text = member.state.value

    def _set_member(self, root: etree._Element, member: LightMember) -> None:
        child = etree.SubElement(root, "oneLight", {"name": member.name})
        child.text = member.state.value

    def _member_text(self, member: LightMember) -> str:
        return member.state.value


class BlobVector(Vector):
    kind = "BLOB"
    member_tag = "oneBLOB"

    def values(self) -> dict[str, bytes]:
        return {name: member.data for name, member in self.members.items()}

    def apply(self, values: dict[str, Any]) -> None:
        for name, (data, fmt) in values.items():
            self.members[name].data = data
            self.members[name].format = fmt

    def _validate_members(self, members: list[tuple[str, str]], request: NewVector) -> Update:
        proposed: dict[str, Any] = {name: (m.data, m.format) for name, m in self.members.items()}
        attrs = request.member_attrs or tuple({} for _ in members)
        for (name, text), attrib in zip(members, attrs):
            try:
                data = base64.b64decode("".join(text.split()), validate=True)
            except (binascii.Error, ValueError):
                raise ValidationError(f"{self.name}.{name}: BLOB data is not valid base64") from None
            size_text = attrib.get("size", "")
            if not size_text.isdigit() or int(size_text) != len(data):
                raise ValidationError(f"{self.name}.{name}: size {size_text!r} does not match {len(data)} bytes")
            proposed[name] = (data, attrib.get("format", ""))
        return Update(self, proposed, tuple(name for name, _ in members))

    def _def_member(self, root: etree._Element, member: BlobMember) -> None:
        etree.SubElement(root, "defBLOB", {"name": member.name, "label": member.label})

    def _set_member(self, root: etree._Element, member: BlobMember) -> None:
        encoded = base64.b64encode(member.data).decode("ascii")
        child = etree.SubElement(
            root,
            "oneBLOB",
            {"name": member.name, "size": str(len(member.data)), "format": member.format, "enclen": str(len(encoded))},
        )
        child.text = encoded

    def config_element(self) -> etree._Element:
        raise ValueError("BLOB vectors are never saved to config")


@dataclass
class PropertySet:
    """All vectors a device knows, in definition order, and which of them clients currently see."""

    device: str
    vectors: dict[str, Vector] = field(default_factory=dict)
    defined: dict[str, None] = field(default_factory=dict)  # ordered set

    def add(self, vector: Vector) -> Vector:
        if vector.name in self.vectors:
            raise ValueError(f"property {vector.name} declared twice")
        vector.device = self.device
        self.vectors[vector.name] = vector
        return vector

    def __getitem__(self, name: str) -> Vector:
        return self.vectors[name]

    def __contains__(self, name: str) -> bool:
        return name in self.vectors

    def number(self, name: str) -> NumberVector:
        vector = self.vectors[name]
        assert isinstance(vector, NumberVector), name
        return vector

    def switch(self, name: str) -> SwitchVector:
        vector = self.vectors[name]
        assert isinstance(vector, SwitchVector), name
        return vector

    def text(self, name: str) -> TextVector:
        vector = self.vectors[name]
        assert isinstance(vector, TextVector), name
        return vector

    def light(self, name: str) -> LightVector:
        vector = self.vectors[name]
        assert isinstance(vector, LightVector), name
        return vector

    def is_defined(self, name: str) -> bool:
        return name in self.defined

    def defined_vectors(self) -> list[Vector]:
        return [self.vectors[name] for name in self.defined]

    def definitions_for(self, device: str | None, name: str | None) -> list[Vector]:
        """What answers a getProperties: every defined vector, or the one named, if the request is for us."""
        if device is not None and device != self.device:
            return []
        if name is not None:
            return [self.vectors[name]] if name in self.defined else []
        return self.defined_vectors()
