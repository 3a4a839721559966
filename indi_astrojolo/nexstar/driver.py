"""INDI policy for a NexStar mount driven straight over the AUX bus: the link, the bus scan, the site and clock, the
position poll, sync and the pointing model, and the mount's settings. Motion (goto, tracking, manual moves, park,
home) is in motion.py; guide pulses are the Guider interface (indi/interfaces/guider.py) over guiding.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from ..files import StoreProblem, indi_home
from ..indi import config
from ..indi.device import Device
from ..indi.interfaces.guider import Guider
from ..indi.part import Declared, Guard, Handler
from ..indi.properties import State, Update, ValidationError
from ..indi.xmlstream import format_timestamp, parse_timestamp
from ..link.errors import LinkError, LinkTimeout
from ..link.framing import AuxFramer, AuxPacket, PassthroughFramer
from ..link.session import LinkCounters, RequestSession, open_session
from ..link.transports import SerialTransport, Transport, memory_pair
from . import astrometry as astro
from . import aux
from .alignment_pointset import AlignmentPointSet
from .aux import Command
from .focuser import BusFocuser, simulated_focuser
from .guiding import NexStarGuiding
from .motion import MotionControl, Phase
from .mount import (
    AxisAngles,
    Geometry,
    PointingModel,
    PointingStore,
    SyncPoint,
    angular_separation,
    axis1_sign,
    axis2_sign,
    encoders_to_angles,
    fit_model,
    model_rms_arcsec,
    wrap180,
    wrap360,
)
from .rotator import AntennaFrame, RotatorServer
from .satellite import SatelliteTracker
from .snooping import SnoopedDevices

if TYPE_CHECKING:
    from .emulator import NexStarEmulator

REPLY_TIMEOUT = 0.8
PASSTHROUGH_TIMEOUT = 3.5  # the hand controller retries internally before it answers
RETRIES = 2
SCAN_TIMEOUT = 0.25  # an absent device never answers; do not wait long for it
# Everything on the bus but the two motor controllers: the focuser first (it decides what the device offers), then
# the GPS (it gives the site), then the rest, shown for information.
ACCESSORIES = (aux.Device.FOCUSER, aux.Device.GPS) + tuple(
    device for device in aux.SCAN_ORDER[2:] if device not in (aux.Device.FOCUSER, aux.Device.GPS)
)
SCANNING = "scanning the bus…"
HC_BAUD = 9600
AUX_BAUD = 19200
# TIME_UTC carries whole seconds, truncated, and reaches the driver after some transit: the system clock is that
# far ahead of it when both are right. Within this window the (finer) system clock is kept.
CLIENT_TIME_AGREES_S = (-1.0, 2.5)
# A client and the system clock further apart than this are not truncation or transit: one of them is wrong, and the
# user is told which one the driver goes by.
CLOCKS_DISAGREE_S = 60.0
# A weather device's reading older than this no longer counts for refraction: the standard atmosphere stands in.
AMBIENT_MAX_AGE_S = 600.0


# AZM commands that set the axis moving: the controller's cord-wrap settings are brought in line before the first of
# them (never at connect, never before a stop, which carries zero data and must not wait).
# Guide pulses (AUX_GUIDE) are left out: they move a few arcseconds and must leave on time.
MOTION_COMMANDS = frozenset({
    Command.GOTO_FAST, Command.GOTO_SLOW, Command.MOVE_POS, Command.MOVE_NEG, Command.SET_POS_GUIDERATE,
    Command.SET_NEG_GUIDERATE, Command.SEEK_INDEX,
})  # fmt: skip


class ConnectError(LinkError):
    pass


def describe_duration(seconds: float) -> str:
    """A time difference in words a user checks a clock with: "3 h 00 min 05 s", "366 d 2 h 00 min 00 s"."""
    whole = int(round(abs(seconds)))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours} h {minutes:02d} min {secs:02d} s"
    return f"{days} d {text}" if days else text


def clock_disagreement(client_unix: float, system_unix: float) -> str:
    """The warning for a client's TIME_UTC far from the system clock: both times, the difference, the one used.

    The client's time is the one used: Ekos sends KStars's clock, which the user sees and sets, while the system clock
    of a Raspberry Pi without a real-time clock or network starts wherever it stopped (README, Site and time)."""

    def utc(unix: float) -> str:
        return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    difference = client_unix - system_unix
    direction = "ahead of" if difference > 0 else "behind"
    text = (
        f"The client's time {utc(client_unix)} is {describe_duration(difference)} {direction} this computer's clock "
        f"({utc(system_unix)}); the driver uses the client's time."
    )
    hours = abs(difference) / 3600.0
    if hours <= 14.5 and abs(hours - round(hours * 2) / 2) * 3600.0 < 60.0:
        text += (
            " A difference of whole or half hours looks like a local time sent as UTC: check the client's time zone."
        )
    return text + " If the client's clock is the wrong one, correct it and send TIME_UTC again."


# The requests that move the mount, each with what makes it a move (stopping, syncing and unparking never move).
MOTION_REQUESTS: dict[str, Callable[[Update, NexStarDriver], bool]] = {
    "EQUATORIAL_EOD_COORD": lambda update, driver: driver.props.switch("ON_COORD_SET").selected() != "SYNC",
    "HORIZONTAL_COORD": lambda update, driver: driver.props.switch("ON_COORD_SET").selected() != "SYNC",
    "TELESCOPE_TRACK_STATE": lambda update, driver: bool(update.values.get("TRACK_ON")),
    "TELESCOPE_PARK": lambda update, driver: bool(update.values.get("PARK")),
    "TELESCOPE_HOME": lambda update, driver: any(update.values.values()),
    "TELESCOPE_MOTION_NS": lambda update, driver: any(update.values.values()),
    "TELESCOPE_MOTION_WE": lambda update, driver: any(update.values.values()),
    "TELESCOPE_TIMED_GUIDE_NS": lambda update, driver: any(value > 0 for value in update.values.values()),
    "TELESCOPE_TIMED_GUIDE_WE": lambda update, driver: any(value > 0 for value in update.values.values()),
    "SAT_TRACKING_STAT": lambda update, driver: bool(update.values.get("SAT_TRACK")),
}


class NexStarDriver(Device):
    focuser_names: tuple[str, ...] = ()  # the focuser's properties offered while connected (focuser.py)
    ignored_packets = "other packets"  # the AUX bus carries the other devices' traffic too
    notify_thresholds = {  # 0.1″ (libindi's EQ_NOTIFY_THRESHOLD) and one encoder step
        "EQUATORIAL_EOD_COORD": {"RA": 0.1 / 15 / 3600, "DEC": 0.1 / 3600},
        "HORIZONTAL_COORD": {"AZ": 0.1 / 3600, "ALT": 0.1 / 3600},
        "TELESCOPE_ENCODER_STEPS": {"AXIS_AZ": 0.5, "AXIS_ALT": 0.5},
    }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.session: RequestSession[AuxPacket] | None = None
        self.framer: AuxFramer | PassthroughFramer = AuxFramer()
        self.simulator: NexStarEmulator | None = None
        self.echo = True
        self.passthrough = False
        self.versions: dict[int, aux.Version] = {}
        self.encoders: tuple[int, int] | None = None
        self.position_stale = False  # the last reading of the encoders failed: what is shown is not live
        self.encoders_time = 0.0
        self.model = PointingModel()
        self.pointing: PointingStore | None = None
        self.clock_offset = 0.0  # seconds added to the system clock (from the client's TIME_UTC)
        # What the azimuth controller holds for the cord wrap, (enabled, position steps); None where unknown (not
        # read, or not readable). Written only before motion and only where it differs from what is wanted.
        self.controller_cordwrap: tuple[bool | None, int | None] = (None, None)
        self._cordwrap_write_failed: tuple[bool, int] | None = None  # said once, not at every tracking step
        self.trio_origin: float | None = None  # anchored inside trio (the driver object is built before trio runs)
        self.unix_origin = time.time()
        self.ambient: astro.Ambient | None = None  # the last reading of a weather device (set_ambient)
        self.ambient_time = 0.0
        # Guide pulses and the motion control ask each other only what they need: motion ends the pulses at an
        # abort; a pulse asks motion for the park state, the phase and the tracked target, which moves with it.
        # During a satellite pass the motion buttons move the aim along and across the track, not the axes.
        self.motion = MotionControl(
            self,
            stop_pulses=lambda: self.guiding.stop_pulses(),
            nudge_pass=lambda update: self.satellites.nudge(update),
        )
        self.guiding = NexStarGuiding(
            self,
            self.transact,
            parked=lambda: self.motion.parked,
            following_satellite=lambda: self.motion.phase is Phase.SATELLITE,
            asked_to_move=self.motion.asked_to_move,
            sky_now=self.motion.sky_now,
            shift_target=self.motion.shift_target,
            hold_tracking=self.motion.hold_tracking,
            running_rate=self.motion.running_rate,
            send_rate=self.motion.send_rate,
            places_to_mount_axes=self.places_to_mount_axes,
            geometry=self.geometry,
            southern=self.southern,
        )
        self.guider = Guider(self, self.guiding)  # libindi's GuiderInterface: the guide pulse properties
        self.satellites = SatelliteTracker(self)
        self.focuser = BusFocuser(self)
        self.rotator = RotatorServer(
            self,
            self.motion,
            AntennaFrame(
                read_axes=self._read_mount_axes,
                to_mount=self.antenna_to_mount,
                to_antenna=self.mount_to_antenna,
                signs=self._axis_signs,
                max_rate=lambda: self.props.number("SAT_SETTINGS")["MAX_AXIS_RATE"].value,
                motion_held=self._rotator_motion_held,
                show_following=lambda on: self.motion.set_phase(Phase.SATELLITE if on else Phase.IDLE),
                over_the_top=lambda: self.satellites.over_the_top(),
            ),
        )
        self.polls = 0
        if self.props.switch("PORT_TYPE")["PORT_HC_USB"].on:
            self._show_port_speed()  # a saved config may pair the hand controller with another speed
        slew_rates = self.props.switch("TELESCOPE_SLEW_RATE")
        for rate in aux.MOVE_RATES:  # what each rate does, from the one table of them
            slew_rates[f"{rate.level}x"].label = rate.label
        mount_settings = Declared(
            "NexStarDriver (site, time, pointing model and mount settings)",
            {
                "GEOGRAPHIC_COORD": self._on_location,
                "TIME_UTC": self._on_time,
                "POINTING_CLEAR": self._on_pointing_clear,
                "ALTITUDE_LIMITS": self._on_altitude_limits,
                "ATMOSPHERIC_REFRACTION": self._on_refraction,
                "DUT1": self._on_dut1,
                "CORDWRAP": self._on_cordwrap,
                "CORDWRAP_POS": self._on_cordwrap,
                "MOTOR_BACKLASH": self._on_backlash,
                "PORT_TYPE": self._on_port_type,
                "MOUNT_GEOMETRY": self._on_connection_setting,
                "SIMULATION_GOTO_SPEED": self._on_simulation_goto_speed,
            },
        )
        self.limits_unconfirmed: str | None = None  # why motion is held until the user confirms the limits

        # libindi's alignment-subsystem point set over the pointing model, for Ekos's Clear Model.
        self.alignment_pointset = AlignmentPointSet(self)

        # Other devices followed through indiserver: a GPS, a dome, a weather device (snooping.py).
        self.snooped = SnoopedDevices(self)
        self.snooper = self.snooped.snooper

        self.wire(
            mount_settings,
            self.motion,
            self.guider,
            self.guiding,
            self.satellites,
            self.rotator,
            self.focuser,
            self.focuser.interface,
            self.alignment_pointset,
            self.snooped,
            guards=[  # a later guard is asked first: a locking dome, then the limits, then a calibrating focuser
                Guard("BusFocuser (no move while calibrating)", self.focuser.guards()),
                Guard("NexStarDriver (motion held until the limits are confirmed)", self._limit_guards()),
                Guard("SnoopedDevices (the dome policy)", self.snooped.guards()),
            ],
        )

    def connected_property_names(self) -> list[str]:
        return super().connected_property_names() + list(self.focuser_names)

    # --- limits after a damaged config ------------------------------------------------------------------------

    def config_damaged(self, loaded: config.ConfigFile) -> None:
        """The altitude limits and the cord wrap may not be the user's any more (an entry lost, or the defaults):
        the mount does not move until the user has looked at them and set ALTITUDE_LIMITS, even unchanged."""
        self.limits_unconfirmed = (
            f"the saved configuration {loaded.path.name} was damaged, so the altitude limits and the cord wrap may "
            "not be the ones you set; check them, then set the altitude limits (even unchanged) to allow motion"
        )
        self.update("ALTITUDE_LIMITS", State.ALERT, f"[WARNING] Motion is held: {self.limits_unconfirmed}")

    def _limit_guards(self) -> dict[str, Callable[[Handler], Handler]]:
        held = self._held_while_limits_unconfirmed
        return {name: partial(held, moves=moves) for name, moves in MOTION_REQUESTS.items()}

    def _axis_signs(self) -> tuple[int, int]:
        geometry, southern = self.geometry(), self.southern()
        return axis1_sign(geometry, southern), axis2_sign(geometry, southern)

    def _rotator_motion_held(self) -> str | None:
        """Why the rotator endpoint may not move the mount now: what the guards below say to INDI requests."""
        if self.limits_unconfirmed is not None:
            return self.limits_unconfirmed
        if self.snooped.locks():
            return f"the dome {self.snooped.active('ACTIVE_DOME')} is parked and the dome policy is Dome locks"
        return None

    def _held_while_limits_unconfirmed(
        self, handler: Handler, moves: Callable[[Update, NexStarDriver], bool]
    ) -> Handler:
        async def guarded(update: Update) -> None:
            if self.limits_unconfirmed is not None and moves(update, self):
                raise ValidationError(f"motion is held: {self.limits_unconfirmed}")
            await handler(update)

        return guarded

    # --- time and site ---------------------------------------------------------------------------------------

    def anchor_clock(self) -> None:
        self.trio_origin, self.unix_origin = trio.current_time(), time.time()

    def now_unix(self) -> float:
        """UTC now as Unix time: trio's clock (so fake clocks drive whole nights in tests) plus the client's offset."""
        if self.trio_origin is None:
            self.anchor_clock()
        assert self.trio_origin is not None
        return self.unix_origin + (trio.current_time() - self.trio_origin) + self.clock_offset

    def instant(self, offset_s: float = 0.0) -> astro.Instant:
        return astro.Instant.from_unix(self.now_unix() + offset_s, self.props.number("DUT1")["DUT1"].value)

    def site(self) -> astro.Site:
        geo = self.props.number("GEOGRAPHIC_COORD")
        return astro.Site(geo["LAT"].value, geo["LONG"].value, geo["ELEV"].value)

    def southern(self) -> bool:
        return self.props.number("GEOGRAPHIC_COORD")["LAT"].value < 0

    def geometry(self) -> Geometry:
        return Geometry.EQ_WEDGE if self.props.switch("MOUNT_GEOMETRY")["EQ_WEDGE"].on else Geometry.ALTAZ

    def weather(self) -> astro.Weather | None:
        """The conditions refraction is computed with; None when refraction is off."""
        return self.refraction()[0] if self.props.switch("ATMOSPHERIC_REFRACTION")["INDI_ENABLED"].on else None

    def refraction(self) -> tuple[astro.Weather, str]:
        """Refraction's temperature, pressure and humidity, and their source in words: a weather device's fresh
        reading where it has one, otherwise the standard atmosphere at the site's elevation."""
        elevation = self.props.number("GEOGRAPHIC_COORD")["ELEV"].value
        fresh = self.ambient is not None and trio.current_time() - self.ambient_time <= AMBIENT_MAX_AGE_S
        weather, source = astro.refraction_conditions(elevation, self.ambient if fresh else None)
        if self.ambient is not None and not fresh:
            source += f" (the last reading of {self.ambient.source} is over {AMBIENT_MAX_AGE_S / 60:g} min old)"
        return weather, source

    def set_ambient(self, ambient: astro.Ambient | None) -> None:
        """A weather device's reading for refraction (None: it has gone). The hook a snooped weather device
        (ACTIVE_WEATHER) feeds; readings older than AMBIENT_MAX_AGE_S are not used."""
        self.ambient = ambient
        self.ambient_time = trio.current_time()
        self.show_refraction()

    def show_refraction(self) -> None:
        """REFRACTION_CONDITIONS and REFRACTION_SOURCE: what refraction uses now (sent only when it changes)."""
        weather, source = self.refraction()
        enabled = self.props.switch("ATMOSPHERIC_REFRACTION")["INDI_ENABLED"].on
        if not enabled:
            source = f"refraction is off; when on: {source}"
        values = {
            "TEMPERATURE": weather.temperature_c,
            "PRESSURE": weather.pressure_hpa,
            "HUMIDITY": weather.relative_humidity * 100.0,
        }
        state = State.OK if enabled and source.startswith("weather device") else State.IDLE
        conditions, text = self.props.number("REFRACTION_CONDITIONS"), self.props.text("REFRACTION_SOURCE")
        if conditions.values() == values and text["SOURCE"].value == source and conditions.state is state:
            return
        conditions.apply(values)
        text["SOURCE"].value = source
        self.update(conditions.name, state)
        self.update(text.name, state)

    async def _on_dut1(self, update: Update) -> None:
        self.accept(update)  # every later instant carries it (instant()); the position shown follows at once
        self.show_position()

    async def _on_refraction(self, update: Update) -> None:
        self.accept(update)
        self.show_position()
        self.show_refraction()

    # --- sky ⇄ axes ------------------------------------------------------------------------------------------

    def sky_to_ideal_axes(
        self, ra_hours: float, dec_degrees: float, offset_s: float = 0.0, when: astro.Instant | None = None
    ) -> AxisAngles:
        """Where the axes of a perfect mount point for an apparent RA/Dec (before the pointing model), now + offset_s
        or at `when`."""
        when = when if when is not None else self.instant(offset_s)
        if self.geometry() is Geometry.EQ_WEDGE:
            hour_angle, dec = astro.apparent_to_hour_angle(ra_hours, dec_degrees, when, self.site(), self.weather())
            return AxisAngles(hour_angle * 15.0, dec)
        horizontal = astro.apparent_to_horizontal(ra_hours, dec_degrees, when, self.site(), self.weather())
        return AxisAngles(horizontal.azimuth, horizontal.altitude)

    def ideal_axes_to_sky(
        self, ideal: AxisAngles, offset_s: float = 0.0, when: astro.Instant | None = None
    ) -> tuple[float, float]:
        when = when if when is not None else self.instant(offset_s)
        if self.geometry() is Geometry.EQ_WEDGE:
            return astro.hour_angle_to_apparent(
                wrap180(ideal.axis1) / 15.0, ideal.axis2, when, self.site(), self.weather()
            )
        return astro.horizontal_to_apparent(wrap360(ideal.axis1), ideal.axis2, when, self.site(), self.weather())

    def places_to_mount_axes(self, places: Sequence[tuple[float, float]]) -> list[AxisAngles]:
        """Several apparent places as mount axes at one instant: their differences carry none of the sky's turning
        between two conversions (milliseconds on a loaded machine, a percent of a guide pulse)."""
        when = self.instant()
        return [self.model.to_mount(self.sky_to_ideal_axes(ra, dec, when=when)) for ra, dec in places]

    def mount_axes(self, azm_steps: int, alt_steps: int) -> AxisAngles:
        return encoders_to_angles(azm_steps, alt_steps, self.geometry(), self.southern())

    def antenna_to_mount(self, azimuth: float, elevation: float) -> AxisAngles:
        """Mount axis angles that point an antenna at azimuth/elevation: no refraction, the pointing model applied."""
        if self.geometry() is Geometry.ALTAZ:
            ideal = AxisAngles(wrap360(azimuth), elevation)
        else:
            when, site = self.instant(), self.site()
            ra, dec = astro.horizontal_to_apparent(wrap360(azimuth), elevation, when, site, None)
            hour_angle, dec = astro.apparent_to_hour_angle(ra, dec, when, site, None)
            ideal = AxisAngles(hour_angle * 15.0, dec)
        return self.model.to_mount(ideal)

    def mount_to_antenna(self, mount: AxisAngles) -> tuple[float, float]:
        """The azimuth (0…360) and elevation an antenna on the mount points at, no refraction."""
        ideal = self.model.to_sky(mount)
        if self.geometry() is Geometry.ALTAZ:
            return wrap360(ideal.axis1), ideal.axis2
        when, site = self.instant(), self.site()
        ra, dec = astro.hour_angle_to_apparent(wrap180(ideal.axis1) / 15.0, ideal.axis2, when, site, None)
        horizontal = astro.apparent_to_horizontal(ra, dec, when, site, None)
        return horizontal.azimuth, horizontal.altitude

    async def _read_mount_axes(self) -> AxisAngles:
        return self.mount_axes(*await self.read_encoders())

    def altitude_of(self, ideal: AxisAngles) -> float:
        """The altitude of a direction given as ideal axis angles (what the limits apply to)."""
        if self.geometry() is Geometry.ALTAZ:
            return ideal.axis2
        ra, dec = self.ideal_axes_to_sky(ideal)
        return astro.apparent_to_horizontal(ra, dec, self.instant(), self.site(), self.weather()).altitude

    # --- link ------------------------------------------------------------------------------------------------

    async def open_simulator(self) -> Transport:
        from .emulator import MountConfig, NexStarEmulator, serve  # only a simulating driver needs it

        if self.simulator is None:
            site = self.props.number("GEOGRAPHIC_COORD")
            fast = self.props.number("SIMULATION_GOTO_SPEED")["FAST"].value
            config = MountConfig(gps=False, passthrough=self.passthrough, goto_fast_deg_per_s=fast)
            self.simulator = NexStarEmulator(config, now=trio.current_time())
            self.simulator.site = (site["LAT"].value, site["LONG"].value)
        simulated_focuser(self.simulator, self.focuser.simulation_wanted(), trio.current_time())
        transport, device_side = memory_pair("simulated NexStar mount")
        assert self.connection_nursery is not None
        self.connection_nursery.start_soon(serve, self.simulator, device_side)
        return transport

    async def _on_simulation_goto_speed(self, update: Update) -> None:
        self.accept(update)
        if self.simulator is not None:  # the next goto of the running simulation already uses it
            self.simulator.config.goto_fast_deg_per_s = update["FAST"]

    def baud_rate(self) -> int:
        return HC_BAUD if self.passthrough else super().baud_rate()

    def _show_port_speed(self) -> None:
        """DEVICE_BAUD_RATE shows the speed the chosen port type runs at: the hand controller's passthrough only
        knows 9600; the AUX/PC port runs at 19200."""
        port_speed = str(HC_BAUD if self.props.switch("PORT_TYPE")["PORT_HC_USB"].on else AUX_BAUD)
        baud = self.props.switch("DEVICE_BAUD_RATE")
        if baud.selected() != port_speed:
            baud.select(port_speed)
            self.update(baud.name, State.OK)

    async def _on_port_type(self, update: Update) -> None:
        changed = bool(update.changed())
        await self._on_connection_setting(update)
        if changed or update["PORT_HC_USB"]:
            self._show_port_speed()

    async def _on_baud_rate(self, update: Update) -> None:
        chosen = next((name for name, on in update.values.items() if on), None)
        if self.props.switch("PORT_TYPE")["PORT_HC_USB"].on and chosen not in (None, str(HC_BAUD)):
            raise ValidationError(
                f"the hand controller's passthrough runs at {HC_BAUD} baud only, not {chosen}; "
                f"choose the AUX/PC port type for {AUX_BAUD}"
            )
        await self._on_connection_setting(update)

    async def open_serial(self, path: str, baud_rate: int) -> Transport:
        return await SerialTransport.open(path, baud_rate, select_line=not self.passthrough)

    async def transact(
        self,
        dst: int,
        cmd: int,
        data: bytes = b"",
        *,
        timeout: float | None = None,
        retries: int | None = None,
        send_by: float | None = None,
    ) -> AuxPacket:
        """One AUX transaction: the reply from `dst` to our request (its echo is taken out by the framer).

        `send_by` (trio time): give the request up if it cannot be sent by then (RequestSession.request)."""
        if self.session is None:
            raise LinkError("not connected")
        if dst == aux.Device.AZM and cmd in MOTION_COMMANDS and any(data):
            await self._write_cordwrap_if_needed()
        packet = aux.request(dst, cmd, data)
        if self.passthrough:
            assert isinstance(self.framer, PassthroughFramer)
            size = aux.passthrough_response_size(dst, cmd)
            framer = self.framer
            frame = aux.encode_passthrough(packet, size)

            def before_passthrough_send(_: bytes) -> None:
                self.motion.check_command(dst, cmd, data)
                framer.expect(dst, cmd, size)

            timeout = PASSTHROUGH_TIMEOUT if timeout is None else max(timeout, PASSTHROUGH_TIMEOUT)
            # the hand controller says at once when a device does not answer (an F0 reply here), so an absent
            # device costs one round trip, not this timeout
            return await self.session.request(
                frame,
                aux.reply_matcher(packet),
                timeout=timeout,
                retries=retries,
                before_send=before_passthrough_send,
                send_by=send_by,
            )
        frame = packet.encode()
        expect_echo = self.framer.expect_echo if self.echo and isinstance(self.framer, AuxFramer) else None

        def before_send(payload: bytes) -> None:
            self.motion.check_command(dst, cmd, data)  # under the link's lock: after an abort, stops only
            if expect_echo is not None:
                expect_echo(payload)

        return await self.session.request(
            frame, aux.reply_matcher(packet), timeout=timeout, retries=retries, before_send=before_send, send_by=send_by
        )

    @asynccontextmanager
    async def open_device(self) -> AsyncIterator[None]:
        tcp = self.props.switch("CONNECTION_MODE").selected() == "CONNECTION_TCP"
        self.passthrough = self.props.switch("PORT_TYPE")["PORT_HC_USB"].on and not tcp and not self.simulation()
        self.echo = not self.passthrough
        self.framer = PassthroughFramer() if self.passthrough else AuxFramer()
        if self.trio_origin is None:
            self.anchor_clock()
        async with open_session(
            self.framer,
            self.open_transport,
            timeout=REPLY_TIMEOUT,
            retries=RETRIES,
            name=self.name,
            render=aux.render,
        ) as session:
            self.session = session
            session.on_unsolicited = self._unsolicited
            try:
                await self._identify_motors()
                await self._scan_for(aux.Device.FOCUSER)  # its presence decides which properties are defined
                self._note_bus_devices(done=False)  # the others are scanned once the connection is Ok
                await self.focuser.connect()
                await self._read_settings()
                await self._read_cordwrap()
                await self.read_encoders()
                self._load_pointing()
                await self.motion.restore_park()
                self._show_driver_clock()
                yield
            finally:
                self.session = None

    def _unsolicited(self, packet: AuxPacket) -> None:
        if packet.dst == aux.Device.APP and packet.cmd == Command.SEND_WARNING and packet.data[:1] == b"\x01":
            axis = aux.DEVICE_NAMES.get(packet.src, hex(packet.src))
            self.message(f"The {axis} controller stopped the axis at its slew limit", "WARNING")
        elif (
            packet.dst in (aux.Device.AZM, aux.Device.ALT)
            and packet.src != aux.Device.APP
            and packet.cmd in aux.AXIS_COMMANDS
        ):
            self.motion.foreign_command(packet)

    async def _identify_motors(self) -> None:
        """Both motor controllers must answer, or there is no mount to drive."""
        self.versions.clear()
        for motor in (aux.Device.AZM, aux.Device.ALT):
            try:
                reply = await self.transact(motor, Command.GET_VERSION)
            except LinkTimeout:
                raise ConnectError(
                    f"the {aux.DEVICE_NAMES[motor]} controller (0x{motor:02X}) does not answer: "
                    "cannot work without both motor controllers"
                ) from None
            self.versions[motor] = aux.decode_version(reply.data)
        number, model = aux.decode_model((await self.transact(aux.Device.AZM, Command.GET_MODEL)).data)
        info = self.props.text("MOUNT_INFO")
        info["MODEL"].value = model
        info["AZM_VERSION"].value = str(self.versions[aux.Device.AZM])
        info["ALT_VERSION"].value = str(self.versions[aux.Device.ALT])
        self.message(
            f"Found {model} (model {number}); motor controllers {self.versions[aux.Device.AZM]} / "
            f"{self.versions[aux.Device.ALT]}"
        )
        mount_type = self.props.switch("TELESCOPE_MOUNT_TYPE")
        mount_type.select("EQ_FORK" if self.geometry() is Geometry.EQ_WEDGE else "ALTAZ")

    async def _scan_for(self, device: int) -> bool:
        """Ask one accessory for its version; an absent one costs SCAN_TIMEOUT."""
        try:
            reply = await self.transact(device, Command.GET_VERSION, timeout=SCAN_TIMEOUT, retries=0)
            self.versions[device] = aux.decode_version(reply.data)
        except LinkError:
            return False  # absent (or, through a hand controller, reported as not answering)
        return True

    def _note_bus_devices(self, *, done: bool) -> None:
        """MOUNT_INFO's accessories so far; Busy while the scan goes on (sent by the caller once defined)."""
        others = [
            f"{aux.DEVICE_NAMES[device]} {self.versions[device]}" for device in ACCESSORIES if device in self.versions
        ]
        info = self.props.text("MOUNT_INFO")
        info["BUS_DEVICES"].value = ", ".join(others) or ("none" if done else SCANNING)
        info.state = State.OK if done else State.BUSY

    async def _scan_accessories(self) -> None:
        """After CONNECTION is Ok (each absent accessory costs SCAN_TIMEOUT, and only the focuser changes what the
        device offers): each one is shown as it answers, MOUNT_INFO Busy until the last has had its chance."""
        for device in ACCESSORIES:
            if device == aux.Device.FOCUSER:
                continue  # scanned before the connection was Ok
            if await self._scan_for(device):
                self._note_bus_devices(done=False)
                self.update("MOUNT_INFO")
                if device == aux.Device.GPS:
                    await self._read_gps()  # after the saved config is applied: a live fix wins over a saved site
                    await self.snooped.on_connected()  # a GPS on indiserver keeps the last word, as it did before
        self._note_bus_devices(done=True)
        self.update("MOUNT_INFO")
        self.message(f"Other devices on the bus: {self.props.text('MOUNT_INFO')['BUS_DEVICES'].value}")

    async def _read_gps(self) -> None:
        try:
            linked = aux.decode_flag((await self.transact(aux.Device.GPS, aux.GpsCommand.LINKED)).data)
            if not linked:
                self.message("The GPS on the bus has no fix yet; using the client's site and time", "WARNING")
                return
            latitude = aux.decode_position(
                (await self.transact(aux.Device.GPS, aux.GpsCommand.GET_LAT)).data, signed=True
            )
            longitude = aux.decode_position(
                (await self.transact(aux.Device.GPS, aux.GpsCommand.GET_LONG)).data, signed=True
            )
        except LinkError as exc:
            self.message(f"The GPS did not answer: {exc}", "WARNING")
            return
        geo = self.props.number("GEOGRAPHIC_COORD")
        geo.apply({"LAT": latitude / aux.STEPS_PER_DEGREE, "LONG": wrap360(longitude / aux.STEPS_PER_DEGREE)})
        self.update(geo.name, State.OK, f"Site from the GPS: {geo['LAT'].value:.5f}, {geo['LONG'].value:.5f}")
        self.show_position()
        await self.motion.site_changed()

    async def _read_settings(self) -> None:
        backlash = self.props.number("MOTOR_BACKLASH")
        values = {}
        try:
            for name, (motor, cmd) in {
                "AZM_POSITIVE": (aux.Device.AZM, Command.GET_POS_BACKLASH),
                "AZM_NEGATIVE": (aux.Device.AZM, Command.GET_NEG_BACKLASH),
                "ALT_POSITIVE": (aux.Device.ALT, Command.GET_POS_BACKLASH),
                "ALT_NEGATIVE": (aux.Device.ALT, Command.GET_NEG_BACKLASH),
            }.items():
                values[name] = (await self.transact(motor, cmd, timeout=SCAN_TIMEOUT, retries=1)).data[0]
        except (LinkError, IndexError):
            return  # older controllers may not report backlash; the property keeps its defaults
        backlash.apply(values)
        backlash.state = State.OK

    # --- polling ---------------------------------------------------------------------------------------------

    async def read_encoders(self) -> tuple[int, int]:
        azm = aux.decode_position((await self.transact(aux.Device.AZM, Command.GET_POSITION)).data)
        alt = aux.decode_position((await self.transact(aux.Device.ALT, Command.GET_POSITION)).data)
        self.encoders = (azm, alt)
        self.encoders_time = trio.current_time()
        self.position_stale = False
        return self.encoders

    def busy(self) -> bool:
        """Whether to poll fast. Not for a satellite pass (its own loop reads the axes four times a second), nor for a
        goto, park, homing or stop (each reads the axes itself)."""
        following = self.satellites.following or self.rotator.following  # each reads the axes itself
        reading = following or self.motion.reads_axes_itself()
        return (self.motion.busy() and not reading) or self.focuser.busy()

    async def poll(self) -> None:
        fresh = self.encoders is not None and trio.current_time() - self.encoders_time < 1.0
        if fresh and self.motion.reads_axes_itself() and not self.position_stale:
            assert self.encoders is not None
            azm, alt = self.encoders  # the motion's own reading, less than a second old: the bus is shared
        else:
            azm, alt = await self.read_encoders()
        self.polls += 1
        steps = self.props.number("TELESCOPE_ENCODER_STEPS")
        steps.apply({"AXIS_AZ": azm, "AXIS_ALT": alt % aux.STEPS_PER_TURN})
        self.update(steps.name, State.OK)
        self.show_refraction()  # a weather reading may have grown stale
        self.show_position()
        await self.motion.on_poll()
        await self.focuser.poll()

    def link_counters(self) -> LinkCounters | None:
        return self.session.counters if self.session is not None else None

    def pointing_now(self) -> AxisAngles | None:
        """Ideal axis angles the mount points at now (pointing model removed)."""
        if self.encoders is None:
            return None
        return self.model.to_sky(self.mount_axes(*self.encoders))

    def show_position(self) -> None:
        ideal = self.pointing_now()
        if ideal is None:
            return
        when = self.instant()
        ra, dec = self.ideal_axes_to_sky(ideal, when=when)
        coords = self.props.number("EQUATORIAL_EOD_COORD")
        coords.apply({"RA": ra, "DEC": dec})
        self.update(coords.name, self.motion.coordinate_state())
        if self.geometry() is Geometry.ALTAZ:  # the ideal axes are the observed place (to_sky keeps ALT in ±90°)
            azimuth, altitude = wrap360(ideal.axis1), ideal.axis2
        else:
            horizontal = astro.apparent_to_horizontal(ra, dec, when, self.site(), self.weather())
            azimuth, altitude = horizontal.azimuth, horizontal.altitude
        horizon = self.props.number("HORIZONTAL_COORD")
        horizon.apply({"AZ": azimuth, "ALT": altitude})
        self.update(horizon.name, self.motion.coordinate_state())

    def poll_failed(self, error: Exception) -> None:
        self.position_stale = True
        self.update("EQUATORIAL_EOD_COORD", State.ALERT)
        self.update("HORIZONTAL_COORD", State.ALERT)
        self.motion.link_lost()

    async def on_connected(self) -> None:
        self.focuser.on_connected()
        await self.snooped.on_connected()  # a GPS on indiserver (ACTIVE_GPS) with a fix: a live fix wins
        self.spawn_connected(self._scan_accessories, "bus scan")
        self.spawn_connected(self.motion.run, "tracking")
        self._show_pointing()
        self.show_refraction()
        await self.satellites.refresh_quietly()
        await self.rotator.on_connected()

    async def before_disconnect(self) -> None:
        await self.motion.halt_before_disconnect()
        with trio.move_on_after(3):
            await self.focuser.halt_before_disconnect()

    async def on_disconnected(self) -> None:
        self.limits_unconfirmed = None  # the next connection reads the config again and decides afresh
        await self.motion.on_disconnected()
        self.guiding.forget_session()
        self.focuser.on_disconnected()
        self.rotator.on_disconnected()

    # --- sync and the pointing model -------------------------------------------------------------------------

    def pointing_file(self) -> Path:
        return indi_home() / f"{self.name}_pointing.json"

    def _load_pointing(self, without_it: str = "Connected without it") -> None:
        try:
            self.pointing = PointingStore.load(self.pointing_file())
        except StoreProblem as problem:
            self.message(f"Pointing model file {problem}. {without_it}: sync again to rebuild it", "WARNING")
            self.pointing = PointingStore(self.pointing_file())
        self.model = fit_model(self.pointing.points)

    def sync_points(self) -> list[SyncPoint]:
        """The pointing model's sync points; read from the file first if the mount has not connected yet."""
        if self.pointing is None:
            self._load_pointing("Going on without it")
        assert self.pointing is not None
        return list(self.pointing.points)

    def _show_pointing(self) -> None:
        points = self.pointing.points if self.pointing else []
        model = self.props.number("POINTING_MODEL")
        model.apply(
            {
                "POINTS": len(points),
                "OFFSET_1": self.model.offset1,
                "OFFSET_2": self.model.offset2,
                "TILT_X": self.model.tilt_x,
                "TILT_Y": self.model.tilt_y,
                "RMS": model_rms_arcsec(self.model, points),
            }
        )
        self.update(model.name, State.OK if points else State.IDLE)
        listing = self.props.text("POINTING_POINTS")
        listing["POINTS"].value = "; ".join(
            f"{i}: sky {p.sky1:.3f}/{p.sky2:.3f} mount {p.mount1:.3f}/{p.mount2:.3f}" for i, p in enumerate(points, 1)
        )[:3900]
        self.update(listing.name, State.OK if points else State.IDLE)
        # libindi's alignment point set mirrors the count (defined before connecting: Idle until the file is read).
        size = self.props.number("ALIGNMENT_POINTSET_SIZE")
        size["ALIGNMENT_POINTSET_SIZE"].value = len(points)
        self.update(size.name, State.OK if self.pointing is not None else State.IDLE)

    async def sync(self, ra_hours: float, dec_degrees: float) -> None:
        """The star at RA/Dec is where the mount points now: a point of the pointing model. Never moves the mount."""
        self.motion.check_sync()
        azm, alt = await self.read_encoders()
        read_at = self.encoders_time
        mount = self.mount_axes(azm, alt)
        if self.geometry() is Geometry.ALTAZ and mount.axis2 > 90.0:
            raise ValidationError(
                f"the altitude axis is past the zenith ({mount.axis2:.1f}°, over the top after a satellite pass): "
                "a sync there would spoil the pointing model; bring the mount back below 90° (any goto does) first"
            )
        sky = self.sky_to_ideal_axes(ra_hours, dec_degrees)
        assert self.pointing is not None
        shift = angular_separation(self.model.to_sky(mount), sky)  # how far the sync moves what is shown here
        large = self.motion.confirm_sync(shift, ra_hours, dec_degrees)
        # A new sync near an earlier one replaces it, so repeated syncs on one star do not outweigh the others.
        self.pointing.points = [
            p for p in self.pointing.points if math.hypot(wrap180(p.sky1 - sky.axis1), p.sky2 - sky.axis2) > 0.5
        ]
        self.pointing.points.append(SyncPoint(sky.axis1, sky.axis2, mount.axis1, mount.axis2, self.now_unix()))
        await trio.to_thread.run_sync(self.pointing.save)
        self.model = fit_model(self.pointing.points)
        if large:
            self.message(f"A sync that moved the pointing by {shift:.1f}° was applied, as asked twice", "WARNING")
        self._show_pointing()
        self.motion.synced(mount, read_at)
        self.show_position()

    async def replace_sync_points(self, points: list[SyncPoint]) -> None:
        """The one way the sync points change other than by a sync: POINTING_CLEAR, and libindi's point-set CLEAR
        and DELETE (alignment_pointset.py). The file is written first (atomically; a failure changes nothing), then
        the model is refitted and shown everywhere (POINTING_MODEL, POINTING_POINTS, ALIGNMENT_POINTSET_SIZE).

        Never moves the mount: refused while it slews (what it is heading for would change under it); while it
        tracks, what it tracks becomes what the new model says it points at, as after a sync, so it stays on the same
        piece of sky and only the coordinates shown change. Disconnected, only the file and the model change."""
        anchor: tuple[AxisAngles, float] | None = None
        if self.connected:
            self.motion.check_model_change()
            if self.motion.tracking():
                azm, alt = await self.read_encoders()
                anchor = (self.mount_axes(azm, alt), self.encoders_time)
        store = PointingStore(self.pointing_file(), list(points))
        await trio.to_thread.run_sync(store.save)
        self.pointing = store
        self.model = fit_model(store.points)
        if anchor is not None:
            self.motion.synced(*anchor)
        self._show_pointing()
        if self.connected:
            self.show_position()

    async def _on_pointing_clear(self, update: Update) -> None:
        await self.replace_sync_points([])
        self.props.switch("POINTING_CLEAR").reset()
        self.update("POINTING_CLEAR", State.OK, "Pointing model cleared")

    # --- site, time and settings -----------------------------------------------------------------------------

    async def _on_location(self, update: Update) -> None:
        if self.motion.busy():
            raise ValidationError("the mount is moving; change the site when it is still")
        self.accept(update)
        self.show_refraction()  # the standard atmosphere's pressure follows the elevation
        self.show_position()
        await self.motion.site_changed()
        await self.satellites.refresh_quietly()

    def _show_driver_clock(self) -> None:
        """TIME_UTC at connect: the time the driver goes by (this computer's clock, or a client's from before), as
        libindi's sendTimeFromSystem fills it, but Idle, not Ok: no client has vouched for it yet. KStars then still
        sends its own time (it waits for an Idle TIME_UTC when the mount is not its time source), and never adopts
        a Raspberry Pi's clock that started wherever it stopped."""
        now = self.now_unix()
        utc_offset = (time.localtime(now).tm_gmtoff or 0) / 3600.0
        clock = self.props.text("TIME_UTC")
        clock["UTC"].value = format_timestamp(now)
        clock["OFFSET"].value = f"{utc_offset:.2f}"
        clock.state = State.IDLE

    async def _on_time(self, update: Update) -> None:
        text = update["UTC"].strip().replace("/", "-")
        try:
            when = parse_timestamp(text)
            offset = float(update["OFFSET"].strip() or "0")
        except ValueError:
            raise ValidationError(
                f"TIME_UTC needs UTC as YYYY-MM-DDTHH:MM:SS and OFFSET in hours, not {text!r}"
            ) from None
        if not -14 <= offset <= 14:
            raise ValidationError(f"UTC offset {offset} h is not a time zone")
        system_ahead = (self.now_unix() - self.clock_offset) - when.timestamp()
        if CLIENT_TIME_AGREES_S[0] <= system_ahead <= CLIENT_TIME_AGREES_S[1]:
            self.clock_offset = 0.0  # the client agrees with the system clock; keep the finer system time
        else:
            # The client's instant lies somewhere in its whole second: take the middle of it.
            self.clock_offset = -system_ahead + 0.5
        self.accept(update)
        if abs(system_ahead) > CLOCKS_DISAGREE_S:
            # measured from the middle of the client's whole second, like the clock offset
            self.message(clock_disagreement(when.timestamp() + 0.5, when.timestamp() + system_ahead), "WARNING")
        self.show_position()
        await self.satellites.refresh_quietly()

    async def _on_altitude_limits(self, update: Update) -> None:
        if update["MIN_ALT"] >= update["MAX_ALT"]:
            raise ValidationError("the lowest altitude must be below the highest")
        if self.limits_unconfirmed is not None:
            self.limits_unconfirmed = None
            self.accept(update, message="Altitude limits confirmed: the mount may move again")
            return
        self.accept(update)

    async def _on_cordwrap(self, update: Update) -> None:
        self.accept(update)  # the controller is told before the next motion (_write_cordwrap_if_needed)

    async def _read_cordwrap(self) -> None:
        """What the azimuth controller holds for the cord wrap (reads only: connecting writes no setting)."""
        self.controller_cordwrap = (None, None)
        self._cordwrap_write_failed = None
        if self.geometry() is not Geometry.ALTAZ:
            return
        enabled: bool | None = None
        position: int | None = None
        try:
            reply = await self.transact(aux.Device.AZM, Command.POLL_CORDWRAP, timeout=SCAN_TIMEOUT, retries=1)
            enabled = aux.decode_flag(reply.data)
            reply = await self.transact(aux.Device.AZM, Command.GET_CORDWRAP_POS, timeout=SCAN_TIMEOUT, retries=1)
            position = aux.decode_position(reply.data)
        except LinkError:
            pass  # an older controller may not report them: they are written before the first motion
        self.controller_cordwrap = (enabled, position)

    def wanted_cordwrap(self) -> tuple[bool, int] | None:
        """(enabled, position in encoder steps) the azimuth controller should hold; None where it has no say."""
        if self.geometry() is not Geometry.ALTAZ:
            return None
        enabled = self.props.switch("CORDWRAP")["INDI_ENABLED"].on
        position = self.props.number("CORDWRAP_POS")["POSITION"].value
        steps = int(round(self.model.to_mount(AxisAngles(position, 0.0)).axis1 * aux.STEPS_PER_DEGREE))
        return enabled, steps % aux.STEPS_PER_TURN

    async def _write_cordwrap_if_needed(self) -> None:
        """Before the azimuth axis is set moving, tell its controller the cord wrap where it differs (it then takes
        the long way itself where its firmware supports it; the driver keeps to the cord wrap in any case)."""
        wanted = self.wanted_cordwrap()
        if wanted is None or wanted == self._cordwrap_write_failed:
            return
        enabled, steps = wanted
        held_enabled, held_steps = self.controller_cordwrap
        writes: list[tuple[int, bytes]] = []
        if enabled and held_steps != steps:
            writes.append((Command.SET_CORDWRAP_POS, aux.encode_position(steps)))
        if held_enabled is not enabled:
            writes.append((Command.ENABLE_CORDWRAP if enabled else Command.DISABLE_CORDWRAP, b""))
        if not writes:
            return
        try:
            for cmd, data in writes:
                await self.transact(aux.Device.AZM, cmd, data)
        except LinkError as exc:
            self._cordwrap_write_failed = wanted
            self.controller_cordwrap = (None, None)
            self.message(f"The azimuth controller did not take the cord-wrap setting: {exc}", "WARNING")
            return
        self.controller_cordwrap = (enabled, steps if enabled else held_steps)

    async def _on_backlash(self, update: Update) -> None:
        commands = {
            "AZM_POSITIVE": (aux.Device.AZM, Command.SET_POS_BACKLASH),
            "AZM_NEGATIVE": (aux.Device.AZM, Command.SET_NEG_BACKLASH),
            "ALT_POSITIVE": (aux.Device.ALT, Command.SET_POS_BACKLASH),
            "ALT_NEGATIVE": (aux.Device.ALT, Command.SET_NEG_BACKLASH),
        }
        for name in update.changed():
            motor, cmd = commands[name]
            await self.transact(motor, cmd, bytes([int(round(update[name]))]))
        self.accept(update)
