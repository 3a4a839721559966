"""INDI snooping: following another device's properties through indiserver (libindi's IDSnoopDevice/ISSnoopDevice).

A driver asks by writing ``<getProperties device="Other" name="PROP"/>``; from then on indiserver forwards that
device's def/set/del messages for PROP to the driver's stdin. INDI has no way to stop a snoop: when the user picks
another device (ACTIVE_DEVICES), the old device's messages keep coming and are dropped here, and the driver forgets
what the old device said, so nothing of it lingers.

Each *role* ("gps", "dome", "weather") follows one device, chosen by the user, and a fixed set of its properties.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from lxml import etree

from .xmlstream import SnoopedVector, serialize

SnoopHandler = Callable[[SnoopedVector], Awaitable[None]]


@dataclass
class Role:
    device: str  # "" follows nothing
    names: tuple[str, ...]
    handler: SnoopHandler


class Snooper:
    def __init__(self, send: Callable[[bytes], None], own_device: str) -> None:
        self._send = send
        self.own_device = own_device
        self.roles: dict[str, Role] = {}

    def subscribe(self, device: str, name: str) -> None:
        """Ask indiserver for another device's property (sent at once; indiserver also asks that device for it)."""
        element = etree.Element("getProperties", {"version": "1.7", "device": device, "name": name})
        self._send(serialize(element))

    def follow(self, role: str, device: str, names: tuple[str, ...], handler: SnoopHandler) -> bool:
        """`role` follows `device`'s `names` from now on; True if that changed what it follows (the caller then
        forgets what the previous device said: its messages are dropped from here on)."""
        device = device.strip()
        previous = self.roles.get(role)
        self.roles[role] = Role(device, names, handler)
        if previous is not None and previous.device == device and previous.names == names:
            return False
        if device and device != self.own_device:
            for name in names:
                self.subscribe(device, name)
        return previous is not None

    def following(self, role: str) -> str:
        found = self.roles.get(role)
        return found.device if found is not None else ""

    def wants(self, vector: SnoopedVector) -> bool:
        return any(self._matches(role, vector) for role in self.roles.values())

    async def route(self, vector: SnoopedVector) -> bool:
        """Hand a forwarded message to every role that follows its device and property; False if none does."""
        routed = False
        for role in list(self.roles.values()):
            if self._matches(role, vector):
                routed = True
                await role.handler(vector)
        return routed

    def _matches(self, role: Role, vector: SnoopedVector) -> bool:
        if not role.device or vector.device != role.device or vector.device == self.own_device:
            return False
        return vector.name in role.names or (vector.verb == "del" and vector.name == "")
