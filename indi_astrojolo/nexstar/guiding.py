"""Guide pulses on a NexStar mount over the AUX bus: the Guider backend (indi/interfaces/guider.py serves the
properties and their states).

A pulse of d ms at GUIDE_RATE r (× sidereal) moves the pointing by r × sidereal × d toward the direction asked: in
declination (N/S) or hour angle (W/E). The offset becomes axis motions through the pointing model, computed
numerically (on an alt-az mount it goes through the parallactic angle, and no sign convention can slip), and each
controller runs its share as MC_AUX_GUIDE (0x26): a rate in percent of sidereal for a time it measures itself, at
most 2.55 s a command. The tracked target moves with the pulse, so tracking follows the guided position instead of
pulling it back. Where the controllers have no usable 0x26 (a refusal, firmware before 6.50, no answer from a
controller that answers everything else), the pulse is run as a change of the tracking rates for its duration, and
0x26 is not tried again this session. Either way the tracking loop holds still while the pulse runs: it would see the
target already shifted by the whole pulse and add its own correction to the pulse's.

Refused while the mount is parked and while it follows a satellite. A pulse is motion asked for: it lifts the halt of
an abort; an abort ends the pulses in progress (stop_pulses), here and in the controllers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import trio

from ..indi.interfaces.guider import GuideAxis, GuideEvent, PulseEnd, PulseRun
from ..indi.part import Part, Publisher
from ..indi.properties import ValidationError
from ..link.errors import LinkError, LinkTimeout, NotSentInTime, ReplyRejected
from ..link.framing import AuxPacket
from . import aux
from .aux import Command
from .motion_errors import Halted
from .mount import AxisAngles, Geometry, axis1_sign, axis2_sign, wrap180

MAX_PULSE_TICKS = 255  # one controller-timed guide pulse: at most 2.55 s
UNANSWERED_PULSES_TO_GIVE_UP = 2  # unanswered 0x26 pulses in a row (the link answering otherwise): 0x26 is absent
PULSE_SEND_WINDOW_S = 0.5  # a pulse that cannot reach the controllers this soon is dropped: late, it would be wrong
HOLD_MARGIN_S = 5.0  # the tracking loop resumes this long after a pulse's duration even if its end was never seen
SIDEREAL_DEG_S = aux.SIDEREAL_ARCSEC_PER_S / 3600.0
AXES = (aux.Device.AZM, aux.Device.ALT)


@dataclass
class _RatePulses:
    """The pulses one axis's rate carries now: the rate it ran before them, their count and their summed rate."""

    base: float
    count: int = 0
    extra: float = 0.0


class Transact(Protocol):
    """One AUX transaction with a motor controller (the driver's, which holds the link and the halt after an abort)."""

    async def __call__(
        self, dst: int, cmd: int, data: bytes = b"", *, retries: int | None = None, send_by: float | None = None
    ) -> AuxPacket: ...


