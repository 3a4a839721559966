"""Sync never moves the mount (issue 14 item 1, issue 12 items 5 and 6), on trio's fake clock against the emulator:
after a sync the mount keeps pointing where it pointed and tracks what is there; a sync while parked or slewing is
refused; a sync in Az/Alt syncs; a sync that moves the pointing by many degrees is applied only when sent twice."""

from __future__ import annotations

import pytest
import trio

from mount_sim import goto_and_track, pointing_error_arcsec, request, start_mount, target_for_altitude, true_direction, wait_idle

from indi_astrojolo.nexstar import astrometry as astro
from indi_astrojolo.nexstar.motion import Phase


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


def sky_here(driver) -> tuple[float, float]:
    """The apparent RA/Dec the emulated mount really points at now (the emulator's axes; alt-az, no model)."""
    azimuth, altitude = true_direction(driver)
    return astro.horizontal_to_apparent(azimuth % 360, altitude, driver.instant(), driver.site(), driver.weather())


async def sync(driver, ra: float, dec: float) -> None:
    await driver.handle_request(request("Switch", "ON_COORD_SET", SYNC=True))
    await driver.handle_request(request("Number", "EQUATORIAL_EOD_COORD", RA=ra, DEC=dec))


async def test_a_sync_after_nudging_keeps_the_mount_where_it_was_and_tracks_the_star(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        ra, dec = target_for_altitude(driver, 40.0, 150.0)
        await goto_and_track(driver, ra, dec)
        await trio.sleep(10)
        # the star is not in the centre: the user nudges the mount onto it with the motion buttons
        await driver.handle_request(request("Switch", "TELESCOPE_SLEW_RATE", **{"4x": True}))
        await driver.handle_request(request("Switch", "TELESCOPE_MOTION_NS", MOTION_NORTH=True))
        await trio.sleep(2)
        await driver.handle_request(request("Switch", "TELESCOPE_MOTION_NS", MOTION_NORTH=False))
        await trio.sleep(5)
        assert driver.motion.phase is Phase.TRACKING
        centred = sky_here(driver)  # where the star really is in the eyepiece: centred
        await sync(driver, ra, dec)
        assert driver.props["EQUATORIAL_EOD_COORD"].state.value == "Ok"
        assert driver.motion.phase is Phase.TRACKING
        for wait in (3, 3, 30):
            await trio.sleep(wait)
            drift = pointing_error_arcsec(driver, *centred)
            assert drift < 5.0, f"the mount moved {drift:.0f} arcsec away from where it was synced"
        shown = driver.props.number("EQUATORIAL_EOD_COORD")
        assert shown["RA"].value == pytest.approx(ra, abs=2 / 3600) and shown["DEC"].value == pytest.approx(dec, abs=5 / 3600)
        nursery.cancel_scope.cancel()


async def test_a_sync_while_idle_moves_nothing(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        await driver.handle_request(request("Switch", "ON_COORD_SET", SLEW=True))
        await driver.handle_request(request("Number", "HORIZONTAL_COORD", AZ=120.0, ALT=35.0))
        await wait_idle(driver)
        before = true_direction(driver)
        ra, dec = driver.props.number("EQUATORIAL_EOD_COORD")["RA"].value, driver.props.number("EQUATORIAL_EOD_COORD")["DEC"].value
        await sync(driver, ra + 0.02, dec - 0.3)
        assert driver.props.number("POINTING_MODEL")["POINTS"].value == 1
        await trio.sleep(10)
        assert true_direction(driver) == pytest.approx(before, abs=1e-6)
        assert driver.motion.phase is Phase.IDLE
        nursery.cancel_scope.cancel()


async def test_a_sync_while_parked_or_slewing_is_refused_and_changes_nothing(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        ra, dec = target_for_altitude(driver, 50.0, 200.0)
        await driver.handle_request(request("Switch", "ON_COORD_SET", TRACK=True))
        await driver.handle_request(request("Number", "EQUATORIAL_EOD_COORD", RA=ra, DEC=dec))
        await trio.sleep(3)
        assert driver.motion.phase is Phase.SLEWING
        driver.outbox.take()
        await sync(driver, ra, dec)
        assert b"the mount is moving; sync when it is still" in driver.outbox.take()
        assert driver.props.number("POINTING_MODEL")["POINTS"].value == 0
        await wait_idle_or_tracking(driver)
        assert pointing_error_arcsec(driver, ra, dec) < 60  # the goto went on to its target
        await driver.handle_request(request("Number", "TELESCOPE_PARK_POSITION", PARK_AZ=0.0, PARK_ALT=10.0))
        await driver.handle_request(request("Switch", "TELESCOPE_PARK", PARK=True))
        await wait_idle(driver)
        assert driver.motion.parked
        parked_at = true_direction(driver)
        driver.outbox.take()
        await sync(driver, ra, dec)
        assert driver.props["EQUATORIAL_EOD_COORD"].state.value == "Alert"
        assert b"the mount is parked" in driver.outbox.take()
        assert driver.props.number("POINTING_MODEL")["POINTS"].value == 0
        await trio.sleep(5)
        assert true_direction(driver) == pytest.approx(parked_at, abs=1e-6)
        nursery.cancel_scope.cancel()


async def wait_idle_or_tracking(driver, timeout: float = 300.0) -> None:
    with trio.fail_after(timeout):
        while driver.motion.phase not in (Phase.IDLE, Phase.TRACKING):
            await trio.sleep(0.05)


async def test_a_sync_in_az_alt_syncs_and_never_slews(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        await driver.handle_request(request("Switch", "ON_COORD_SET", SLEW=True))
        await driver.handle_request(request("Number", "HORIZONTAL_COORD", AZ=90.0, ALT=30.0))
        await wait_idle(driver)
        before = true_direction(driver)
        await driver.handle_request(request("Switch", "ON_COORD_SET", SYNC=True))
        await driver.handle_request(request("Number", "HORIZONTAL_COORD", AZ=91.0, ALT=30.5))
        assert driver.props["HORIZONTAL_COORD"].state.value != "Busy"
        assert driver.motion.phase is Phase.IDLE
        await trio.sleep(10)
        assert true_direction(driver) == pytest.approx(before, abs=1e-6)
        model = driver.props.number("POINTING_MODEL")
        assert model["POINTS"].value == 1
        assert model["OFFSET_1"].value == pytest.approx(-1.0, abs=0.01) and model["OFFSET_2"].value == pytest.approx(-0.5, abs=0.01)
        shown = driver.props.number("HORIZONTAL_COORD")
        assert shown["AZ"].value == pytest.approx(91.0, abs=0.01) and shown["ALT"].value == pytest.approx(30.5, abs=0.01)
        nursery.cancel_scope.cancel()


async def test_a_sync_far_from_where_the_mount_points_is_applied_only_when_sent_again(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        await driver.handle_request(request("Switch", "ON_COORD_SET", SLEW=True))
        await driver.handle_request(request("Number", "HORIZONTAL_COORD", AZ=180.0, ALT=45.0))
        await wait_idle(driver)
        wrong_ra, wrong_dec = target_for_altitude(driver, 20.0, 180.0)  # a bad solve, 25° off
        driver.outbox.take()
        await sync(driver, wrong_ra, wrong_dec)
        assert driver.props["EQUATORIAL_EOD_COORD"].state.value == "Alert"
        assert b"send the same sync again within 60 s" in driver.outbox.take()
        assert driver.props.number("POINTING_MODEL")["POINTS"].value == 0
        await trio.sleep(61)  # too late: asked again, it is a new first time
        await sync(driver, wrong_ra, wrong_dec)
        assert driver.props.number("POINTING_MODEL")["POINTS"].value == 0
        await trio.sleep(5)
        driver.outbox.take()
        await sync(driver, wrong_ra, wrong_dec)  # sent again soon (as Ekos's Align module does): applied
        assert driver.props.number("POINTING_MODEL")["POINTS"].value == 1
        assert b"was applied, as asked twice" in driver.outbox.take()
        nursery.cancel_scope.cancel()
