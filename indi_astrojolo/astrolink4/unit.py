"""What the driver knows of the connected AstroLink, for the parts to read: the model, the last complete status line
and whether the connection is still being set up. The driver alone writes it (driver.py)."""

from __future__ import annotations

from dataclasses import dataclass

from . import protocol as p


@dataclass
class Unit:
    layout: p.Layout | None = None  # known once identified
    status: p.Status | None = None  # the last complete status line; None until one arrives on this connection
    # From opening the link until the saved config is replayed and the parts have caught up: a handler must not
    # write to the device then (connecting reads; only DEW_STARTUP, where the user set it, writes, and says so).
    connecting: bool = False

    @property
    def usb(self) -> bool:
        return self.layout is not p.Layout.MINI
