"""The mount as an antenna rotator: a rotctld endpoint inside the driver, for Gpredict and hamlib's `rotctl -m 2`.

Off until ROTATOR_SERVER is switched on; then, while the mount is connected, it listens on 127.0.0.1 only, at
ROTATOR_SERVER_PORT (4533, rotctld's port, by default), and serves any number of clients, one request at a time, as
rotctld does. The protocol itself is rotctl.py; this part decides what each request does to the mount.

Azimuth and elevation are the antenna's: no refraction, the pointing model applied as for any position. A position
(`P az el`) inside the altitude limits starts, or retargets, *following*: positions arriving every second or so are
taken as samples of a moving target, extrapolated from the last two, and the axes are driven by rates.py's closed
loop four times a second (feed-forward of the target's motion plus a correction of the measured error), so the mount
moves smoothly instead of stopping at each position. A target further off than GOTO_BEYOND_DEG, or one whose short
way round crosses the cord wrap, is reached by a goto first (which goes round the cord wrap), then followed.

Nothing moves unless a client sends a position. A position outside the limits is answered `RPRT -1` and changes
nothing. `S` stops at once. When the client that sent the last position disconnects, following stops after
DISCONNECT_GRACE_S (a client that reconnects in time, or another client's position, keeps it going): the mount never
chases a target nobody sends any more. Switching the server off stops following too.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import trio

from ..indi.part import Handler, Part, Publisher
from ..indi.properties import State, Update, ValidationError
from ..link.errors import LinkError
from . import aux, rates, rotctl
from .mount import AxisAngles, crosses, wrap180, wrap360

LISTEN_HOST = "127.0.0.1"  # never anything else: rotctld has no authentication
INFO = "Celestron NexStar (indi_astrojolo)"  # what `_` (get_info) answers
AZIMUTH_RANGE = (-180.0, 450.0)  # what a client may send, as hamlib's dummy rotator allows (any az type of Gpredict)
FOLLOW_PERIOD = 0.25  # seconds between rate updates while following
STATUS_EVERY = 4  # rate updates between two updates of ROTATOR_STATUS (once a second)
CORRECTION_TIME = 1.0  # seconds over which following takes a measured error out
MAX_CORRECTION = 2.0  # degrees per second at most added to correct an error (an antenna wants to be there soon)
GOTO_BEYOND_DEG = 10.0  # a target further off than this (on either axis) is reached by a goto first
WRAP_LOOKAHEAD_S = 2.0  # a target this close in time to crossing the cord wrap is reached round the other way
GOTO_SPEED_ALLOWANCE = 2.0  # degrees per second assumed for that goto, to aim where the target will be
NEW_TARGET_DEG = 10.0  # two positions further apart than this are a new target, not the motion of one
MAX_SAMPLE_GAP_S = 10.0  # two positions further apart in time say nothing about the target's motion
MAX_EXTRAPOLATION_S = 5.0  # the target is extrapolated at most this long past the last position, then held
DISCONNECT_GRACE_S = 3.0  # following outlives the disconnect of its client by this long
ARRIVED_DEG = 0.02  # a fixed target left by its client is reached once both axes are this close
ALTITUDE_MARGIN = 0.5  # degrees below the lowest allowed altitude at which following stops as unsafe


class Motion(Protocol):
    """What the part asks of the mount's motion (motion.py's MotionControl): the one motion task, rates, gotos."""

    parked: bool

    def altitude_limits(self) -> tuple[float, float]: ...
    def cordwrap(self) -> float | None: ...
    def check_axes_altitude(self, mount: AxisAngles, what: str) -> None: ...
    async def begin_task(
        self, work: Callable[[], Awaitable[None]], what: str, on_end: Callable[[str], None] | None = None
    ) -> None: ...
    async def stop_everything(self) -> None: ...
    async def stop_axes(self) -> None: ...
    async def send_rate(self, axis: int, arcsec_per_s: float) -> None: ...
    async def move_to(self, final: AxisAngles, over_the_top: float | None = None) -> None: ...
    async def park_now(self) -> None: ...


@dataclass(frozen=True)
class AntennaFrame:
    """What the part needs of the mount besides motion, given by the composition root (driver.py)."""

    read_axes: Callable[[], Awaitable[AxisAngles]]  # the mount's axis angles now, read from the encoders
    to_mount: Callable[[float, float], AxisAngles]  # antenna azimuth, elevation → mount axis angles
    to_antenna: Callable[[AxisAngles], tuple[float, float]]  # mount axis angles → antenna azimuth (0…360), elevation
    signs: Callable[[], tuple[int, int]]  # the encoders' direction per axis (a wedge in the south is mirrored)
    max_rate: Callable[[], float]  # degrees per second at most asked of an axis (SAT_SETTINGS.MAX_AXIS_RATE)
    motion_held: Callable[[], str | None]  # why the mount may not move now (a damaged config), if it may not
    show_following: Callable[[bool], None]  # the mount's state while following (tracking, Busy) and after it
    over_the_top: Callable[[], float | None]  # how far past the zenith the altitude axis may go (SAT_FLIP), or None


class AntennaTrack:
    """The target, from the positions clients sent: held at the last one, or moving as the last two say."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float, float]] = []  # (trio time, azimuth, elevation), the last two

    def add(self, when: float, azimuth: float, elevation: float) -> None:
        if self.samples:
            t0, az0, el0 = self.samples[-1]
            far = max(abs(wrap180(azimuth - az0)), abs(elevation - el0)) > NEW_TARGET_DEG
            if far or when - t0 > MAX_SAMPLE_GAP_S:
                self.samples.clear()  # a new target: nothing known of its motion yet
        self.samples = [*self.samples[-1:], (when, azimuth, elevation)]

    def velocity(self) -> tuple[float, float]:
        if len(self.samples) < 2 or self.samples[1][0] <= self.samples[0][0]:
            return 0.0, 0.0
        (t0, az0, el0), (t1, az1, el1) = self.samples
        return wrap180(az1 - az0) / (t1 - t0), (el1 - el0) / (t1 - t0)

    def at(self, when: float) -> tuple[float, float]:
        """Azimuth (0…360) and elevation of the target at trio time `when`."""
        t1, az1, el1 = self.samples[-1]
        ahead = min(max(0.0, when - t1), MAX_EXTRAPOLATION_S)
        rate_az, rate_el = self.velocity()
        return wrap360(az1 + rate_az * ahead), el1 + rate_el * ahead


class Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class RotatorServer(Part):
    def __init__(self, publisher: Publisher, motion: Motion, frame: AntennaFrame) -> None:
        self.publisher = publisher
        self.props = publisher.props
        self.motion = motion
        self.frame = frame
        self.track = AntennaTrack()
        self.following = False
        self.owner: int | None = None  # the client whose position is followed
        self.orphaned_at: float | None = None  # trio time its client disconnected
        self.last_azimuth = 0.0  # as the client sent it (-180…450): positions are answered in its convention
        self.clients = 0
        self._ids = itertools.count(1)
        self._lock = trio.Lock()  # one request at a time, whichever client sent it
        self._scope: trio.CancelScope | None = None
        self._stopped = trio.Event()
        self._stopped.set()
        self._last_refusal = ""
        self.handlers: dict[str, Handler] = {
            "ROTATOR_SERVER": self._on_server,
            "ROTATOR_SERVER_PORT": self._on_port,
        }

    # --- INDI --------------------------------------------------------------------------------------------------

    def enabled(self) -> bool:
        return self.props.switch("ROTATOR_SERVER")["ENABLE"].on

    def port(self) -> int:
        return int(self.props.number("ROTATOR_SERVER_PORT")["PORT"].value)

    async def _on_server(self, update: Update) -> None:
        self.publisher.accept(update, State.IDLE, None if update["ENABLE"] else "rotctld server off")
        await self._restart()

    async def _on_port(self, update: Update) -> None:
        if update["PORT"] != int(update["PORT"]):
            raise ValidationError(f"a TCP port is a whole number, not {update['PORT']:g}")
        self.publisher.accept(update)
        await self._restart()

    async def on_connected(self) -> None:
        if self._scope is None:
            await self._restart()

    def on_disconnected(self) -> None:
        """The server's task ended with the connection's nursery; say so."""
        self._scope = None
        self.following = False

    async def _restart(self) -> None:
        """Stop serving (and following), then serve again if the server is on: a new port takes effect at once."""
        if self._scope is not None:
            self._scope.cancel()
            await self._stopped.wait()
        if self.following:
            await self.motion.stop_everything()
        if self.enabled() and self._connected():
            self._stopped = trio.Event()
            self._scope = trio.CancelScope()
            self.publisher.spawn_connected(self._serve, "The rotctld server")
        elif self._connected() and self.props.switch("ROTATOR_SERVER").state is not State.IDLE:
            self.publisher.update("ROTATOR_SERVER", State.IDLE, "rotctld server off")

    def _connected(self) -> bool:
        return "ROTATOR_SERVER" in self.props.defined

    async def _serve(self) -> None:
        scope, stopped = self._scope, self._stopped
        assert scope is not None
        port = self.port()
        try:
            with scope:
                try:
                    listeners = await trio.open_tcp_listeners(port, host=LISTEN_HOST)
                except OSError as exc:
                    reason = exc.strerror or str(exc)
                    self.publisher.update(
                        "ROTATOR_SERVER", State.ALERT, f"[ERROR] Cannot listen on {LISTEN_HOST}:{port}: {reason}"
                    )
                    return
                self.publisher.update("ROTATOR_SERVER", State.OK, f"rotctld server listening on {LISTEN_HOST}:{port}")
                await trio.serve_listeners(self._client, listeners)
        finally:
            if self._scope is scope:
                self._scope = None
            stopped.set()
            if self._connected() and self.props.switch("ROTATOR_SERVER").state is State.OK:
                self.publisher.update("ROTATOR_SERVER", State.IDLE, "rotctld server stopped")

    # --- clients -----------------------------------------------------------------------------------------------

    async def _client(self, stream: trio.SocketStream) -> None:
        client = next(self._ids)
        self.clients += 1
        self._show_status()
        parser = rotctl.Parser()
        try:
            async with stream:
                while True:
                    data = await stream.receive_some(4096)
                    if not data:
                        return
                    parser.feed(data)
                    for event in parser.events():
                        if isinstance(event, rotctl.Quit):
                            return
                        async with self._lock:
                            answer = await self.answer(event, client)
                        await stream.send_all(answer)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client went away mid-answer: as a disconnect
        finally:
            self.clients -= 1
            if self.owner == client:
                self.orphaned_at = trio.current_time()
            self._show_status()

    async def answer(self, request: rotctl.Request, client: int) -> bytes:
        """The bytes that answer one request."""
        values, error = "", 0
        try:
            match request.entry.name:
                case "set_pos":
                    await self.set_position(request.args, client)
                case "get_pos":
                    values = rotctl.position(request, *await self.antenna_position())
                case "stop":
                    await self.stop()
                case "park":
                    await self.park()
                case "get_info":
                    values = rotctl.info(request, INFO)
                case "dump_state":
                    values = rotctl.state(request, self.limits())
                case _:
                    error = rotctl.ENAVAIL
        except Refused as refused:
            error = refused.code
            if str(refused) != self._last_refusal:  # said once, not for each position a client repeats
                self.publisher.message(
                    f"rotctld: {request.entry.name} {' '.join(request.args)} refused: {refused}", "WARNING"
                )
            self._last_refusal = str(refused)
        except LinkError as exc:
            error = rotctl.ETIMEOUT
            self.publisher.message(f"rotctld: {request.entry.name} failed: {exc}", "WARNING")
        return rotctl.reply(request, values, error)

    def limits(self) -> rotctl.Limits:
        low, high = self.motion.altitude_limits()
        return rotctl.Limits(AZIMUTH_RANGE[0], AZIMUTH_RANGE[1], low, self._highest_elevation(high))

    def _highest_elevation(self, high: float) -> float:
        """The highest elevation a client may send: past 90° when the antenna may go over the top (SAT_FLIP), as
        Gpredict sends a flipped pass to a rotator whose elevation runs to 180° (azimuth + 180°, 180° − elevation)."""
        top = self.frame.over_the_top()
        return high if top is None else max(high, top)

    def _elevation_refusal(self, elevation: float) -> str | None:
        """Why the limits forbid this elevation, or None. Over the top (past 90°) the antenna looks back at
        180° − elevation, which the altitude limits hold."""
        low, high = self.motion.altitude_limits()
        highest = self._highest_elevation(high)
        if not low <= elevation <= highest or (elevation <= 90.0 and elevation > high):
            shown = highest if elevation > 90.0 else high
            return f"elevation {elevation:g}° is outside the altitude limits {low:g}° … {shown:g}°"
        if elevation > 90.0 and not low <= 180.0 - elevation <= high:
            behind = 180.0 - elevation
            return f"elevation {elevation:g}° over the top looks {behind:g}° up, outside {low:g}° … {high:g}°"
        return None

    def _axes_refusal(self, elevation: float, mount: AxisAngles) -> str | None:
        """Why the axes themselves may not go to `mount` (the pointing model left out), or None."""
        if elevation <= 90.0:
            try:
                self.motion.check_axes_altitude(mount, "the position")
            except ValidationError as exc:
                return str(exc)
            return None
        highest = self._highest_elevation(self.motion.altitude_limits()[1])
        if mount.axis2 > highest + ALTITUDE_MARGIN:
            return f"the position needs the altitude axis at {mount.axis2:.2f}°, past the highest allowed {highest:g}°"
        return None

    # --- requests ----------------------------------------------------------------------------------------------

    async def set_position(self, args: tuple[str, ...], client: int) -> None:
        azimuth, elevation = (rotctl.read_degrees(arg) for arg in (*args, "", "")[:2])  # `P ?` has one word
        if azimuth is None or elevation is None:
            raise Refused(rotctl.EINVAL, "azimuth and elevation must be numbers (degrees)")
        if not AZIMUTH_RANGE[0] <= azimuth <= AZIMUTH_RANGE[1]:
            raise Refused(
                rotctl.EINVAL, f"azimuth {azimuth:g}° is outside {AZIMUTH_RANGE[0]:g}° … {AZIMUTH_RANGE[1]:g}°"
            )
        refusal = self._elevation_refusal(elevation)
        if refusal is not None:
            raise Refused(rotctl.EINVAL, refusal)
        held = self.frame.motion_held()
        if held is not None:
            raise Refused(rotctl.ERJCTED, f"motion is held: {held}")
        if self.motion.parked:
            raise Refused(rotctl.ERJCTED, "the mount is parked; unpark it first")
        refusal = self._axes_refusal(elevation, self.frame.to_mount(azimuth, elevation))
        if refusal is not None:
            raise Refused(rotctl.EINVAL, refusal)
        self._last_refusal = ""
        self.last_azimuth = azimuth
        self.track.add(trio.current_time(), wrap360(azimuth), elevation)
        self.owner, self.orphaned_at = client, None
        if not self.following:
            self.following = True
            await self.motion.begin_task(self._follow, "Rotator following", self._ended)

    async def antenna_position(self) -> tuple[float, float]:
        """Where the antenna points, its azimuth given in the convention of the client's last position (a client
        that sent 400° reads 400°, not 40°)."""
        measured = await self.frame.read_axes()
        azimuth, elevation = self.frame.to_antenna(measured)
        if measured.axis2 > 90.0:  # over the top: read as a rotator whose elevation runs to 180° reads
            azimuth, elevation = wrap360(azimuth + 180.0), 180.0 - elevation
        turns = round((self.last_azimuth - azimuth) / 360.0)
        shown = azimuth + 360.0 * turns
        if not AZIMUTH_RANGE[0] <= shown <= AZIMUTH_RANGE[1]:
            shown = azimuth
        return shown, elevation

    async def stop(self) -> None:
        self.owner = None
        await self.motion.stop_everything()

    async def park(self) -> None:
        if self.frame.motion_held() is not None:
            raise Refused(rotctl.ERJCTED, f"motion is held: {self.frame.motion_held()}")
        if self.motion.parked:
            return
        self.owner = None
        await self.motion.begin_task(self.motion.park_now, "Parking")

    # --- following ---------------------------------------------------------------------------------------------

    def _ended(self, outcome: str) -> None:
        self.following = False
        self.owner = None
        self._show_status(State.ALERT if outcome == "failed" else State.IDLE)

    def _ending(self, measured: AxisAngles, now: float) -> str | None:
        """Why following ends now, if it does: the client that sent the target has gone (for DISCONNECT_GRACE_S).

        A moving target is then dropped at once: nobody sends it any more, so it is not chased. A fixed one (`rotctl
        P 120 30` sends one position and goes) is still reached, as a rotator would reach it, then the axes rest."""
        if self.orphaned_at is None or now - self.orphaned_at < DISCONNECT_GRACE_S:
            return None
        if self.track.velocity() != (0.0, 0.0):
            return f"the client went away {DISCONNECT_GRACE_S:g} s ago; following stopped"
        target = self._mount_target(now)
        if max(abs(wrap180(target.axis1 - measured.axis1)), abs(target.axis2 - measured.axis2)) < ARRIVED_DEG:
            return "at the last position sent, by a client that has gone; the axes rest"
        return None

    async def _follow(self) -> None:
        motion, frame = self.motion, self.frame
        frame.show_following(True)
        wrap = motion.cordwrap()
        low = motion.altitude_limits()[0]
        next_tick = trio.current_time()
        ticks = 0
        previous_elevation = -math.inf  # nothing to compare the first reading with
        while True:
            measured = await frame.read_axes()
            now = trio.current_time()
            ending = self._ending(measured, now)
            if ending is not None:
                break
            _, elevation_now = frame.to_antenna(measured)
            # Below the limit and going further down (not climbing back in from a home or park position below it).
            if elevation_now < low - ALTITUDE_MARGIN and elevation_now < previous_elevation - 0.01:
                raise ValidationError(
                    f"the antenna reached elevation {elevation_now:.2f}°, below the lowest allowed {low:g}°"
                )
            previous_elevation = elevation_now
            wanted = self._mount_target(now)
            turn = wrap180(wanted.axis1 - measured.axis1)
            far = max(abs(turn), abs(wanted.axis2 - measured.axis2)) > GOTO_BEYOND_DEG
            # Where the target will be a little later decides whether to go round: by the time it is across the
            # cord wrap, the axis following it would be on it.
            later = self._mount_target(now + WRAP_LOOKAHEAD_S)
            later_turn = wrap180(later.axis1 - measured.axis1)
            round_the_wrap = wrap is not None and crosses(measured.axis1, later_turn, wrap)
            if far or round_the_wrap:
                travel = 360.0 - abs(later_turn) if round_the_wrap else abs(turn)
                distance = max(travel, abs(wanted.axis2 - measured.axis2))
                await motion.move_to(
                    self._mount_target(now + distance / GOTO_SPEED_ALLOWANCE + 2.0), self.frame.over_the_top()
                )
                next_tick = trio.current_time()
                continue
            ahead = self._mount_target(now + FOLLOW_PERIOD)
            axes = rates.closed_loop(
                wanted, ahead, FOLLOW_PERIOD, measured,
                correction_time_s=CORRECTION_TIME, max_correction=MAX_CORRECTION, max_rate=frame.max_rate(),
            )  # fmt: skip
            for axis, sign, law in zip((aux.Device.AZM, aux.Device.ALT), frame.signs(), axes):
                await motion.send_rate(axis, sign * law.rate * 3600.0)
            ticks += 1
            if ticks % STATUS_EVERY == 0:
                self._show_status(
                    State.BUSY, math.hypot(axes[0].error * math.cos(math.radians(wanted.axis2)), axes[1].error)
                )
            next_tick += FOLLOW_PERIOD
            await trio.sleep_until(max(next_tick, trio.current_time()))
        self.publisher.message(f"rotctld: {ending}")
        await motion.stop_axes()
        frame.show_following(False)

    def _mount_target(self, when: float) -> AxisAngles:
        """The target at trio time `when` as mount axis angles, its elevation kept within the altitude limits (over
        the top, within what the limits and the highest angle allowed leave of it)."""
        low, high = self.motion.altitude_limits()
        azimuth, elevation = self.track.at(when)
        if elevation > 90.0:
            kept = min(self._highest_elevation(high), 180.0 - low, max(180.0 - high, elevation))
        else:
            kept = min(high, max(low, elevation))
        return self.frame.to_mount(azimuth, kept)

    def _show_status(self, state: State | None = None, error: float | None = None) -> None:
        if not self._connected():
            return
        status = self.props.number("ROTATOR_STATUS")
        status["CLIENTS"].value = self.clients
        if self.track.samples:
            _, azimuth, elevation = self.track.samples[-1]
            status["TARGET_AZ"].value, status["TARGET_EL"].value = azimuth, elevation
        if error is not None:
            status["ERROR"].value = error
        self.publisher.update(status.name, state)
