"""DUT1 (UT1−UTC, seconds): given by the user, saved with the config, carried by every instant the driver computes
with, so hour angles and azimuths turn with the Earth's real rotation."""

from __future__ import annotations

import pytest
import trio

from indi_astrojolo.nexstar import astrometry as astro
from mount_sim import request, start_mount


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


async def test_dut1_turns_the_sky_the_driver_computes_with(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0, geometry="EQ_WEDGE")
        assert driver.instant().dut1 == 0.0
        ra, dec = 5.0, 30.0
        before = driver.sky_to_ideal_axes(ra, dec)
        shown_before = driver.props.number("EQUATORIAL_EOD_COORD")["RA"].value
        await driver.handle_request(request("Number", "DUT1", DUT1=0.6))
        assert driver.props["DUT1"].state.value == "Ok"
        assert driver.instant().dut1 == 0.6
        after = driver.sky_to_ideal_axes(ra, dec)
        # the hour angle grows by 0.6 s of Earth rotation (15.04″ per second of time)
        assert (after.axis1 - before.axis1) * 3600 == pytest.approx(0.6 * 15.04, rel=0.01)
        # the position shown follows at once: under the same axes the sky has turned 0.6 s further, so RA grows by
        # 0.6 s of sidereal time
        shown_after = driver.props.number("EQUATORIAL_EOD_COORD")["RA"].value
        assert (shown_after - shown_before) * 3600 == pytest.approx(0.6 * 1.0027, abs=0.01)
        nursery.cancel_scope.cancel()


async def test_dut1_outside_the_iers_bound_is_refused(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        driver.outbox.take()
        await driver.handle_request(request("Number", "DUT1", DUT1=1.5))
        assert driver.props["DUT1"].state.value == "Alert"
        assert driver.props.number("DUT1")["DUT1"].value == 0.0
        assert b"outside the allowed range" in driver.outbox.take()
        nursery.cancel_scope.cancel()


async def test_dut1_is_saved_with_the_config_and_used_after_a_reconnect(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        await driver.handle_request(request("Number", "DUT1", DUT1=-0.25))
        await driver.handle_request(request("Switch", "CONFIG_PROCESS", CONFIG_SAVE=True))
        await driver.handle_request(request("Switch", "CONNECTION", DISCONNECT=True))
        driver.props.number("DUT1").apply({"DUT1": 0.0})
        await driver.handle_request(request("Switch", "CONNECTION", CONNECT=True))
        assert driver.props.number("DUT1")["DUT1"].value == -0.25
        assert driver.instant().dut1 == -0.25
        assert isinstance(driver.instant(), astro.Instant)
        nursery.cancel_scope.cancel()
