"""The standard behaviour of an INDI guider (libindi's GuiderInterface), written once: TELESCOPE_TIMED_GUIDE_NS and
TELESCOPE_TIMED_GUIDE_WE, each a pulse of so many milliseconds one way or the other along one axis.

As libindi reads a request: the first member (North, West) wins when it is nonzero, and the other is then shown zero;
otherwise the second (South, East) is the pulse. The vector is Busy while the pulse runs and Idle when it has ended
(libindi's GuideComplete); a pulse the device could not carry out ends Alert, with the reason. A pulse the device
refuses before it starts (the backend raises ValidationError) is answered Alert by the device with the reason, and
nothing is changed. Stricter than libindi, so that a client never guides a way it did not ask for:
- a member the request does not carry counts as zero (libindi keeps its last value, so a request naming only South
  after a North pulse would guide North again);
- a pulse that has ended, however it ended, leaves both members at zero (libindi leaves the durations shown): a client
  that sends the whole vector back as it last saw it does not repeat a stale direction;
- a request with no positive duration shows Idle with both members zero (libindi leaves the state as it was); while
  a pulse runs on that axis it changes nothing, and the vector goes on showing that pulse, Busy;
- a pulse asked for while another runs on the same axis replaces it, as a new pulse command replaces a running one in
  the controllers: the vector stays Busy, shows the new duration, and goes Idle when the new pulse ends (the end of
  the one replaced is not shown: it would say Idle while the new one runs).

The device supplies a `GuiderBackend`, which checks a pulse and returns what runs it; the part runs that as a task.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

import trio

from ..part import Handler, Part, Publisher
from ..properties import State, Update


class GuideAxis(Enum):
    """The two guide vectors: along declination (libindi's AXIS_DE) and along right ascension (AXIS_RA)."""

    NS = "TELESCOPE_TIMED_GUIDE_NS"
    WE = "TELESCOPE_TIMED_GUIDE_WE"


# Each vector's members: the first direction (sign +1) and the second (sign -1).
MEMBERS: Mapping[GuideAxis, tuple[str, str]] = {
    GuideAxis.NS: ("TIMED_GUIDE_N", "TIMED_GUIDE_S"),
    GuideAxis.WE: ("TIMED_GUIDE_W", "TIMED_GUIDE_E"),
}


class GuideEvent(Enum):
    NOTHING_ASKED = "a request with no positive duration"
    NOTHING_ASKED_DURING_PULSE = "a request with no positive duration while a pulse runs on the axis"
    STARTED = "a pulse started (replacing one that ran on the axis, if any)"
    ENDED = "the pulse ended"
    ABORTED = "an abort or a disconnect ended the pulse"
    FAILED = "the device could not carry the pulse out"


@dataclass(frozen=True)
class Shown:
    """What a guide vector shows after an event: its state, whether the pulse's duration stays in its member (else
    both members read 0), and the message sent with it ({reason} is the backend's)."""

    state: State
    keeps_duration: bool = False
    message: str | None = None


# The guide vectors' state machine, in one place. A vector goes to the same state from any state it is in.
TRANSITIONS: Mapping[GuideEvent, Shown] = {
    GuideEvent.NOTHING_ASKED: Shown(State.IDLE),
    GuideEvent.NOTHING_ASKED_DURING_PULSE: Shown(State.BUSY, keeps_duration=True),
    GuideEvent.STARTED: Shown(State.BUSY, keeps_duration=True),
    GuideEvent.ENDED: Shown(State.IDLE),
    GuideEvent.ABORTED: Shown(State.IDLE),
    GuideEvent.FAILED: Shown(State.ALERT, message="[ERROR] Guide pulse failed: {reason}"),
}


@dataclass(frozen=True)
class PulseEnd:
    """How a pulse ended (ENDED, ABORTED or FAILED), and for a failure, why."""

    event: GuideEvent
    reason: str = ""


# Runs a pulse the backend has accepted, to its end.
PulseRun = Callable[[], Awaitable[PulseEnd]]


class GuiderBackend(Protocol):
    async def prepare_pulse(self, axis: GuideAxis, sign: int, milliseconds: float) -> PulseRun:
        """A pulse of `milliseconds` along `axis`, toward its first direction (North, West: sign +1) or its second
        (South, East: -1). Raises ValidationError to refuse it, having changed nothing; otherwise returns what runs
        the pulse, which must not have begun moving anything yet."""
        ...


@dataclass(frozen=True)
class _Pulse:
    sign: int
    milliseconds: float


@dataclass(eq=False)
class _Running:
    """A pulse whose task is started: replaced, it is cancelled and its end is not shown. The scope exists from the
    start, so a pulse replaced before its task runs is cancelled as that task enters it."""

    pulse: _Pulse
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)

    def replace(self) -> None:
        self.scope.cancel()


class Guider(Part):
    def __init__(self, publisher: Publisher, backend: GuiderBackend) -> None:
        self.publisher = publisher
        self.backend = backend
        self.handlers: dict[str, Handler] = {axis.value: self._on_guide for axis in GuideAxis}
        self._running: dict[GuideAxis, _Running] = {}  # the pulse each axis shows

    def _show(self, axis: GuideAxis, event: GuideEvent, pulse: _Pulse | None = None, reason: str = "") -> None:
        shown = TRANSITIONS[event]
        first, second = MEMBERS[axis]
        values = {first: 0.0, second: 0.0}
        if shown.keeps_duration and pulse is not None:
            values[first if pulse.sign > 0 else second] = pulse.milliseconds
        self.publisher.props.number(axis.value).apply(values)
        message = shown.message.format(reason=reason) if shown.message is not None else None
        self.publisher.update(axis.value, shown.state, message)

    async def _on_guide(self, update: Update) -> None:
        axis = GuideAxis(update.vector.name)
        first, second = MEMBERS[axis]
        asked = {name: update[name] if name in update.sent else 0.0 for name in (first, second)}
        pulse = _Pulse(1, asked[first]) if asked[first] > 0 else _Pulse(-1, asked[second])
        running = self._running.get(axis)
        if pulse.milliseconds <= 0:
            if running is not None:
                self._show(axis, GuideEvent.NOTHING_ASKED_DURING_PULSE, running.pulse)
            else:
                self._show(axis, GuideEvent.NOTHING_ASKED)
            return
        run = await self.backend.prepare_pulse(axis, pulse.sign, pulse.milliseconds)
        if running is not None:
            running.replace()
        self._running[axis] = started = _Running(pulse)
        self._show(axis, GuideEvent.STARTED, pulse)
        self.publisher.spawn_connected(lambda: self._run(axis, run, started), f"The {axis.name} guide pulse")

    async def _run(self, axis: GuideAxis, run: PulseRun, running: _Running) -> None:
        end = PulseEnd(GuideEvent.ABORTED)  # unless it ends by itself: the connection was closed under it
        with running.scope:
            try:
                end = await run()
            except Exception:
                end = PulseEnd(GuideEvent.FAILED, "internal error")  # reported by spawn_connected, with what it was
                raise
            finally:
                if self._running.get(axis) is running:
                    del self._running[axis]
                    self._show(axis, end.event, reason=end.reason)
