"""A small synchronous INDI client over TCP, for the demo and the benchmarks (the tests use pyindi-client).

It keeps the last definition/values/state of every property it has seen and the messages, and can wait for a
condition on them.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from .indi.xmlstream import OtherMessage, XmlStream, format_number_wire, parse_number, serialize


@dataclass
class RemoteProperty:
    device: str
    name: str
    kind: str
    state: str = "Idle"
    values: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    group: str = ""
    updates: int = 0


class IndiClient:
    def __init__(self, host: str = "127.0.0.1", port: int = 7624, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.stream = XmlStream(max_message_bytes=16 << 20)
        self.properties: dict[tuple[str, str], RemoteProperty] = {}
        self.messages: list[tuple[str, str]] = []
        self.deleted: list[tuple[str, str | None]] = []
        self.on_message: Callable[[str, str], None] | None = None
        self.on_update: Callable[[RemoteProperty], None] | None = None  # after each def*/set* is applied

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> IndiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- sending -------------------------------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def get_properties(self, device: str | None = None) -> None:
        attrib = {"version": "1.7"}
        if device:
            attrib["device"] = device
        self.send_raw(serialize(etree.Element("getProperties", attrib)))

    def _send_new(self, kind: str, device: str, name: str, members: dict[str, str]) -> None:
        root = etree.Element(f"new{kind}Vector", {"device": device, "name": name})
        for member, text in members.items():
            etree.SubElement(root, f"one{kind}", {"name": member}).text = text
        key = (device, name)
        if key in self.properties:
            self.properties[key].state = "Busy"  # as libindi clients do until the driver answers
        self.send_raw(serialize(root))

    def set_number(self, device: str, name: str, values: dict[str, float]) -> None:
        self._send_new("Number", device, name, {k: format_number_wire(v, "%.10g") for k, v in values.items()})

    def set_switch(self, device: str, name: str, on: Iterable[str], off: Iterable[str] = ()) -> None:
        members = {member: "On" for member in on}
        members.update({member: "Off" for member in off})
        self._send_new("Switch", device, name, members)

    def set_text(self, device: str, name: str, values: dict[str, str]) -> None:
        self._send_new("Text", device, name, values)

    # --- receiving -----------------------------------------------------------------------------------------------

    def pump(self, seconds: float = 0.05) -> None:
        """Read whatever arrives within `seconds` and update the local view."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return
            if not data:
                raise ConnectionError("the server closed the connection")
            for message in self.stream.feed(data):
                if isinstance(message, OtherMessage):
                    self._apply(message)

    def _apply(self, message: OtherMessage) -> None:
        tag, attrib = message.tag, message.attrib
        device, name = attrib.get("device", ""), attrib.get("name")
        if attrib.get("message"):
            self._note_message(device, attrib["message"])
        if tag == "message":
            return
        if tag == "delProperty":
            self.deleted.append((device, name))
            for key in [k for k in self.properties if k[0] == device and (name is None or k[1] == name)]:
                del self.properties[key]
            return
        if not (tag.startswith(("def", "set")) and tag.endswith("Vector")) or name is None:
            return
        kind = tag[3:-6]
        key = (device, name)
        prop = self.properties.get(key)
        if tag.startswith("def") or prop is None:
            prop = RemoteProperty(device, name, kind, label=attrib.get("label", name), group=attrib.get("group", ""))
            self.properties[key] = prop
        prop.state = attrib.get("state", prop.state)
        prop.updates += 1
        for child in message.element:
            member = child.get("name")
            text = (child.text or "").strip()
            if kind == "Number":
                prop.values[member] = parse_number(text)
            elif kind == "Switch":
                prop.values[member] = text == "On"
            else:
                prop.values[member] = text
        if self.on_update is not None:
            self.on_update(prop)

    def _note_message(self, device: str, text: str) -> None:
        self.messages.append((device, text))
        if self.on_message is not None:
            self.on_message(device, text)

    def wait(self, condition: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what or 'a condition'}")
            self.pump(0.05)

    def prop(self, device: str, name: str) -> RemoteProperty | None:
        return self.properties.get((device, name))

    def wait_prop(self, device: str, name: str, timeout: float = 10.0) -> RemoteProperty:
        return self.wait(lambda: self.prop(device, name), timeout, f"{device}.{name}")

    def wait_state(self, device: str, name: str, *states: str, timeout: float = 10.0) -> RemoteProperty:
        def ready() -> RemoteProperty | None:
            prop = self.prop(device, name)
            return prop if prop is not None and prop.state in states else None

        return self.wait(ready, timeout, f"{device}.{name} to be {'/'.join(states)}")
