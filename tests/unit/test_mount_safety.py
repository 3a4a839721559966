"""What the reliability campaigns found on the mount, checked on trio's fake clock against the emulator: abort ends
guide pulses, a park outside the altitude limits is refused, a failed park does not stay Busy, and a disconnect
stops the axes while the link can still carry the commands."""

from __future__ import annotations

import pytest
import trio

from mount_sim import request, start_mount, true_direction, wait_idle

from indi_astrojolo.nexstar.aux import Device as AuxDevice
from indi_astrojolo.nexstar.motion import Phase


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


async def test_abort_ends_a_guide_pulse_in_the_driver_and_in_the_controllers(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        await driver.handle_request(request("Switch", "ON_COORD_SET", SLEW=True))
        await driver.handle_request(request("Number", "HORIZONTAL_COORD", AZ=150.0, ALT=40.0))
        await wait_idle(driver)
        await driver.handle_request(request("Number", "TELESCOPE_TIMED_GUIDE_NS", TIMED_GUIDE_N=60000))
        assert driver.props["TELESCOPE_TIMED_GUIDE_NS"].state.value == "Busy"
        await trio.sleep(5)
        await driver.handle_request(request("Switch", "TELESCOPE_ABORT_MOTION", ABORT=True))
        await trio.sleep(1)  # the controllers' own pulse ends at once too
        before = true_direction(driver)
        await trio.sleep(10)
        assert true_direction(driver) == pytest.approx(before, abs=1e-6)
        guide = driver.props.number("TELESCOPE_TIMED_GUIDE_NS")
        assert guide.state.value == "Idle" and guide.values() == {"TIMED_GUIDE_N": 0, "TIMED_GUIDE_S": 0}
        nursery.cancel_scope.cancel()


async def test_a_park_position_outside_the_altitude_limits_is_refused(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        await driver.handle_request(request("Number", "ALTITUDE_LIMITS", MIN_ALT=10.0, MAX_ALT=80.0))
        await driver.handle_request(request("Number", "TELESCOPE_PARK_POSITION", PARK_AZ=90.0, PARK_ALT=5.0))
        driver.outbox.take()
        await driver.handle_request(request("Switch", "TELESCOPE_PARK", PARK=True))
        park = driver.props.switch("TELESCOPE_PARK")
        assert park.state.value == "Alert" and park.selected() == "UNPARK"
        assert b"the park position is at altitude 5.00" in driver.outbox.take()
        assert driver.motion.phase is Phase.IDLE and not driver.motion.parked
        await trio.sleep(5)
        assert true_direction(driver) == pytest.approx((0.0, 0.0), abs=1e-6)  # nothing moved
        nursery.cancel_scope.cancel()


async def test_a_park_that_fails_on_the_way_ends_in_alert(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        await driver.handle_request(request("Number", "TELESCOPE_PARK_POSITION", PARK_AZ=120.0, PARK_ALT=30.0))
        await driver.handle_request(request("Switch", "TELESCOPE_PARK", PARK=True))
        assert driver.props["TELESCOPE_PARK"].state.value == "Busy"
        await trio.sleep(2)
        driver.simulator.faults.silent = True  # the controllers stop answering in the middle of the slew
        await wait_idle(driver)
        assert driver.props["TELESCOPE_PARK"].state.value == "Alert"
        assert not driver.motion.parked
        nursery.cancel_scope.cancel()


async def test_disconnecting_stops_a_slew_while_the_link_still_works(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        await driver.handle_request(request("Switch", "ON_COORD_SET", SLEW=True))
        await driver.handle_request(request("Number", "HORIZONTAL_COORD", AZ=200.0, ALT=70.0))
        await trio.sleep(3)
        with trio.fail_after(2):  # no reply timeouts on the way out
            await driver.handle_request(request("Switch", "CONNECTION", DISCONNECT=True))
        assert not driver.connected
        emulator = driver.simulator
        for axis in (AuxDevice.AZM, AuxDevice.ALT):
            assert emulator.axes[axis].goto_target is None and emulator.axes[axis].rate == 0.0
        await trio.sleep(5)  # ramped down
        stopped = true_direction(driver)
        await trio.sleep(5)
        assert true_direction(driver) == pytest.approx(stopped, abs=1e-6)
        assert stopped[1] < 60.0
        nursery.cancel_scope.cancel()
