"""Track-mode changes, the cord wrap while tracking, and the default park position, on trio's fake clock: the real
driver against the real emulator (mount_sim)."""

from __future__ import annotations

import math

import pytest
import trio

from indi_astrojolo.nexstar import astrometry as astro
from indi_astrojolo.nexstar import aux
from indi_astrojolo.nexstar.motion import Phase
from mount_sim import goto_and_track, request, start_mount, target_for_altitude, true_direction


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


def arcsec(a: tuple[float, float], b: tuple[float, float]) -> float:
    return astro.angular_separation(a[0], a[1], b[0], b[1]) * 3600.0


async def test_a_new_track_mode_applies_from_the_moment_it_is_chosen(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        ra, dec = target_for_altitude(driver, 40.0, 120.0)
        await goto_and_track(driver, ra, dec)
        await trio.sleep(100)  # sidereal: the target stays where it is
        motion = driver.motion
        await driver.handle_request(request("Switch", "TELESCOPE_TRACK_MODE", TRACK_LUNAR=True))
        # the lunar rate does not reach back over the 100 s of sidereal tracking before it
        assert arcsec(motion.target_at(driver.now_unix()), (ra, dec)) < 0.01
        await trio.sleep(100)
        moved = motion.target_at(driver.now_unix())
        expected_ra = ra + (aux.SIDEREAL_ARCSEC_PER_S - aux.LUNAR_ARCSEC_PER_S) * 100 / 15 / 3600
        assert arcsec(moved, (expected_ra, dec)) < 0.05
        await driver.handle_request(request("Switch", "TELESCOPE_TRACK_MODE", TRACK_SOLAR=True))
        assert arcsec(motion.target_at(driver.now_unix()), moved) < 0.01  # nor the solar rate over the lunar time
        await driver.handle_request(request("Number", "TELESCOPE_TRACK_RATE", TRACK_RATE_RA=15.0, TRACK_RATE_DE=1.0))
        assert arcsec(motion.target_at(driver.now_unix()), moved) < 0.01  # nor new custom rates
        nursery.cancel_scope.cancel()


def azimuth(driver) -> float:
    return true_direction(driver)[0]


async def track_towards_the_wrap(driver, seconds_to_wrap: float) -> tuple[float, float, float]:
    """Cord wrap set where a star at altitude 40° in the east will be in `seconds_to_wrap`; the controller ignores the
    cord-wrap commands, so only the driver keeps the axis from crossing. Returns the star and the wrap position."""
    assert driver.simulator is not None
    driver.simulator.config.cordwrap_supported = False
    ra, dec = target_for_altitude(driver, 40.0, 100.0)
    later = astro.apparent_to_horizontal(ra, dec, driver.instant(seconds_to_wrap), driver.site(), driver.weather())
    assert later.azimuth > 100.0  # it moves up in azimuth
    await driver.handle_request(request("Number", "CORDWRAP_POS", POSITION=later.azimuth))
    await driver.handle_request(request("Switch", "ON_COORD_SET", TRACK=True))
    await driver.handle_request(request("Number", "EQUATORIAL_EOD_COORD", RA=ra, DEC=dec))
    return ra, dec, later.azimuth


async def test_tracking_stops_before_the_cord_wrap(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        *_, wrap = await track_towards_the_wrap(driver, 120.0)
        highest = 0.0
        for _ in range(200):
            await trio.sleep(1)
            highest = max(highest, azimuth(driver))
        assert driver.motion.phase is Phase.IDLE and driver.motion.failed
        assert b"tracking would cross the cord-wrap position" in driver.outbox.take()
        assert wrap - 0.05 < highest <= wrap
        nursery.cancel_scope.cancel()


async def test_a_target_that_moves_over_the_cord_wrap_during_the_goto_is_not_followed_over_it(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        # the goto from azimuth 0 takes far longer than the star needs to reach the cord-wrap position
        *_, wrap = await track_towards_the_wrap(driver, 5.0)
        highest = 0.0
        for _ in range(120):
            await trio.sleep(0.5)
            here = azimuth(driver)
            highest = max(highest, here if here < 300 else 0.0)
        assert driver.motion.phase is Phase.IDLE and driver.motion.failed
        assert b"would cross the cord-wrap position" in driver.outbox.take()
        assert highest <= wrap and math.isclose(highest, wrap, abs_tol=2.0)
        nursery.cancel_scope.cancel()


async def test_the_default_park_position_follows_the_site_until_one_is_saved(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0, geometry="EQ_WEDGE")
        park = driver.props.number("TELESCOPE_PARK_POSITION")
        assert (park["PARK_AZ"].value, park["PARK_ALT"].value) == (0.0, 90.0)  # the north celestial pole
        await driver.handle_request(request("Number", "GEOGRAPHIC_COORD", LAT=-33.9, LONG=18.4, ELEV=0))
        assert (park["PARK_AZ"].value, park["PARK_ALT"].value) == (0.0, -90.0)  # the south one
        await driver.handle_request(request("Number", "TELESCOPE_PARK_POSITION", PARK_AZ=330.0, PARK_ALT=-60.0))
        await driver.handle_request(request("Number", "GEOGRAPHIC_COORD", LAT=50.0, LONG=20.0, ELEV=0))
        assert (park["PARK_AZ"].value, park["PARK_ALT"].value) == (330.0, -60.0)  # a saved one stays
        nursery.cancel_scope.cancel()


async def test_home_is_refused_when_level_is_below_the_lowest_allowed_altitude(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        await driver.handle_request(request("Number", "ALTITUDE_LIMITS", MIN_ALT=10.0, MAX_ALT=90.0))
        driver.outbox.take()
        for action in ("GO", "FIND"):
            await driver.handle_request(request("Switch", "TELESCOPE_HOME", **{action: True}))
            assert driver.props["TELESCOPE_HOME"].state.value == "Alert"
            assert b"below the lowest allowed 10" in driver.outbox.take()
            assert driver.motion.phase.value == "idle"
        nursery.cancel_scope.cancel()
