"""The NexStar driver and its emulator in one process, for runs on trio's fake clock.

The driver is the real one (its SIMULATION transport is a socket pair to the real emulator); requests go through the
same validation and handlers a client's would. Only the INDI stream is left out: the tests read properties directly.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import trio

from indi_astrojolo.indi.outbox import Outbox
from indi_astrojolo.indi.spec import prepare_properties
from indi_astrojolo.indi.xmlstream import NewVector
from indi_astrojolo.nexstar import astrometry as astro
from indi_astrojolo.nexstar.aux import Device as AuxDevice
from indi_astrojolo.nexstar.driver import NexStarDriver
from indi_astrojolo.nexstar.motion import Phase
from indi_astrojolo.nexstar.mount import Geometry
from indi_astrojolo.nexstar.main import SPEC
from indi_astrojolo.nexstar.motion import Phase

DEVICE = "NexStar AUX"


def iso(unix: float) -> str:
    """A TIME_UTC value as clients send it: whole seconds, the fraction dropped."""
    return datetime.fromtimestamp(unix, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def request(kind: str, name: str, **members: object) -> NewVector:
    def text(value: object) -> str:
        if isinstance(value, bool):
            return "On" if value else "Off"
        return str(value)

    return NewVector(kind, DEVICE, name, tuple((k, text(v)) for k, v in members.items()), None)


async def start_mount(
    nursery: trio.Nursery, *, latitude: float, longitude: float, geometry: str = "ALTAZ", focuser: bool = False
) -> NexStarDriver:
    """The simulated mount, connected; `focuser` puts a Celestron focus motor on its bus (SIMULATION_FOCUSER)."""
    props = prepare_properties(SPEC)
    driver = NexStarDriver(SPEC, props, Outbox())
    driver.runtime_nursery = nursery
    await driver.handle_request(request("Switch", "SIMULATION", ENABLE=True))
    await driver.handle_request(request("Switch", "MOUNT_GEOMETRY", **{geometry: True}))
    if focuser:
        await driver.handle_request(request("Switch", "SIMULATION_FOCUSER", INDI_ENABLED=True))
    driver.props.number("GEOGRAPHIC_COORD").apply({"LAT": latitude, "LONG": longitude % 360})
    await driver.handle_request(request("Switch", "CONNECTION", CONNECT=True))
    assert driver.connected, driver.outbox.take()[-600:]
    await driver.handle_request(request("Number", "GEOGRAPHIC_COORD", LAT=latitude, LONG=longitude % 360, ELEV=0))
    return driver


async def goto_and_track(driver: NexStarDriver, ra: float, dec: float, timeout: float = 600.0) -> None:
    await driver.handle_request(request("Switch", "ON_COORD_SET", TRACK=True))
    await driver.handle_request(request("Number", "EQUATORIAL_EOD_COORD", RA=ra, DEC=dec))
    with trio.fail_after(timeout):
        while driver.motion.phase is not Phase.TRACKING:
            if driver.motion.failed:
                raise AssertionError(f"goto failed: {driver.outbox.take()[-800:]!r}")
            await trio.sleep(0.01)


def true_direction(driver: NexStarDriver) -> tuple[float, float]:
    """Where the emulated mount really points: (axis 1, axis 2) in degrees, straight from its axes."""
    emulator = driver.simulator
    assert emulator is not None
    emulator.advance(trio.current_time())  # the model moves time on only when asked; bring it to now
    axis1 = emulator.axis_degrees(AuxDevice.AZM)
    axis2 = emulator.axis_degrees(AuxDevice.ALT)
    if driver.geometry() is Geometry.ALTAZ:  # from straight down to past the zenith (over the top)
        return axis1, (axis2 + 90.0) % 360.0 - 90.0
    return axis1, (axis2 + 180.0) % 360.0 - 180.0


def pointing_error_arcsec(driver: NexStarDriver, ra: float, dec: float) -> float:
    """Angle between where the mount points and where the target is now (alt-az mounts, model = identity)."""
    when = driver.instant()
    target = astro.apparent_to_horizontal(ra, dec, when, driver.site(), driver.weather())
    az, alt = true_direction(driver)
    a1, a2 = math.radians(az), math.radians(alt)
    b1, b2 = math.radians(target.azimuth), math.radians(target.altitude)
    cosine = math.sin(a2) * math.sin(b2) + math.cos(a2) * math.cos(b2) * math.cos(a1 - b1)
    return math.degrees(math.acos(max(-1.0, min(1.0, cosine)))) * 3600.0


def target_for_altitude(driver: NexStarDriver, altitude: float, azimuth: float) -> tuple[float, float]:
    """An apparent RA/Dec that stands at the given altitude and azimuth now."""
    return astro.horizontal_to_apparent(azimuth, altitude, driver.instant(), driver.site(), driver.weather())


async def wait_idle(driver, timeout: float = 300.0) -> None:
    """Until the mount is still and no motion task is left (fake clock)."""
    with trio.fail_after(timeout):
        while driver.motion.phase is not Phase.IDLE or driver.motion.task_scope is not None:
            await trio.sleep(0.05)
