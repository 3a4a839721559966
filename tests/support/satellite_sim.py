"""Satellite passes on trio's fake clock: the real NexStar driver and emulator (mount_sim.py) following the ISS."""

from __future__ import annotations

import numpy as np
import trio

from indi_astrojolo.nexstar.orbit import Orbit
from indi_astrojolo.nexstar.passplan import separation
from mount_sim import iso, request, start_mount, true_direction

ISS_TLE = """ISS (ZARYA)
1 25544U 98067A   19343.69339541  .00001764  00000-0  38792-4 0  9991
2 25544  51.6439 211.2001 0007417  17.6667  85.6398 15.50103472202482"""
EPOCH = 1575909509.0  # 2019-12-09 16:38 UTC, the TLE's epoch
LEAD = 150.0  # seconds between setting the clock and the rise: time to reach the rise point


async def prepare(nursery, site, start_unix: float, *, antenna: bool = False, cordwrap: float | None = None):
    driver = await start_mount(nursery, latitude=site.latitude, longitude=site.longitude)
    await driver.handle_request(request("Text", "TIME_UTC", UTC=iso(start_unix), OFFSET="0"))
    if antenna:
        await driver.handle_request(request("Switch", "SAT_POINTING_MODE", SAT_ANTENNA=True))
    if cordwrap is None:
        await driver.handle_request(request("Switch", "CORDWRAP", INDI_DISABLED=True))
    else:
        await driver.handle_request(request("Number", "CORDWRAP_POS", POSITION=cordwrap))
        await driver.handle_request(request("Switch", "CORDWRAP", INDI_ENABLED=True))
    await driver.handle_request(request("Text", "SAT_TLE_TEXT", TLE=ISS_TLE))
    assert driver.props["SAT_TLE_TEXT"].state.value == "Ok", driver.outbox.take()[-600:]
    return driver


async def follow(driver, orbit: Orbit, site, found, *, refracted: bool = True, early: float = 0.0):
    """Start tracking and sample, once a second from rise to set, how far the mount's true direction is from the
    satellite, and every azimuth the axis passes through. A satellite `early` seconds early is where the TLE puts it
    that much later, and rises and sets that much sooner."""
    await driver.handle_request(request("Switch", "SAT_TRACKING_STAT", SAT_TRACK=True))
    assert driver.props["SAT_TRACKING_STAT"].state.value == "Busy", driver.outbox.take()[-800:]
    weather = driver.weather() if refracted else None
    errors, elevations, azimuths = [], [], []
    while driver.now_unix() < found.rise.unix - early:
        await trio.sleep(0.5)
        azimuths.append(true_direction(driver)[0])
    while driver.now_unix() < found.set.unix - early - 1.0:
        await trio.sleep(1.0)
        look = orbit.topocentric(site, driver.now_unix() + early, weather)
        az, alt = true_direction(driver)
        azimuths.append(az)
        errors.append(float(separation(az, alt, look.azimuth, look.elevation)) * 3600.0)
        elevations.append(look.elevation)
    with trio.fail_after(30):
        while driver.props["SAT_TRACKING_STAT"].state.value == "Busy":
            await trio.sleep(0.5)
    return np.array(errors), np.array(elevations), azimuths
