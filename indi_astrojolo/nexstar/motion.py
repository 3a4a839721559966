"""How the mount moves: goto, tracking, manual motion, abort, park and home. Guide pulses are guiding.py's; they
ask this module for the tracked target, which moves with them (sky_now, shift_target), and an abort ends them.

Goto: a fast goto to a point short of the target on the approach side, then a slow goto recomputed for the current
time, then a check of where the axes stopped (motor controllers have been seen to stop short and still report done).
SLEW_DONE is polled at about 3 Hz (polling faster can make a controller miss its target), and only for an axis due
to arrive within the next second: the bus is shared, and the position is read at 1.5 Hz meanwhile.

Tracking (alt-az, and custom rates on a wedge) is a closed loop: each second, per axis, the rate the target moves at
(from its position now and a moment later) plus a correction of the measured error, sent only when it changes. On a
wedge, sidereal/solar/lunar tracking is the motor's own rate. A goto, a manual move and a stop all overwrite an axis's
only rate register, so tracking is sent again after each of them.

Safety: nothing goes below the lowest or above the highest altitude, nothing crosses the cord-wrap position, and
abort always wins.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import TYPE_CHECKING

import trio

from ..files import StoreProblem, indi_home
from ..indi.part import Handler, Part
from ..indi.properties import State, Update, ValidationError
from ..indi.xmlstream import format_number_display
from ..link.errors import LinkError
from . import astrometry as astro
from . import aux, rates
from .aux import Command
from .motion_errors import Halted, MotionError
from .mount import (
    AxisAngles,
    Geometry,
    ParkRecord,  # the park file's one reader and writer
    angles_to_encoders,
    angular_separation,
    axis1_sign,
    axis2_sign,
    azimuth_path,
    crosses,
    wrap180,
    wrap360,
)

if TYPE_CHECKING:
    from .driver import NexStarDriver

SLEW_DONE_INTERVAL = 0.33  # seconds between SLEW_DONE polls while a goto runs
SLEW_READ_EVERY = 2  # the axes are read every so many SLEW_DONE_INTERVALs while a goto runs (1.5 Hz)
ARRIVING_S = 1.0  # SLEW_DONE is asked of an axis from this long before it is due to arrive (or once it has stopped)
AT_REST_STEPS = 2  # an axis whose encoder moved no more than this between two polls is at rest (sidereal: ~64)
STOP_SETTLE_LIMIT_S = 30.0  # an axis still moving this long after a stop is reported (and stopped again)
STALL_TIMEOUT = 10.0  # a goto whose axes have not moved for this long has failed
FOREIGN_QUIET_S = 5.0  # another master on the bus counts as gone once it has not commanded our motors for this long
GOTO_TOLERANCE_ARCSEC = 3.0
GOTO_FAST_SPEED_ASSUMED = 2.0  # degrees per second of a fast goto, for its time limit (Celestron's run 2.8–4)
GOTO_OVERHEAD_S = 20.0  # settling, polling and the check after each leg, on top of the motion itself
GOTO_MAX_S = 180.0  # no goto, however long, runs longer than this
GOTO_RETRIES = 4
SLOW_SPEED_ESTIMATE = 0.5  # degrees per second of a slow goto (measured on the seed's mount)
ACCELERATION_ESTIMATE = 4.0  # degrees per second² (an estimate; the check after each leg corrects a wrong one)
TRACK_PERIOD = 1.0
TRACK_RATE_DEADBAND = 0.03  # arcsec/s: a change smaller than this is left to the next one (0.03″ a second)
PREDICTION_STEP = 2.0  # seconds ahead at which the target's motion is sampled
CORRECTION_TIME = 2.0  # seconds over which tracking takes a measured error out (rates.py's closed loop)
MANUAL_LIMIT_MARGIN = 0.75  # seconds of motion before a limit at which a manual move is stopped
MOVE_DEG_S = tuple(rate.deg_per_s for rate in aux.MOVE_RATES)  # upper bounds of rates 1–9, for limit margins
SYNC_CONFIRM_DEG = 5.0  # a sync that moves the pointing further than this is applied only when sent twice
SYNC_CONFIRM_WINDOW_S = 60.0  # ... within this long
SYNC_REPEAT_MATCH_DEG = 0.5  # ... on the same coordinates (a fresh solve of the same field differs by arcseconds)
MODE_RATES = {"TRACK_SIDEREAL": aux.SIDEREAL_ARCSEC_PER_S, "TRACK_SOLAR": aux.SOLAR_ARCSEC_PER_S,
              "TRACK_LUNAR": aux.LUNAR_ARCSEC_PER_S}  # fmt: skip
SPECIAL_RATES = {"TRACK_SIDEREAL": aux.SPECIAL_RATE_SIDEREAL, "TRACK_SOLAR": aux.SPECIAL_RATE_SOLAR,
                 "TRACK_LUNAR": aux.SPECIAL_RATE_LUNAR}  # fmt: skip
AXES = (aux.Device.AZM, aux.Device.ALT)


def sexagesimal(value: float) -> str:
    """Hours or degrees as h:mm:ss / d:mm:ss, the way INDI clients show coordinates (libindi's %m)."""
    return format_number_display(value, "%.6m")


def leg_seconds(start: AxisAngles, end: AxisAngles) -> float:
    """How long a slow goto between two positions takes: the longer axis, accelerating, cruising, stopping."""
    distance = max(abs(wrap180(end.axis1 - start.axis1)), abs(end.axis2 - start.axis2))
    speed, acceleration = SLOW_SPEED_ESTIMATE, ACCELERATION_ESTIMATE
    if distance < speed * speed / acceleration:
        return 2.0 * math.sqrt(distance / acceleration)
    return distance / speed + speed / acceleration


def goto_time_limit(distance_deg: float, fast_deg_s: float, approach_deg: float) -> float:
    """How long a goto over `distance_deg` may take before it counts as failed: the fast leg and the slow legs
    (GOTO_RETRIES corrections) at half their expected speeds, plus an overhead, and never more than GOTO_MAX_S."""
    fast = distance_deg / fast_deg_s
    slow = (1 + GOTO_RETRIES) * (approach_deg / SLOW_SPEED_ESTIMATE + SLOW_SPEED_ESTIMATE / ACCELERATION_ESTIMATE)
    return min(GOTO_MAX_S, GOTO_OVERHEAD_S + 2.0 * (fast + slow))


def aux_steps_between(a: int, b: int) -> int:
    """Encoder steps from `a` to `b` the short way round (encoders wrap at 2^24)."""
    half = aux.STEPS_PER_TURN // 2
    return (b - a + half) % aux.STEPS_PER_TURN - half


def angular_error(a: AxisAngles, b: AxisAngles) -> float:
    return math.hypot(wrap180(a.axis1 - b.axis1) * math.cos(math.radians(b.axis2)), a.axis2 - b.axis2)


class Phase(Enum):
    IDLE = "idle"
    SLEWING = "slewing"
    TRACKING = "tracking"
    MOVING = "moving"
    PARKING = "parking"
    HOMING = "homing"
    SATELLITE = "satellite"  # following a satellite pass (satellite.py), including the wait for it to rise
    STOPPING = "stopping"  # aborted: the axes decelerate; Idle once their positions stop changing


class Interference(MotionError):
    """Another master on the bus commanded a motor while we drove it."""


def is_stop(cmd: int, data: bytes) -> bool:
    """Does this motor-controller command only stop (rate 0, move 0, a 0 ms guide pulse) or move nothing at all?"""
    if cmd in (Command.SET_POS_GUIDERATE, Command.SET_NEG_GUIDERATE, Command.MOVE_POS, Command.MOVE_NEG):
        return not any(data)
    if cmd == Command.AUX_GUIDE:
        return len(data) == 2 and data[1] == 0
    return cmd not in aux.AXIS_COMMANDS or cmd == Command.SET_POSITION


class MotionControl(Part):
    def __init__(
        self,
        driver: NexStarDriver,
        stop_pulses: Callable[[], Awaitable[None]],
        nudge_pass: Callable[[Update], Awaitable[None]],
    ) -> None:
        self.driver = driver
        self.stop_pulses = stop_pulses  # ends the guide pulses in progress (guiding.py): an abort stops them too
        # While a satellite pass is followed the motion buttons move the aim along and across the track
        # (satellite.py), instead of the axes.
        self.nudge_pass = nudge_pass
        self.props = driver.props
        self.phase = Phase.IDLE
        self.failed = False
        self.target: tuple[float, float] | None = None  # apparent RA (h), Dec (deg) being tracked
        self.target_time = 0.0  # unix time the target's RA/Dec refer to (custom/solar/lunar drift from there)
        self.sent_rates: dict[int, tuple[int, bytes] | None] = {axis: None for axis in AXES}
        self.pulse_holds: dict[object, float] = {}  # guide pulses holding the tracking loop: until when (trio time)
        # Each axis's last two rate changes: (trio time, the rate before, arcsec/s as sent or None where unknown), to
        # carry a position read before a change forward to now. A guide pulse's end (trio time) cannot be: the
        # controllers ran the pulse themselves.
        self.rate_changes: dict[int, list[tuple[float, float | None]]] = {axis: [] for axis in AXES}
        self.pulse_ended_at = -math.inf
        self.task_scope: trio.CancelScope | None = None
        self.task_done = trio.Event()
        self.task_done.set()
        self.manual: dict[str, int] = {"NS": 0, "WE": 0}
        self.parked = False
        self.track_after_move = False
        # A stop the controllers have not confirmed (the link failed): sent again as soon as they answer, or a goto
        # abandoned in an outage would carry on to its stale target by itself.
        self.stop_owed = False
        self.stops_under_way = 0  # stop_axes calls waiting for their answers (the polls must not repeat them)
        # The last failure came from outside (the link, another master): cleared once the mount answers, nobody else
        # commands it and it is stopped.
        self.transient_failure = False
        self.foreign_until = -math.inf  # another master commanded our motors until about then (Alert meanwhile)
        self.foreign_seen = False
        self.interference: str | None = None  # what another master did during a goto in progress
        self.axis_ceiling: float | None = None  # a move allowed over the top: the altitude axis's own highest angle
        self.pending_sync: tuple[float, float, float] | None = None  # a large sync refused once: RA, Dec, trio time
        # After an abort only stop commands reach the motors until someone asks for motion again: a tracking update
        # or a pulse that was under way when the abort came must not set the mount going again.
        self.halted = False
        self.handlers: dict[str, Handler] = {
            "EQUATORIAL_EOD_COORD": self._on_coordinates,
            "HORIZONTAL_COORD": self._on_horizontal,
            "ON_COORD_SET": self._on_coord_set,
            "TELESCOPE_ABORT_MOTION": self._on_abort,
            "TELESCOPE_TRACK_STATE": self._on_track_state,
            "TELESCOPE_TRACK_MODE": self._on_track_settings,
            "TELESCOPE_TRACK_RATE": self._on_track_settings,
            "TELESCOPE_PARK": self._on_park,
            "TELESCOPE_PARK_POSITION": self._on_park_position,
            "TELESCOPE_PARK_OPTION": self._on_park_option,
            "TELESCOPE_HOME": self._on_home,
            "TELESCOPE_MOTION_NS": self._on_motion,
            "TELESCOPE_MOTION_WE": self._on_motion,
        }
        # Read when used: the slew rate and the reversal at the next manual move, the approach at the next goto. A
        # request only keeps the value.
        self.passive = frozenset({"TELESCOPE_SLEW_RATE", "TELESCOPE_REVERSE_MOTION", "APPROACH"})

    # --- state -----------------------------------------------------------------------------------------------

    def busy(self) -> bool:
        return self.phase in (Phase.SLEWING, Phase.MOVING, Phase.PARKING, Phase.HOMING, Phase.SATELLITE, Phase.STOPPING)

    def reads_axes_itself(self) -> bool:
        """A goto, a park, a homing or a stop under way reads the axes itself (at 1.5 Hz or faster) and shows the
        position: the poll need not read them too."""
        return (
            self.phase in (Phase.SLEWING, Phase.PARKING, Phase.HOMING, Phase.STOPPING) and self.task_scope is not None
        )

    def coordinate_state(self) -> State:
        if self.failed or self.foreign_active() or self.driver.position_stale:
            return State.ALERT
        if self.phase in (Phase.SLEWING, Phase.PARKING, Phase.HOMING, Phase.STOPPING):
            return State.BUSY
        return State.OK if self.phase in (Phase.TRACKING, Phase.SATELLITE) else State.IDLE

    def _set_phase(self, phase: Phase, failed: bool = False) -> None:
        self.phase = phase
        self.failed = failed
        tracking = phase in (Phase.TRACKING, Phase.SATELLITE)
        track = self.props.switch("TELESCOPE_TRACK_STATE")
        track.select("TRACK_ON" if tracking else "TRACK_OFF")
        self.driver.update(track.name, State.BUSY if tracking else State.IDLE)
        self.driver.update("EQUATORIAL_EOD_COORD", self.coordinate_state())
        self.driver.update("HORIZONTAL_COORD", self.coordinate_state())

    set_phase = _set_phase

    def link_lost(self) -> None:
        if self.busy():
            self.failed = True

    def foreign_active(self) -> bool:
        return trio.current_time() < self.foreign_until

    def foreign_command(self, packet) -> None:
        """Another master on the bus (a hand controller left tracking, a second program) commanded one of our motor
        controllers, overwriting what we sent that axis."""
        axis = aux.DEVICE_NAMES.get(packet.dst, f"0x{packet.dst:02X}")
        if not self.foreign_active():
            self.driver.message(
                f"Another controller on the AUX bus (0x{packet.src:02X}) is commanding the {axis}: the mount "
                "does not only do what this driver asks", "WARNING",
            )  # fmt: skip
        self.foreign_until = trio.current_time() + FOREIGN_QUIET_S
        self.foreign_seen = True
        self.sent_rates[packet.dst] = None  # tracking sends our rate again
        if self.phase in (Phase.SLEWING, Phase.PARKING, Phase.HOMING):
            self.interference = f"another controller on the AUX bus (0x{packet.src:02X}) commanded the {axis}"
        elif self.phase is Phase.IDLE and self.failed:
            self.stop_owed = True  # the stop that ended the failed motion may have been overwritten

    def check_sync(self) -> None:
        """A sync changes where the driver thinks the mount points; refused while that would mislead or move it."""
        if self.parked:
            raise ValidationError("the mount is parked; unpark it first")
        if self.busy():
            raise ValidationError("the mount is moving; sync when it is still")

    def check_model_change(self) -> None:
        """Clearing or editing the pointing model while the axes head somewhere would change where they end up."""
        if self.busy():
            raise ValidationError("the mount is moving; change the pointing model when it is still or tracking")

    def tracking(self) -> bool:
        return self.phase is Phase.TRACKING

    def confirm_sync(self, shift_degrees: float, ra: float, dec: float) -> bool:
        """A sync that moves the pointing by more than SYNC_CONFIRM_DEG (a wrong plate solve, the wrong star) is
        refused the first time, with a warning, and applied when the same sync comes again within
        SYNC_CONFIRM_WINDOW_S (Ekos's Align module resends a refused sync at once). Returns whether it is a large
        sync being applied."""
        if shift_degrees <= SYNC_CONFIRM_DEG:
            return False
        now = trio.current_time()
        pending, self.pending_sync = self.pending_sync, None
        if pending is not None and now - pending[2] <= SYNC_CONFIRM_WINDOW_S:
            here, earlier = AxisAngles(ra * 15.0, dec), AxisAngles(pending[0] * 15.0, pending[1])
            if angular_separation(here, earlier) <= SYNC_REPEAT_MATCH_DEG:
                return True
        self.pending_sync = (ra, dec, now)
        raise ValidationError(
            f"this sync would move the pointing by {shift_degrees:.1f}° (more than {SYNC_CONFIRM_DEG:g}°): a wrong "
            f"plate solve or star? Nothing was changed; send the same sync again within {SYNC_CONFIRM_WINDOW_S:g} s "
            "to apply it"
        )

    def synced(self, mount: AxisAngles, read_at: float) -> None:
        """After a sync the mount keeps pointing where it pointed at the sync instant (`mount`, axis angles read at
        trio time `read_at`): what it tracks is what the new model says was there then, the synced star, not the
        target of the last goto."""
        if self.phase is Phase.TRACKING and self.target is not None:
            ideal = self.driver.model.to_sky(mount)
            self.target = self.driver.ideal_axes_to_sky(ideal, read_at - trio.current_time())  # saving took time
            self.target_time = self.driver.now_unix()
            self.sent_rates = {axis: None for axis in AXES}  # the model changed: recompute and resend

    # --- the axes --------------------------------------------------------------------------------------------

    def check_command(self, dst: int, cmd: int, data: bytes) -> None:
        """Called just before a packet goes out (under the link's lock, so nothing queued earlier slips past)."""
        if self.halted and dst in AXES and not is_stop(cmd, data):
            raise Halted("motion was aborted; nothing moves until motion is asked for again")

    async def asked_to_move(self) -> None:
        """A request for motion (goto, tracking, a manual move, park, home, a pulse, a satellite): it lifts the
        halt of an abort and ends the wait for the axes to come to rest."""
        self.halted = False
        if self.phase is Phase.STOPPING:
            await self._cancel_task()
            self.phase = Phase.IDLE

    async def send_rate(self, axis: int, arcsec_per_s: float, *, special: int | None = None) -> None:
        payload: tuple[int, bytes]
        if special is not None:
            cmd = Command.SET_POS_GUIDERATE if arcsec_per_s >= 0 else Command.SET_NEG_GUIDERATE
            payload = (cmd, special.to_bytes(2, "big"))
        else:
            payload = aux.encode_rate(arcsec_per_s)
        if self.sent_rates[axis] == payload:
            return
        before = self.running_rate(axis)
        await self.driver.transact(axis, payload[0], payload[1])
        self.sent_rates[axis] = payload
        self.rate_changes[axis] = [*self.rate_changes[axis][-1:], (trio.current_time(), before)]

    async def stop_axes(self) -> None:
        """Both axes at rest: no rate, no move (MOVE_POS 0 also clears a goto in progress)."""
        self.stop_owed = True  # until every command is through: a stop cut short is still owed
        self.stops_under_way += 1
        try:
            for axis in AXES:
                await self.driver.transact(axis, Command.SET_POS_GUIDERATE, b"\x00\x00\x00")
                await self.driver.transact(axis, Command.MOVE_POS, b"\x00")
                self.sent_rates[axis] = None
            self.stop_owed = False
        finally:
            self.stops_under_way -= 1

    async def _cancel_task(self) -> None:
        if self.task_scope is not None:
            self.task_scope.cancel()
        await self.task_done.wait()

    def _start_task(self, work, what: str, on_end=None, limit: tuple[float, str] | None = None) -> None:
        """Run `work` as the one motion task; on_end(outcome) hears "done", "failed" or "cancelled" at its end.

        `limit` (seconds, how they were reckoned): the work fails if it has not ended by then."""
        nursery = self.driver.connection_nursery
        assert nursery is not None
        done = trio.Event()
        self.task_done = done

        async def limited() -> None:
            await self._within(limit, work)

        async def run() -> None:
            outcome = "cancelled"  # unless the work ends or fails by itself
            with trio.CancelScope() as scope:
                self.task_scope = scope
                try:
                    await limited()
                    outcome = "done"
                except Halted:
                    pass  # an abort came as it sent a motion command: the abort ends it, as a cancellation would
                except (LinkError, MotionError, ValidationError) as exc:
                    outcome = "failed"
                    self._set_phase(Phase.IDLE, failed=True)
                    for name in ("TELESCOPE_PARK", "TELESCOPE_HOME"):  # a park or home that ran out of time
                        if self.props[name].state is State.BUSY:
                            self.driver.update(name, State.ALERT)
                    self.transient_failure = isinstance(exc, (LinkError, Interference))
                    self.driver.message(f"{what} failed: {exc}", "ERROR")
                    with trio.CancelScope(shield=True), trio.move_on_after(3):
                        try:
                            await self.stop_axes()
                        except LinkError:
                            pass
                finally:
                    self.task_scope = None
                    if on_end is not None:
                        on_end(outcome)
                    done.set()

        nursery.start_soon(run)

    @staticmethod
    async def _within(limit: tuple[float, str] | None, work) -> None:
        """Run `work`; with a limit (seconds, how they were reckoned), fail if it has not ended by then."""
        if limit is None:
            await work()
            return
        seconds, reckoning = limit
        with trio.move_on_after(seconds) as deadline:
            await work()
        if deadline.cancelled_caught:
            raise MotionError(f"it did not end within {seconds:.0f} s ({reckoning}); the axes are stopped")

    async def begin_task(self, work, what: str, on_end=None) -> None:
        """Replace whatever the mount is doing with `work` (used by satellite tracking)."""
        await self.asked_to_move()
        await self._cancel_task()
        self.target = None
        self._start_task(work, what, on_end)

    async def stop_everything(self) -> None:
        await self._cancel_task()
        await self.stop_axes()
        self.target = None
        self._set_phase(Phase.IDLE)

    async def move_to(self, final: AxisAngles, over_the_top: float | None = None) -> None:
        """Fast approach, then a slow goto onto mount axis angles `final`. `over_the_top`: the highest angle the
        alt-az altitude axis may take past the zenith in this move (an antenna following a flipped pass), or None."""
        self.axis_ceiling = over_the_top
        try:
            await self._approach(final)
            await self._goto_axes(final, fast=False)
        finally:
            self.axis_ceiling = None

    # --- limits ----------------------------------------------------------------------------------------------

    def altitude_limits(self) -> tuple[float, float]:
        limits = self.props.number("ALTITUDE_LIMITS")
        return limits["MIN_ALT"].value, limits["MAX_ALT"].value

    def check_altitude(self, altitude: float, what: str) -> None:
        low, high = self.altitude_limits()
        if altitude < low:
            raise ValidationError(f"{what} is at altitude {altitude:.2f}°, below the lowest allowed {low:g}°")
        if altitude > high:
            raise ValidationError(f"{what} is at altitude {altitude:.2f}°, above the highest allowed {high:g}°")

    def check_axes_altitude(self, mount: AxisAngles, what: str) -> None:
        """The limits hold for where the axes themselves point too, the pointing model left out: a wrong model (a
        bad sync) must not drive the tube past them while it says the target is within."""
        low, high = self.altitude_limits()
        altitude = self.driver.altitude_of(mount)
        if not low <= altitude <= high:
            side = f"below the lowest allowed {low:g}°" if altitude < low else f"above the highest allowed {high:g}°"
            raise ValidationError(
                f"{what} needs the axes at altitude {altitude:.2f}° by their own encoders, {side} (check the pointing "
                "model: a wrong sync shifts it)"
            )

    def cordwrap(self) -> float | None:
        if self.driver.geometry() is not Geometry.ALTAZ or not self.props.switch("CORDWRAP")["INDI_ENABLED"].on:
            return None
        return self.props.number("CORDWRAP_POS")["POSITION"].value

    # --- goto ------------------------------------------------------------------------------------------------

    def goto_limit(self, final: AxisAngles) -> tuple[float, str]:
        """The time limit of a goto from where the axes are to mount axis angles `final` (the cord-wrap detour
        included), and how it was reckoned."""
        here = self.driver.mount_axes(*self.driver.encoders) if self.driver.encoders else final
        travel1, start = 0.0, here.axis1
        for waypoint in azimuth_path(here.axis1, final.axis1, self.cordwrap()):
            travel1 += abs(wrap180(waypoint - start))
            start = waypoint
        distance = max(travel1, abs(final.axis2 - here.axis2))
        speed = GOTO_FAST_SPEED_ASSUMED
        if self.driver.simulation():
            speed = min(speed, self.props.number("SIMULATION_GOTO_SPEED")["FAST"].value)
        approach = self.props.number("APPROACH")["DISTANCE"].value
        seconds = goto_time_limit(distance, speed, approach)
        return seconds, f"allowed for {distance:.1f}° at {speed:g}°/s"

    def _encoders_for(self, mount: AxisAngles) -> tuple[int, int]:
        return angles_to_encoders(mount, self.driver.geometry(), self.driver.southern())

    async def _goto_axes(self, mount: AxisAngles, fast: bool) -> None:
        wrap = self.cordwrap()
        here = self.driver.mount_axes(*self.driver.encoders) if self.driver.encoders else None
        # A last resort: the legs are planned round the cord wrap, but a target can move over it during a slew.
        if wrap is not None and here is not None and crosses(here.axis1, wrap180(mount.axis1 - here.axis1), wrap):
            raise MotionError(
                f"the next move (axis 1 to {wrap360(mount.axis1):.3f}°) would cross the cord-wrap position {wrap:g}°"
            )
        azm, alt = self._encoders_for(mount)
        cmd = Command.GOTO_FAST if fast else Command.GOTO_SLOW
        self.interference = None
        for axis, steps in ((aux.Device.AZM, azm), (aux.Device.ALT, alt)):
            # Rate 0 first, as the C++ driver does: a controller that keeps its rate through a goto would otherwise
            # carry on tracking during and after it.
            await self.driver.transact(axis, Command.SET_POS_GUIDERATE, b"\x00\x00\x00")
            await self.driver.transact(axis, cmd, aux.encode_position(steps))
            self.sent_rates[axis] = None  # a goto replaces the rate register
        await self._wait_done({aux.Device.AZM: azm, aux.Device.ALT: alt})

    async def _wait_done(self, aims: dict[int, int]) -> None:
        """Until both controllers say their goto to `aims` (encoder steps) is done; the axes read every
        SLEW_READ_EVERY polls, for the clients, the altitude limits and a stall."""
        pending = set(AXES)
        reading = self.driver.encoders or await self.driver.read_encoders()
        read_at = trio.current_time()
        speeds = {axis: math.inf for axis in AXES}  # steps per second, by the last two readings
        last_change = read_at
        previous_altitude = self._altitude_now()
        for tick in itertools.count(1):
            await trio.sleep(SLEW_DONE_INTERVAL)
            if self.interference is not None:
                raise Interference(self.interference)
            if tick % SLEW_READ_EVERY == 0:
                encoders = await self.driver.read_encoders()
                now = trio.current_time()
                for index, axis in enumerate(AXES):
                    speeds[axis] = abs(aux_steps_between(reading[index], encoders[index])) / max(now - read_at, 1e-3)
                self.driver.show_position()
                previous_altitude = self._check_motion_limits(previous_altitude)
                if encoders != reading:
                    last_change = now
                elif now - last_change > STALL_TIMEOUT:
                    raise MotionError(f"the axes stopped moving for {STALL_TIMEOUT:g} s before reaching the target")
                reading, read_at = encoders, now
            for index, axis in enumerate(AXES):
                if axis not in pending:
                    continue
                left = abs(aux_steps_between(reading[index], aims[axis]))
                arriving = speeds[axis] <= AT_REST_STEPS or left <= speeds[axis] * (
                    ARRIVING_S + trio.current_time() - read_at
                )
                if arriving and aux.decode_flag((await self.driver.transact(axis, Command.SLEW_DONE)).data):
                    pending.discard(axis)
            if not pending:
                return

    def _altitude_now(self) -> tuple[float, float] | None:
        """The altitude the mount points at now, by the pointing model and by the axes' own encoders."""
        if self.driver.encoders is None:
            return None
        mount = self.driver.mount_axes(*self.driver.encoders)
        return self.driver.altitude_of(self.driver.model.to_sky(mount)), self.driver.altitude_of(mount)

    def _check_motion_limits(self, previous: tuple[float, float] | None) -> tuple[float, float] | None:
        """Stop a slew that goes further out of the altitude limits, by the model or by the axes themselves (one
        that climbs back in, from a home position below the lowest limit say, is fine)."""
        altitudes = self._altitude_now()
        if altitudes is None or previous is None:
            return altitudes
        low, high = self.altitude_limits()
        highs = (high, high if self.axis_ceiling is None else max(high, self.axis_ceiling))  # (model, axes)
        for altitude, before, top in zip(altitudes, previous, highs):
            if (altitude < low - 0.5 and altitude < before) or (altitude > top + 0.5 and altitude > before):
                raise MotionError(f"the telescope reached altitude {altitude:.2f}°, outside {low:g}° … {top:g}°")
        return altitudes

    async def _approach(self, final: AxisAngles, fast_only: bool = False) -> None:
        """Fast goto to a point short of `final` (via the cord-wrap detour if needed), then, unless fast_only, a slow
        goto to `final` itself."""
        encoders = self.driver.encoders or await self.driver.read_encoders()
        current = self.driver.mount_axes(*encoders)
        distance = self.props.number("APPROACH")["DISTANCE"].value
        low, high = self.altitude_limits()
        sign2 = 1.0 if final.axis2 + distance <= high else -1.0  # come down onto the target unless that is too high
        wrap = self.cordwrap()
        # Come up onto the target in axis 1, unless the last short leg would then cross the cord wrap.
        sign1 = -1.0 if wrap is None or not crosses(final.axis1 - distance, distance, wrap) else 1.0
        approach = AxisAngles(final.axis1 + sign1 * distance, final.axis2 + sign2 * distance)
        for waypoint in azimuth_path(current.axis1, approach.axis1, wrap)[:-1]:
            await self._goto_axes(AxisAngles(waypoint, current.axis2), fast=True)
        await self._goto_axes(approach if not fast_only else final, fast=True)

    async def _goto_sky(self, ra: float, dec: float, track: bool) -> None:
        driver = self.driver
        await self._approach(driver.model.to_mount(driver.sky_to_ideal_axes(ra, dec)))
        # Each slow leg aims where the target will be when the axes stop (and, on average, when the stop is
        # noticed), not where it was when the leg started; the result is then checked against the target at that
        # moment and corrected with short legs.
        for _ in range(GOTO_RETRIES):
            encoders = await driver.read_encoders()
            here = driver.mount_axes(*encoders)
            aim_now = driver.model.to_mount(driver.sky_to_ideal_axes(ra, dec))
            lead = leg_seconds(here, aim_now) + SLEW_DONE_INTERVAL / 2
            ideal = driver.sky_to_ideal_axes(ra, dec, lead)
            self.check_altitude(driver.altitude_of(ideal), "the target")
            self.check_axes_altitude(driver.model.to_mount(ideal), "the target")
            await self._goto_axes(driver.model.to_mount(ideal), fast=False)
            if track and (driver.geometry() is Geometry.ALTAZ or self._mode() == "TRACK_CUSTOM"):
                break  # the closed tracking loop takes out what is left within its first seconds
            # (the motor's own sidereal/solar/lunar rate on a wedge corrects nothing: check and correct first)
            encoders = await driver.read_encoders()
            if (
                angular_error(driver.mount_axes(*encoders), driver.model.to_mount(driver.sky_to_ideal_axes(ra, dec)))
                * 3600
                <= GOTO_TOLERANCE_ARCSEC
            ):
                break
        driver.show_position()
        if track:
            self.target = (ra, dec)
            self.target_time = driver.now_unix()
            self._set_phase(Phase.TRACKING)
            await self.track_once()
        else:
            self._set_phase(Phase.IDLE)

    def _check_target(self, ra: float, dec: float) -> None:
        if self.parked:
            raise ValidationError("the mount is parked; unpark it first")
        ideal = self.driver.sky_to_ideal_axes(ra, dec)
        self.check_altitude(self.driver.altitude_of(ideal), "the target")
        self.check_axes_altitude(self.driver.model.to_mount(ideal), "the target")

    async def goto(self, ra: float, dec: float, track: bool) -> None:
        self._check_target(ra, dec)
        await self.asked_to_move()
        await self._cancel_task()
        target = self.props.number("TARGET_EOD_COORD")
        target.apply({"RA": ra, "DEC": dec})
        self.driver.update(target.name, State.OK)
        self.target = None
        self._set_phase(Phase.SLEWING)
        limit = self.goto_limit(self.driver.model.to_mount(self.driver.sky_to_ideal_axes(ra, dec)))
        self.driver.message(f"Slewing to RA {sexagesimal(ra)}, Dec {sexagesimal(dec)}")  # as libindi's drivers say it
        self._start_task(lambda: self._goto_sky(ra, dec, track), "Goto", limit=limit)

    async def _on_coordinates(self, update: Update) -> None:
        if set(update.sent) != {"RA", "DEC"}:
            raise ValidationError("a goto or sync needs both RA and DEC in one request")
        ra, dec = update["RA"], update["DEC"]
        action = self.props.switch("ON_COORD_SET").selected()
        if action == "SYNC":
            await self.driver.sync(ra, dec)
            self.driver.update(update.vector.name, self.coordinate_state(), f"Synced on RA {ra:.5f} h, Dec {dec:.4f}°")
            return
        await self.goto(ra, dec, track=action == "TRACK")

    async def _on_horizontal(self, update: Update) -> None:
        if set(update.sent) != {"AZ", "ALT"}:
            raise ValidationError("a goto or sync in Az/Alt needs both AZ and ALT in one request")
        driver = self.driver
        ra, dec = astro.horizontal_to_apparent(
            update["AZ"], update["ALT"], driver.instant(), driver.site(), driver.weather()
        )
        action = self.props.switch("ON_COORD_SET").selected()
        if action == "SYNC":  # the mount points at this Az/Alt now: a sync on the RA/Dec there, never a move
            await driver.sync(ra, dec)
            message = f"Synced on Az {update['AZ']:.4f}°, Alt {update['ALT']:.4f}°"
            driver.update(update.vector.name, self.coordinate_state(), message)
            return
        self.check_altitude(update["ALT"], "the requested position")
        if action == "TRACK":
            await self.goto(ra, dec, track=True)  # from here on it is a star: follow it
            return
        # Not tracking: a fixed place in the sky (a landmark, a flat panel), reached and held where it is.
        if self.parked:
            raise ValidationError("the mount is parked; unpark it first")
        if driver.geometry() is Geometry.ALTAZ:
            ideal = AxisAngles(update["AZ"], update["ALT"])
        else:
            hour_angle, dec_axis = astro.apparent_to_hour_angle(
                ra, dec, driver.instant(), driver.site(), driver.weather()
            )
            ideal = AxisAngles(hour_angle * 15.0, dec_axis)
        final = driver.model.to_mount(ideal)
        self.check_axes_altitude(final, "the requested position")
        await self.asked_to_move()
        await self._cancel_task()
        self.target = None
        self._set_phase(Phase.SLEWING)
        driver.message(f"Slewing to Az {sexagesimal(update['AZ'])}, Alt {sexagesimal(update['ALT'])}")

        async def fixed() -> None:
            await self._approach(final)
            await self._goto_axes(final, fast=False)
            driver.show_position()
            self._set_phase(Phase.IDLE)

        self._start_task(fixed, "Goto", limit=self.goto_limit(final))

    async def _on_coord_set(self, update: Update) -> None:
        self.driver.accept(update)

    # --- tracking --------------------------------------------------------------------------------------------

    def _mode(self) -> str:
        return self.props.switch("TELESCOPE_TRACK_MODE").selected() or "TRACK_SIDEREAL"

    def target_at(self, unix: float) -> tuple[float, float]:
        """The tracked RA/Dec at a moment: fixed for sidereal; drifting for solar, lunar and custom rates."""
        assert self.target is not None
        ra, dec = self.target
        mode = self._mode()
        if mode == "TRACK_SIDEREAL":
            return ra, dec
        if mode == "TRACK_CUSTOM":
            rates = self.props.number("TELESCOPE_TRACK_RATE")
            ra_rate, dec_rate = rates["TRACK_RATE_RA"].value, rates["TRACK_RATE_DE"].value
        else:
            ra_rate, dec_rate = MODE_RATES[mode], 0.0
        elapsed = unix - self.target_time
        ra += (aux.SIDEREAL_ARCSEC_PER_S - ra_rate) / 15.0 * elapsed / 3600.0
        dec = max(-90.0, min(90.0, dec + dec_rate * elapsed / 3600.0))
        return ra % 24.0, dec

    async def track_once(self) -> None:
        driver = self.driver
        if self.target is None:
            return
        if driver.geometry() is Geometry.EQ_WEDGE and self._mode() != "TRACK_CUSTOM":
            sign = -1.0 if driver.southern() else 1.0  # in the south the wedge turns the other way
            await self.send_rate(aux.Device.AZM, sign * MODE_RATES[self._mode()], special=SPECIAL_RATES[self._mode()])
            await self.send_rate(aux.Device.ALT, 0.0)
            return
        now = driver.now_unix()
        ra0, dec0 = self.target_at(now)
        ideal_now = driver.sky_to_ideal_axes(ra0, dec0)
        low, high = self.altitude_limits()
        altitude = driver.altitude_of(ideal_now)
        if not low <= altitude <= high:
            await self._stop_tracking(f"the target is at altitude {altitude:.2f}°, outside {low:g}° … {high:g}°")
            return
        ra1, dec1 = self.target_at(now + PREDICTION_STEP)
        mount_now = driver.model.to_mount(ideal_now)
        axes_altitude = driver.altitude_of(mount_now)
        if not low <= axes_altitude <= high:
            await self._stop_tracking(
                f"the axes would point at altitude {axes_altitude:.2f}° by their own encoders, outside {low:g}° … "
                f"{high:g}° (check the pointing model)"
            )
            return
        mount_next = driver.model.to_mount(driver.sky_to_ideal_axes(ra1, dec1, PREDICTION_STEP))
        measured, lag = await self._axes_for_tracking(now)
        axis1, axis2 = rates.closed_loop(
            mount_now, mount_next, PREDICTION_STEP, measured, correction_time_s=CORRECTION_TIME, lag_s=lag
        )
        wrap = self.cordwrap()
        # from where the axis is to where the next updates take it (a target that is already over counts too)
        if wrap is not None and crosses(
            measured.axis1, wrap180(mount_next.axis1 - measured.axis1) + axis1.feed * TRACK_PERIOD, wrap
        ):
            await self._stop_tracking(
                f"tracking would cross the cord-wrap position {wrap:g}°; slew to the target again"
            )
            return
        geometry, southern = driver.geometry(), driver.southern()
        await self._send_tracking_rate(aux.Device.AZM, axis1_sign(geometry, southern) * axis1.rate * 3600.0)
        await self._send_tracking_rate(aux.Device.ALT, axis2_sign(geometry, southern) * axis2.rate * 3600.0)

    async def _send_tracking_rate(self, axis: int, arcsec_per_s: float) -> None:
        """A tracking rate, sent only when it differs from the one the controller runs by TRACK_RATE_DEADBAND or
        more: the bus is shared, and the closed loop takes out the little the difference leaves."""
        running = self.running_rate(axis)
        if running is not None and abs(arcsec_per_s - running) < TRACK_RATE_DEADBAND:
            return
        await self.send_rate(axis, arcsec_per_s)

    def running_rate(self, axis: int) -> float | None:
        """The rate (arcsec/s, signed as sent) this driver last gave the axis; None when unknown or a special one."""
        running = self.sent_rates[axis]
        if running is None or len(running[1]) != 3:
            return None
        sign = 1.0 if running[0] == Command.SET_POS_GUIDERATE else -1.0
        return sign * aux.decode_rate(running[1])

    def hold_tracking(self, seconds: float) -> Callable[[], None]:
        """Hold the tracking loop while a guide pulse moves the axes: the target moves by the whole pulse at once,
        the axes over its duration, and the loop would add its own correction to the pulse's. The loop resumes when
        the returned release is called, or `seconds` from now at the latest."""
        token = object()
        self.pulse_holds[token] = trio.current_time() + seconds

        def release() -> None:
            self.pulse_holds.pop(token, None)
            self.pulse_ended_at = trio.current_time()

        return release

    def _held_by_pulses(self) -> bool:
        now = trio.current_time()
        for token, until in list(self.pulse_holds.items()):
            if until <= now:
                del self.pulse_holds[token]
        return bool(self.pulse_holds)

    async def _axes_for_tracking(self, now: float) -> tuple[AxisAngles, float]:
        """The axes, and how long after `now` (unix) they were read: the poll's reading when it is younger than one
        and a half tracking periods (the position is then read once a second, not twice), carried forward to now at
        the rates the axes ran meanwhile; else a reading of their own. A reading from before the target last changed
        (a new track mode or rate, a sync) is not taken: the loop would extrapolate the new target's motion back to a
        moment the mount was following the old one. Nor is one from before a guide pulse ended, or one the rates
        since cannot carry forward (more than one change, or a rate not known)."""
        driver = self.driver
        if driver.encoders is not None and not driver.position_stale:
            age = trio.current_time() - driver.encoders_time
            fresh = age < 1.5 * TRACK_PERIOD and driver.encoders_time >= self.pulse_ended_at
            if fresh and driver.now_unix() - age >= self.target_time:
                moved = [self._moved_since(axis, driver.encoders_time) for axis in AXES]
                if None not in moved:
                    geometry, southern = driver.geometry(), driver.southern()
                    read = driver.mount_axes(*driver.encoders)
                    axis1 = read.axis1 + axis1_sign(geometry, southern) * (moved[0] or 0.0) / 3600.0
                    axis2 = read.axis2 + axis2_sign(geometry, southern) * (moved[1] or 0.0) / 3600.0
                    return AxisAngles(axis1, axis2), driver.now_unix() - now
        encoders = await driver.read_encoders()
        return driver.mount_axes(*encoders), driver.now_unix() - now

    def _moved_since(self, axis: int, read_at: float) -> float | None:
        """Arcsec (signed as sent) the rates sent have turned `axis` since trio time `read_at`; None if unknown."""
        now, running = trio.current_time(), self.running_rate(axis)
        changes = [change for change in self.rate_changes[axis] if change[0] > read_at]
        if running is None or len(changes) > 1:
            return None
        if not changes:
            return running * (now - read_at)
        changed_at, before = changes[0]
        if before is None:
            return None
        return before * (changed_at - read_at) + running * (now - changed_at)

    async def _stop_tracking(self, reason: str) -> None:
        await self.stop_axes()
        self.target = None
        self._set_phase(Phase.IDLE, failed=True)
        self.driver.message(f"Tracking stopped: {reason}", "WARNING")

    async def run(self) -> None:
        """The tracking loop, for as long as the mount is connected."""
        while True:
            started = trio.current_time()
            if self.phase is Phase.TRACKING and not self._held_by_pulses():
                try:
                    await self.track_once()
                except Halted:
                    pass  # an abort came while this update was under way: it stops here
                except LinkError as exc:
                    self.driver.log.warning("tracking update failed: %s", exc)
                    self.sent_rates = {axis: None for axis in AXES}  # resend once the link is back
            await trio.sleep_until(started + TRACK_PERIOD)

    def sky_now(self) -> tuple[float, float]:
        """The apparent RA/Dec the mount is on now: the tracked target where it tracks one, else where it points."""
        if self.target is not None:
            return self.target_at(self.driver.now_unix())
        ideal = self.driver.pointing_now() or AxisAngles(0, 0)
        return self.driver.ideal_axes_to_sky(ideal)

    def shift_target(self, north: float, west: float) -> None:
        """Move the tracked target (if any) by `north` degrees of Dec and `west` degrees of hour angle: tracking then
        follows a guided position instead of pulling back to the old one."""
        if self.target is None:
            return
        ra, dec = self.target
        if west:
            ra = (ra - west / 15.0) % 24.0
        if north:
            dec = max(-90.0, min(90.0, dec + north))
        self.target = (ra, dec)

    async def start_tracking_here(self) -> None:
        ideal = self.driver.pointing_now() or AxisAngles(0, 0)
        self.target = self.driver.ideal_axes_to_sky(ideal)
        self.target_time = self.driver.now_unix()
        self.sent_rates = {axis: None for axis in AXES}
        self._set_phase(Phase.TRACKING)
        await self.track_once()

    async def _on_track_state(self, update: Update) -> None:
        if update["TRACK_ON"]:
            if self.parked:
                raise ValidationError("the mount is parked; unpark it first")
            if self.phase is Phase.STOPPING:
                await self.asked_to_move()  # tracking from where the stop leaves the mount
            if self.busy():
                raise ValidationError("the mount is moving; tracking starts by itself after a goto")
            self.halted = False
            await self.start_tracking_here()
        else:
            await self._cancel_task()
            await self.stop_axes()
            self.target = None
            self._set_phase(Phase.IDLE)

    async def _on_track_settings(self, update: Update) -> None:
        if self.phase is Phase.TRACKING and self.target is not None:
            # where the old mode and rates have carried the target; the new ones apply from now on only
            now = self.driver.now_unix()
            self.target, self.target_time = self.target_at(now), now
        self.driver.accept(update)
        if self.phase is Phase.TRACKING:
            self.sent_rates = {axis: None for axis in AXES}
            await self.track_once()

    # --- abort -----------------------------------------------------------------------------------------------

    async def _on_abort(self, update: Update) -> None:
        self.halted = True  # first: from here on only stop commands reach the motors
        await self._cancel_task()
        await self.stop_pulses()
        self.manual = {"NS": 0, "WE": 0}
        self.track_after_move = False  # releasing a motion button after the abort must not start tracking
        self.target = None
        self.phase = Phase.IDLE  # nothing is to move from now on, even if the stop below does not get through yet
        await self.stop_axes()
        for name in ("TELESCOPE_MOTION_NS", "TELESCOPE_MOTION_WE"):
            self.props.switch(name).reset()
            self.driver.update(name, State.IDLE)
        if self.props.switch("TELESCOPE_PARK").state is State.BUSY:
            self.driver.update("TELESCOPE_PARK", State.ALERT)
        update.switches.reset()
        # The axes decelerate for a while after the stop (seconds, degrees at full speed): coordinates stay Busy
        # until they are at rest, then Idle with the position where they really stopped.
        self._set_phase(Phase.STOPPING)
        self.driver.update(update.vector.name, State.BUSY, "Stopping: waiting for the axes to come to rest")
        self._start_task(self._settle_after_stop, "Stopping", on_end=self._stop_ended)

    async def _settle_after_stop(self) -> None:
        started = trio.current_time()
        previous = await self.driver.read_encoders()
        while True:
            await trio.sleep(SLEW_DONE_INTERVAL)
            encoders = await self.driver.read_encoders()
            self.driver.show_position()
            moved = max(abs(aux_steps_between(a, b)) for a, b in zip(previous, encoders))
            if moved <= AT_REST_STEPS:
                break
            if trio.current_time() - started > STOP_SETTLE_LIMIT_S:
                raise MotionError(f"the axes were still moving {STOP_SETTLE_LIMIT_S:g} s after the stop")
            previous = encoders
        self._set_phase(Phase.IDLE)
        self.driver.show_position()
        self.driver.update("TELESCOPE_ABORT_MOTION", State.OK, "All motion stopped")

    def _stop_ended(self, outcome: str) -> None:
        if outcome == "failed":
            self.driver.update("TELESCOPE_ABORT_MOTION", State.ALERT)
        elif outcome == "cancelled":  # motion asked for again before the axes were at rest
            self.driver.update("TELESCOPE_ABORT_MOTION", State.IDLE)

    # --- manual motion ---------------------------------------------------------------------------------------

    def slew_level(self) -> int:
        selected = self.props.switch("TELESCOPE_SLEW_RATE").selected() or "5x"
        return int(selected.rstrip("x"))

    async def _on_motion(self, update: Update) -> None:
        if self.parked:
            raise ValidationError("the mount is parked; unpark it first")
        if self.phase in (Phase.SLEWING, Phase.PARKING, Phase.HOMING):
            raise ValidationError("a goto is under way; abort it first")
        if self.phase is Phase.SATELLITE:
            await self.nudge_pass(update)
            return
        if any(update.values.values()):
            await self.asked_to_move()
        ns = update.vector.name.endswith("NS")
        key = "NS" if ns else "WE"
        first, second = ("MOTION_NORTH", "MOTION_SOUTH") if ns else ("MOTION_WEST", "MOTION_EAST")
        direction = 1 if update[first] else -1 if update[second] else 0
        if self.props.switch("TELESCOPE_REVERSE_MOTION")["REVERSE_" + key].on:
            direction = -direction  # the user's view is mirrored (a diagonal, a camera turned over): as libindi does
        geometry, southern = self.driver.geometry(), self.driver.southern()
        if ns:
            axis, sign = aux.Device.ALT, axis2_sign(geometry, southern)
        else:
            axis = aux.Device.AZM
            sign = axis1_sign(geometry, southern) if geometry is Geometry.EQ_WEDGE else (-1 if southern else 1)
        if self.phase is Phase.TRACKING:
            self.track_after_move = True
        self.driver.accept(update, State.BUSY if direction else State.IDLE)
        self.manual[key] = direction * sign
        level = self.slew_level()
        if direction:
            self._guard_manual(axis, direction * sign)
            cmd = Command.MOVE_POS if direction * sign > 0 else Command.MOVE_NEG
            await self.driver.transact(axis, cmd, bytes([level]))
            self.sent_rates[axis] = None
            if self.phase is not Phase.MOVING:
                self.phase = Phase.MOVING
        else:
            await self.driver.transact(axis, Command.MOVE_POS, b"\x00")
            self.sent_rates[axis] = None
            if not any(self.manual.values()) and self.phase is not Phase.STOPPING:  # (a button let go after an abort)
                await self._manual_done()
        self.driver.poll_soon()

    def _guard_manual(self, axis: int, encoder_direction: int) -> None:
        """Refuse a manual move that would start beyond a limit."""
        ideal = self.driver.pointing_now()
        if ideal is None:
            return
        if axis == aux.Device.ALT and self.driver.geometry() is Geometry.ALTAZ:
            low, high = self.altitude_limits()
            up = encoder_direction > 0
            altitude = self._nearest_limit_altitude(ideal, up)
            if (not up and altitude <= low) or (up and altitude >= high):
                raise ValidationError(f"the telescope is at the altitude limit ({altitude:.2f}°)")

    def _nearest_limit_altitude(self, ideal: AxisAngles, up: bool) -> float:
        """Alt-az: of the modelled altitude and the altitude axis's own, the one nearer the limit being approached."""
        assert self.driver.encoders is not None
        axes = self.driver.mount_axes(*self.driver.encoders).axis2
        return max(ideal.axis2, axes) if up else min(ideal.axis2, axes)

    async def _manual_done(self) -> None:
        if self.track_after_move:
            self.track_after_move = False
            await self.start_tracking_here()  # track where the user left the telescope
        else:
            self._set_phase(Phase.IDLE)

    async def _check_manual_limits(self) -> None:
        """Stop a manual move before it passes the altitude limits or the cord wrap."""
        ideal = self.driver.pointing_now()
        if ideal is None:
            return
        level = self.slew_level()
        margin = MOVE_DEG_S[level - 1] * MANUAL_LIMIT_MARGIN + 0.05
        reason = None
        if self.manual["NS"] and self.driver.geometry() is Geometry.ALTAZ:
            low, high = self.altitude_limits()
            up = self.manual["NS"] > 0
            altitude = self._nearest_limit_altitude(ideal, up)
            if (not up and altitude <= low + margin) or (up and altitude >= high - margin):
                reason = f"altitude limit reached ({altitude:.2f}°)"
        wrap = self.cordwrap()
        if self.manual["WE"] and wrap is not None:
            mount = self.driver.mount_axes(*self.driver.encoders) if self.driver.encoders else None
            if mount is not None and crosses(mount.axis1, math.copysign(margin, self.manual["WE"]), wrap):
                reason = f"cord-wrap position {wrap:g}° reached"
        if reason is None:
            return
        for axis in AXES:
            await self.driver.transact(axis, Command.MOVE_POS, b"\x00")
            self.sent_rates[axis] = None
        self.manual = {"NS": 0, "WE": 0}
        for name in ("TELESCOPE_MOTION_NS", "TELESCOPE_MOTION_WE"):
            self.props.switch(name).reset()
            self.driver.update(name, State.ALERT, f"[WARNING] Manual move stopped: {reason}")
        await self._manual_done()

    async def on_poll(self) -> None:
        """After each position the controllers answered."""
        if self.phase is Phase.MOVING:
            await self._check_manual_limits()
        if self.foreign_seen and not self.foreign_active():
            self.foreign_seen = False
            self.driver.message(f"No other controller has commanded the motors for {FOREIGN_QUIET_S:g} s")
        if self.phase is not Phase.IDLE or self.foreign_active():
            return
        # Owed, not merely under way: an abort's stop waits for its answers while the polls go on.
        if self.stop_owed and not self.stops_under_way and self.task_done.is_set():
            await self.stop_axes()
            self.driver.message("The mount is stopped now: the motion that failed could not be stopped then", "WARNING")
        if self.failed and self.transient_failure:
            self.transient_failure = False
            self._set_phase(Phase.IDLE)  # the failure has been reported; the state now shows the mount at rest

    # --- park and home ---------------------------------------------------------------------------------------

    def _park_path(self):
        return indi_home() / f"{self.driver.name}_park.json"

    def default_park(self) -> AxisAngles:
        if self.driver.geometry() is Geometry.EQ_WEDGE:
            return AxisAngles(0.0, -90.0 if self.driver.southern() else 90.0)  # the pole
        return AxisAngles(0.0, 0.0)  # home: north, level

    async def site_changed(self) -> None:
        """With no park position saved, the default one follows the site (on a wedge, the pole of its hemisphere):
        the site usually arrives after connecting, when the default was taken for the site known then."""
        if await trio.to_thread.run_sync(self._park_path().exists):
            return
        default = self.default_park()
        position = self.props.number("TELESCOPE_PARK_POSITION")
        if (position["PARK_AZ"].value, position["PARK_ALT"].value) != (default.axis1, default.axis2):
            position.apply({"PARK_AZ": default.axis1, "PARK_ALT": default.axis2})
            self.driver.update(position.name, State.OK)

    def _write_park(self) -> None:
        position = self.props.number("TELESCOPE_PARK_POSITION")
        record = ParkRecord(self.parked, position["PARK_AZ"].value, position["PARK_ALT"].value, self.driver.encoders)
        record.save(self._park_path())

    async def restore_park(self) -> None:
        """At connect: the saved park position, and the encoders back where they were if the mount was powered down
        parked (a freshly powered controller counts from 0), so no re-alignment is needed."""
        position = self.props.number("TELESCOPE_PARK_POSITION")
        default = self.default_park()
        position.apply({"PARK_AZ": default.axis1, "PARK_ALT": default.axis2})
        try:
            record = ParkRecord.load(self._park_path())  # a few bytes, bounded: read in place, as before
        except StoreProblem as problem:
            # Whether the mount was parked, and so whether its encoders count from the right place, is unknown.
            self.parked = False
            park = self.props.switch("TELESCOPE_PARK")
            park.reset()
            park.state = State.ALERT
            self.driver.message(
                f"Park file {problem}. The park state is unknown and the position shown may be wrong: "
                "sync on a star or home the mount before trusting it",
                "WARNING",
            )
            return
        self.parked = False
        if record:
            # A file from before PARK_AZ took libindi's 0…360 may hold a wedge's negative hour angle (the same angle).
            position.apply({"PARK_AZ": wrap360(record.axis1), "PARK_ALT": record.axis2})
            self.parked = record.parked
            saved = record.encoders
            if self.parked and saved and self.driver.encoders == (0, 0) and tuple(saved) != (0, 0):
                for axis, steps in zip(AXES, saved):
                    await self.driver.transact(axis, Command.SET_POSITION, aux.encode_position(int(steps)))
                await self.driver.read_encoders()
                self.driver.message("The mount was parked when it was powered down: its position is restored")
        park = self.props.switch("TELESCOPE_PARK")
        park.select("PARK" if self.parked else "UNPARK")
        park.state = State.OK

    def _park_target(self) -> AxisAngles:
        """The park position as mount axis angles, refused if it lies outside the altitude limits."""
        position = self.props.number("TELESCOPE_PARK_POSITION")
        target = AxisAngles(position["PARK_AZ"].value, position["PARK_ALT"].value)
        self.check_altitude(self.driver.altitude_of(self.driver.model.to_sky(target)), "the park position")
        self.check_axes_altitude(target, "the park position")
        return target

    async def _park(self, limit: tuple[float, str] | None = None) -> None:
        """Park; `limit` bounds the motion only, not the saving of the park state after it."""
        try:
            target = self._park_target()

            async def motion() -> None:
                await self._approach(target)
                await self._goto_axes(target, fast=False)
                await self.stop_axes()

            await self._within(limit, motion)
        except (LinkError, MotionError, ValidationError):
            self.driver.update("TELESCOPE_PARK", State.ALERT)  # not left Busy: the failure is reported by the task
            raise
        self.parked = True
        await trio.to_thread.run_sync(self._write_park)
        self.target = None
        self._set_phase(Phase.IDLE)
        park = self.props.switch("TELESCOPE_PARK")
        park.select("PARK")
        self.driver.update(park.name, State.OK, "Parked")

    async def park_now(self) -> None:
        """Park from within a running motion task (after a satellite pass)."""
        self._set_phase(Phase.PARKING)
        self.driver.update("TELESCOPE_PARK", State.BUSY)
        await self._park()

    async def _on_park(self, update: Update) -> None:
        vector = update.switches
        if update["PARK"]:
            if self.phase is Phase.PARKING:  # park while parking = abort, as libindi does
                await self._cancel_task()
                await self.stop_axes()
                self._set_phase(Phase.IDLE)
                self.driver.update(vector.name, State.ALERT, "[WARNING] Parking aborted")
                return
            if self.parked:
                self.driver.update(vector.name, State.OK)
                return
            self._park_target()
            await self.asked_to_move()
            await self._cancel_task()
            self.target = None
            self._set_phase(Phase.PARKING)
            vector.apply(update.values)
            self.driver.update(vector.name, State.BUSY)
            limit = self.goto_limit(self._park_target())
            self._start_task(lambda: self._park(limit), "Parking")
            return
        self.parked = False
        await trio.to_thread.run_sync(self._write_park)
        vector.select("UNPARK")
        self.driver.update(vector.name, State.OK, "Unparked")

    async def _on_park_position(self, update: Update) -> None:
        vector = update.vector
        previous = {name: vector[name].value for name in update.values}
        vector.apply(update.values)
        try:
            # saved before it is acknowledged: a crash loses nothing said
            await trio.to_thread.run_sync(self._write_park)
        except OSError:
            vector.apply(previous)
            raise
        self.driver.update(vector.name, State.OK)

    async def _on_park_option(self, update: Update) -> None:
        action = next((name for name, on in update.values.items() if on), None)
        update.switches.reset()
        position = self.props.number("TELESCOPE_PARK_POSITION")
        if action == "PARK_CURRENT":
            encoders = await self.driver.read_encoders()
            current = self.driver.mount_axes(*encoders)
            position.apply({"PARK_AZ": wrap360(current.axis1), "PARK_ALT": current.axis2})  # libindi's 0…360
        elif action == "PARK_DEFAULT":
            default = self.default_park()
            position.apply({"PARK_AZ": default.axis1, "PARK_ALT": default.axis2})
        elif action == "PARK_PURGE_DATA":
            self._park_path().unlink(missing_ok=True)
            self.driver.update(update.vector.name, State.OK, "Park data removed")
            return
        if action in ("PARK_CURRENT", "PARK_DEFAULT", "PARK_WRITE_DATA"):
            await trio.to_thread.run_sync(self._write_park)
        self.driver.update(position.name, State.OK)
        self.driver.update(update.vector.name, State.OK)

    async def _home(self, find: bool) -> None:
        if find:
            await self.driver.transact(aux.Device.AZM, Command.SEEK_INDEX)
            await self.driver.transact(aux.Device.ALT, Command.LEVEL_START)
            pending = {aux.Device.AZM: Command.AT_INDEX, aux.Device.ALT: Command.LEVEL_DONE}
            while pending:
                await trio.sleep(SLEW_DONE_INTERVAL)
                for axis, cmd in list(pending.items()):
                    if aux.decode_flag((await self.driver.transact(axis, cmd)).data):
                        del pending[axis]
                await self.driver.read_encoders()
                self.driver.show_position()
        else:
            await self._approach(AxisAngles(0.0, 0.0))
            await self._goto_axes(AxisAngles(0.0, 0.0), fast=False)
        self._set_phase(Phase.IDLE)
        self.props.switch("TELESCOPE_HOME").reset()
        self.driver.update("TELESCOPE_HOME", State.OK, "Home found" if find else "At home")

    async def _on_home(self, update: Update) -> None:
        action = next((name for name, on in update.values.items() if on), None)
        if action is None:
            self.driver.update(update.vector.name, State.IDLE)
            return
        if self.parked:
            raise ValidationError("the mount is parked; unpark it first")
        if self.driver.geometry() is Geometry.ALTAZ:
            self.check_altitude(0.0, "the home position (level)")  # both home actions end with the tube level
        await self.asked_to_move()
        await self._cancel_task()
        self.target = None
        self._set_phase(Phase.HOMING)
        self.driver.accept(update, State.BUSY)
        # the index mark can be anywhere on the circle: a seek gets the longest time a goto may take
        limit = (GOTO_MAX_S, "a seek of the index") if action == "FIND" else self.goto_limit(AxisAngles(0.0, 0.0))
        self._start_task(lambda: self._home(action == "FIND"), "Homing", limit=limit)

    # --- disconnect ------------------------------------------------------------------------------------------

    async def halt_before_disconnect(self) -> None:
        """Leave nothing moving when the driver lets go of the mount."""
        await self._cancel_task()
        with trio.move_on_after(3):
            try:
                await self.stop_pulses()
            except LinkError:
                pass
        with trio.move_on_after(3):
            try:
                await self.stop_axes()
            except LinkError:
                pass
        self.target = None
        self.phase = Phase.IDLE

    async def on_disconnected(self) -> None:
        self.phase = Phase.IDLE
        self.sent_rates = {axis: None for axis in AXES}
