"""A device's parts and the INDI side: the Publisher a part receives, the handlers it declares, and the request
dispatch table built from those declarations.

A part (one concern of a device: focusing, dew heaters, power, ...) never holds its driver. It receives a publisher
for properties, messages and tasks, plus its own collaborators (commands, readings). The concrete Device
(indi/device.py) satisfies Publisher structurally (mypy checks it where a driver hands itself to a part); the Protocol
has exactly what the parts use, no more.

Each part declares, as data, which client requests it serves (`handlers`: property name -> handler) and which
writable properties it deliberately leaves *passive* (the client sets the value and the part reads it when it needs
it, e.g. a setting used on the next move: a request is applied and answered Ok). The driver module, the composition
root, hands all its parts to Device.wire() once they are built, and build_dispatch() makes the one table requests
are served from. What cannot work is refused there, at start-up, not discovered by a client: a property served by
two parts, a declaration for a property that does not exist or is read-only, a writable property nobody serves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .properties import PropertySet, State, Update, Vector

# A property's request handler: called with a validated, not yet applied, update (Device.handle_request).
Handler = Callable[[Update], Awaitable[None]]
# Puts a condition in front of a handler (motion held, a dome locked): refuses some requests, passes the others on.
Wrap = Callable[[Handler], Handler]


class WiringError(RuntimeError):
    """The parts' declarations do not make one consistent dispatch table: a programming error, found at start-up."""


class Part:
    """One concern of a device, as the dispatch sees it: the requests it serves and the settings it leaves passive.

    A subclass sets `handlers` in its constructor and, where it has any, `passive` (names, not handlers)."""

    handlers: Mapping[str, Handler]
    passive: frozenset[str] = frozenset()

    def part_name(self) -> str:
        """How start-up errors name this part."""
        return type(self).__name__


class Declared(Part):
    """Declarations that belong to no part object of their own: the device's general properties, a driver's own."""

    def __init__(self, owner: str, handlers: Mapping[str, Handler], passive: Iterable[str] = ()) -> None:
        self.owner = owner
        self.handlers = dict(handlers)
        self.passive = frozenset(passive)

    def part_name(self) -> str:
        return self.owner


@dataclass(frozen=True)
class Guard:
    """A condition in front of some parts' handlers, applied when the table is built (in the order given, so a later
    guard is asked first). `wraps` maps each guarded property to the wrapper for its handler."""

    owner: str
    wraps: Mapping[str, Wrap] = field(default_factory=dict)


def build_dispatch(
    props: PropertySet, parts: Sequence[Part], accept_passive: Handler, guards: Sequence[Guard] = ()
) -> dict[str, Handler]:
    """The request dispatch table: every writable property of `props` (in any mode: what a mode leaves undefined is
    still declared, so its requests are refused before they get here) -> the handler that serves it, `accept_passive`
    for a passive one. Raises WiringError naming every problem, each with the property and the parts concerned."""
    owners: dict[str, list[str]] = {}
    table: dict[str, Handler] = {}
    for part in parts:
        name_of_part = part.part_name()
        for name, handler in part.handlers.items():
            owners.setdefault(name, []).append(f"{name_of_part} (handler)")
            table[name] = handler
        for name in part.passive:
            owners.setdefault(name, []).append(f"{name_of_part} (passive)")
            table.setdefault(name, accept_passive)
    problems = []
    for name, by in owners.items():
        if len(by) > 1:
            problems.append(f"{name} is declared by more than one part: {', '.join(by)}")
        if name not in props:
            problems.append(f"{name} is declared by {', '.join(by)}, but no property of that name exists")
        elif props[name].perm == "ro":
            problems.append(f"{name} is read-only (requests to it are refused), yet declared by {', '.join(by)}")
    for name, vector in props.vectors.items():
        if vector.perm != "ro" and name not in owners:
            problems.append(
                f"{name} is writable ({vector.perm}) but no part serves it: give it a handler or mark it passive"
            )
    for guard in guards:
        for name, wrap in guard.wraps.items():
            if table.get(name, accept_passive) is accept_passive:
                problems.append(f"{guard.owner} guards {name}, which no part serves with a handler")
            else:
                table[name] = wrap(table[name])
    if problems:
        listed = "\n  ".join(problems)
        raise WiringError(f"{props.device}: the request handlers do not fit the properties:\n  {listed}")
    return table


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