class NexStarGuiding(Part):
    """The Guider backend. A part too: it reads GUIDE_RATE at each pulse, so a request only keeps the value.

    What it must ask the motion control (motion.py keeps the park state, the phase and the tracked target, and owns
    the halt after an abort) comes as narrow callables, not the MotionControl object: `parked`,
    `following_satellite`, `asked_to_move` (lifts an abort's halt), `sky_now` (the apparent RA/Dec the mount tracks
    or points at now), `shift_target(north, west)` (the tracked target moves with a pulse, in degrees of Dec and of
    hour angle), `hold_tracking(seconds)` (holds the tracking loop; returns the release), `running_rate(axis)` and
    `send_rate(axis, arcsec_per_s)` (the rates a pulse changes where the controllers have no 0x26). The sky frame:
    `places_to_mount_axes([(ra, dec), ...])` (the pointing model applied, all at one instant, so that a pulse's axis
    motions are not skewed by the time between two conversions), `geometry`, `southern`."""

    def __init__(
        self,
        publisher: Publisher,
        transact: Transact,
        *,
        parked: Callable[[], bool],
        following_satellite: Callable[[], bool],
        asked_to_move: Callable[[], Awaitable[None]],
        sky_now: Callable[[], tuple[float, float]],
        shift_target: Callable[[float, float], None],
        hold_tracking: Callable[[float], Callable[[], None]],
        running_rate: Callable[[int], float | None],
        send_rate: Callable[[int, float], Awaitable[None]],
        places_to_mount_axes: Callable[[Sequence[tuple[float, float]]], list[AxisAngles]],
        geometry: Callable[[], Geometry],
        southern: Callable[[], bool],
    ) -> None:
        self.publisher = publisher
        self.transact = transact
        self.parked = parked
        self.following_satellite = following_satellite
        self.asked_to_move = asked_to_move
        self.sky_now = sky_now
        self.shift_target = shift_target
        self.hold_tracking = hold_tracking
        self.running_rate = running_rate
        self.send_rate = send_rate
        self.places_to_mount_axes = places_to_mount_axes
        self.geometry = geometry
        self.southern = southern
        self.handlers = {}
        self.passive = frozenset({"GUIDE_RATE"})
        self.pulse_scopes: set[trio.CancelScope] = set()  # guide pulses in progress (abort ends them)
        self.rate_pulses: dict[int, _RatePulses] = {}  # axes whose rate carries pulses now (no 0x26)
        self.forget_session()

    def forget_session(self) -> None:
        """At disconnect: another mount, or new firmware, may be there at the next connect."""
        self.aux_guide_absent = False  # the controllers have no usable 0x26 (refused or unanswered), this session
        self.aux_guide_unanswered = 0  # guide pulses in a row the controllers left unanswered, answering all else
        self.rate_pulses.clear()

    # --- a pulse ---------------------------------------------------------------------------------------------

    async def prepare_pulse(self, axis: GuideAxis, sign: int, milliseconds: float) -> PulseRun:
        if self.parked():
            raise ValidationError("the mount is parked")
        if self.following_satellite():
            raise ValidationError("a satellite is being followed: guide pulses would only disturb it")
        await self.asked_to_move()
        ns = axis is GuideAxis.NS
        fraction = self.publisher.props.number("GUIDE_RATE")["GUIDE_RATE_NS" if ns else "GUIDE_RATE_WE"].value
        degrees = sign * fraction * SIDEREAL_DEG_S * milliseconds / 1000.0
        north, west = (degrees, 0.0) if ns else (0.0, degrees)
        delta1, delta2 = self._axis_motions(north, west)
        release = self.hold_tracking(milliseconds / 1000.0 + HOLD_MARGIN_S)
        self.shift_target(north, west)  # tracking follows the guided position instead of pulling back
        return partial(self._held_pulse, delta1, delta2, milliseconds, release)

    async def _held_pulse(
        self, delta1: float, delta2: float, milliseconds: float, release: Callable[[], None]
    ) -> PulseEnd:
        try:
            return await self._pulse(delta1, delta2, milliseconds)
        finally:
            release()

    def _axis_motions(self, north: float, west: float) -> tuple[float, float]:
        """Axis motions (degrees of axis angle) for a small move `north` (degrees of Dec) and `west` (degrees of
        hour angle) from where the mount points."""
        ra, dec = self.sky_now()
        shifted = ((ra - west / 15.0) % 24.0, max(-90, min(90, dec + north)))
        here, there = self.places_to_mount_axes([(ra, dec), shifted])
        return wrap180(there.axis1 - here.axis1), there.axis2 - here.axis2

    async def _pulse(self, delta1: float, delta2: float, milliseconds: float) -> PulseEnd:
        """One guide pulse, timed by the controllers (0x26), or by the tracking loop where they have no such
        command."""
        geometry, southern = self.geometry(), self.southern()
        seconds = milliseconds / 1000.0
        plan: list[tuple[int, int]] = []
        signed = ((aux.Device.AZM, delta1, axis1_sign(geometry, southern)),
                  (aux.Device.ALT, delta2, axis2_sign(geometry, southern)))  # fmt: skip
        for motor, delta, sign in signed:
            percent = delta / seconds / SIDEREAL_DEG_S * 100.0 * sign
            if abs(percent) >= 0.5:
                plan.append((motor, max(-100, min(100, int(round(percent))))))
        end = PulseEnd(GuideEvent.ENDED)
        with trio.CancelScope() as scope:
            self.pulse_scopes.add(scope)
            try:
                if self.aux_guide_absent:
                    await self._rate_pulse(signed, seconds)
                else:
                    await self._controller_pulse(plan, milliseconds)
                    self.aux_guide_unanswered = 0
            except (ReplyRejected, LinkTimeout) as exc:
                if isinstance(exc, NotSentInTime) or not await self._answers_otherwise(plan[0][0]):
                    end = PulseEnd(GuideEvent.FAILED, str(exc))
                else:
                    # This pulse is run by the rates, late. A refusal says for certain that 0x26 is missing; an
                    # unanswered one could also be an outage ending just then, so it counts once repeated.
                    self.aux_guide_unanswered += 1
                    if isinstance(exc, ReplyRejected) or self.aux_guide_unanswered >= UNANSWERED_PULSES_TO_GIVE_UP:
                        self.aux_guide_absent = True
                        self.publisher.message(
                            "The motor controllers have no guide-pulse command (firmware before 6.50, or it goes "
                            "unanswered): pulses are run as changes of the tracking rates from now on", "WARNING",
                        )  # fmt: skip
                    await self._rate_pulse(signed, seconds)
            except LinkError as exc:
                end = PulseEnd(GuideEvent.FAILED, str(exc))
            except Halted:
                end = PulseEnd(GuideEvent.ABORTED)
            finally:
                self.pulse_scopes.discard(scope)
        if scope.cancelled_caught:
            end = PulseEnd(GuideEvent.ABORTED)  # stop_pulses ended it
        return end

    async def _controller_pulse(self, plan: list[tuple[int, int]], milliseconds: float) -> None:
        remaining = milliseconds
        send_by = trio.current_time() + PULSE_SEND_WINDOW_S
        while remaining > 0:
            chunk = min(remaining, MAX_PULSE_TICKS * 10)
            for motor, percent in plan:
                # Not retried: a pulse sent again after a timeout would be late, and a controller that did not
                # answer once will not answer the next time either.
                await self.transact(
                    motor, Command.AUX_GUIDE, aux.encode_guide_pulse(percent, int(chunk)), send_by=send_by, retries=0
                )
            await trio.sleep(chunk / 1000.0)
            remaining -= chunk
            send_by += chunk / 1000.0

    async def _rate_pulse(self, signed: Sequence[tuple[int, float, int]], seconds: float) -> None:
        """A pulse as a change of each axis's rate for its duration: `signed` gives (axis, degrees of axis angle, the
        controllers' sign). Pulses that overlap (north-south and west-east at once, or one replacing another) add
        up on the rate the axis ran before the first of them, which is restored when the last ends (not after an
        abort: it stops the axes). Where that rate is not known (a special rate, or none sent yet), the tracking loop
        is left to carry the pulse once it resumes."""
        bases = {axis: self.running_rate(axis) for axis, _, _ in signed if axis not in self.rate_pulses}
        if None in bases.values():
            return
        for axis, base in bases.items():
            self.rate_pulses[axis] = _RatePulses(base or 0.0)
        extras = [(axis, sign * delta * 3600.0 / seconds) for axis, delta, sign in signed]
        for axis, extra in extras:  # all counted before anything is sent: the end takes them all off again
            pulses = self.rate_pulses[axis]
            pulses.count, pulses.extra = pulses.count + 1, pulses.extra + extra
        try:
            for axis, _ in extras:
                await self.send_rate(axis, self.rate_pulses[axis].base + self.rate_pulses[axis].extra)
            await trio.sleep(seconds)
        finally:
            with trio.CancelScope(shield=True):
                for axis, extra in extras:
                    ending = self.rate_pulses.get(axis)
                    if ending is None:
                        continue  # the session was forgotten (a disconnect)
                    ending.count, ending.extra = ending.count - 1, ending.extra - extra
                    if ending.count <= 0:
                        del self.rate_pulses[axis]
                    if self.running_rate(axis) is None:
                        continue  # a goto or a stop has taken the axis over since: its rate is not ours to set
                    try:
                        await self.send_rate(axis, ending.base + (ending.extra if ending.count > 0 else 0.0))
                    except (Halted, LinkError):
                        pass  # an abort stops the axes (it wins); a failing link is the poll's to report

    async def _answers_otherwise(self, motor: int) -> bool:
        """Does a controller that left a guide pulse unanswered answer other requests at once (the link is fine)?"""
        try:
            await self.transact(motor, Command.GET_POSITION, retries=0)
        except LinkError:
            return False
        return True

    async def stop_pulses(self) -> None:
        """End the guide pulses in progress, here and in the controllers (a 0 ms pulse replaces a running one)."""
        if not self.pulse_scopes:
            return
        for scope in list(self.pulse_scopes):
            scope.cancel()
        if self.aux_guide_absent:
            return  # the pulses went through the tracking loop, which abort stops
        for motor in AXES:
            try:
                await self.transact(motor, Command.AUX_GUIDE, aux.encode_guide_pulse(0, 0))
            except LinkError:
                pass  # no guide-pulse command in this firmware: the pulse went through the tracking loop
