"""What a device's part may do to the INDI side: the Publisher it receives in its constructor.

A part (one concern of a device: focusing, dew heaters, power, ...) never holds its driver. It receives a publisher
for properties, messages and tasks, plus its own collaborators (commands, readings); the driver module is the
composition root that builds the parts and registers each part's `handlers`. The concrete Device (indi/device.py)
satisfies Publisher structurally (mypy checks it where a driver hands itself to a part); the Protocol has exactly what
the parts use, no more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from .properties import PropertySet, State, Update, Vector

# A property's request handler: called with a validated, not yet applied, update (Device.handle_request).
Handler = Callable[[Update], Awaitable[None]]


class Publisher(Protocol):
    @property
    def props(self) -> PropertySet:
        """The device's properties: a part reads and sets the values of its own, then publishes them."""
        ...

    def define(self, name: str) -> None:
        """Send a property's definition (again: clients ignore a repeated one, so a new label needs delete first)."""
        ...

    def delete(self, name: str) -> None: ...

    def update(self, name: str, state: State | None = None, message: str | None = None) -> None:
        """Send a property's values, with a new state and a message if given (only while it is defined)."""
        ...

    def accept(self, update: Update, state: State = State.OK, message: str | None = None) -> None:
        """Apply a validated request and send the property with the given state (Ok unless said)."""
        ...

    def refuse(self, vector: Vector, reason: str) -> None:
        """A request that was not carried out: the property keeps its values and goes to Alert with the reason."""
        ...

    def message(self, text: str, level: str = "INFO") -> None:
        """A message to clients, also written to the driver log."""
        ...

    def spawn_connected(self, fn: Callable[[], Awaitable[None]], what: str) -> None:
        """Run a task for as long as the device is connected; its failure is reported, never fatal."""
        ...

    def poll_soon(self) -> None:
        """Read the device now rather than at the end of the polling period."""
        ...
