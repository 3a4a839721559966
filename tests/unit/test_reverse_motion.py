"""TELESCOPE_REVERSE_MOTION (libindi's): a reversed N/S or W/E pair of motion buttons moves the mount the other way,
checked on the emulator's axes; the setting is kept in the saved configuration. On trio's fake clock."""

from __future__ import annotations

import pytest
import trio

from mount_sim import request, start_mount, true_direction


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


BUTTONS = {
    "MOTION_NORTH": "TELESCOPE_MOTION_NS",
    "MOTION_SOUTH": "TELESCOPE_MOTION_NS",
    "MOTION_WEST": "TELESCOPE_MOTION_WE",
    "MOTION_EAST": "TELESCOPE_MOTION_WE",
}
OTHER = {"MOTION_NORTH": "MOTION_SOUTH", "MOTION_SOUTH": "MOTION_NORTH",
         "MOTION_WEST": "MOTION_EAST", "MOTION_EAST": "MOTION_WEST"}  # fmt: skip


async def press_for(driver, button: str, seconds: float) -> tuple[float, float]:
    """Hold a motion button at rate 7 (1°/s), let it go, wait for the axes to rest; returns how far each axis moved."""
    await driver.handle_request(request("Switch", "TELESCOPE_SLEW_RATE", **{"7x": True}))
    before = true_direction(driver)
    vector = BUTTONS[button]
    await driver.handle_request(request("Switch", vector, **{button: True, OTHER[button]: False}))
    assert driver.props[vector].state.value == "Busy", driver.outbox.take()[-600:]
    await trio.sleep(seconds)
    await driver.handle_request(request("Switch", vector, **{button: False, OTHER[button]: False}))
    await trio.sleep(5.0)  # the axis decelerates to rest
    after = true_direction(driver)
    return (after[0] - before[0] + 180.0) % 360.0 - 180.0, after[1] - before[1]


async def mount_above_the_horizon(nursery):
    """The simulated mount, its tube raised to about 20° first (it starts level, at the lowest altitude allowed)."""
    driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
    _, raised = await press_for(driver, "MOTION_NORTH", 20.0)
    assert raised > 15.0, raised
    return driver


async def test_unreversed_buttons_move_the_axes_opposite_ways(autojump_clock) -> None:
    """The baseline the reversal is measured against: North raises the altitude axis, South lowers it."""
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        assert not any(driver.props.switch("TELESCOPE_REVERSE_MOTION").values().values())
        _, north = await press_for(driver, "MOTION_NORTH", 3.0)
        _, south = await press_for(driver, "MOTION_SOUTH", 3.0)
        assert north > 1.0 and south < -1.0, (north, south)
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("button", ["MOTION_NORTH", "MOTION_SOUTH"])
async def test_a_reversed_north_south_button_moves_the_way_the_other_one_does(autojump_clock, button) -> None:
    async with trio.open_nursery() as nursery:
        driver = await mount_above_the_horizon(nursery)
        azimuth_plain, altitude_plain = await press_for(driver, OTHER[button], 3.0)
        await driver.handle_request(request("Switch", "TELESCOPE_REVERSE_MOTION", REVERSE_NS=True, REVERSE_WE=False))
        assert driver.props["TELESCOPE_REVERSE_MOTION"].state.value == "Ok"
        azimuth_reversed, altitude_reversed = await press_for(driver, button, 3.0)
        assert abs(altitude_plain) > 1.0
        assert altitude_reversed == pytest.approx(altitude_plain, abs=0.2)
        assert abs(azimuth_plain) < 0.1 and abs(azimuth_reversed) < 0.1  # the other axis stays put
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("button", ["MOTION_WEST", "MOTION_EAST"])
async def test_a_reversed_west_east_button_moves_the_way_the_other_one_does(autojump_clock, button) -> None:
    async with trio.open_nursery() as nursery:
        driver = await mount_above_the_horizon(nursery)
        azimuth_plain, _ = await press_for(driver, OTHER[button], 3.0)
        await driver.handle_request(request("Switch", "TELESCOPE_REVERSE_MOTION", REVERSE_NS=False, REVERSE_WE=True))
        azimuth_reversed, altitude_reversed = await press_for(driver, button, 3.0)
        assert abs(azimuth_plain) > 1.0
        assert azimuth_reversed == pytest.approx(azimuth_plain, abs=0.2)
        assert abs(altitude_reversed) < 0.1
        nursery.cancel_scope.cancel()


async def test_reversing_one_pair_leaves_the_other_alone(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await mount_above_the_horizon(nursery)
        azimuth_plain, _ = await press_for(driver, "MOTION_WEST", 3.0)
        await driver.handle_request(request("Switch", "TELESCOPE_REVERSE_MOTION", REVERSE_NS=True, REVERSE_WE=False))
        azimuth_after, _ = await press_for(driver, "MOTION_WEST", 3.0)
        assert abs(azimuth_plain) > 1.0
        assert azimuth_after == pytest.approx(azimuth_plain, abs=0.2)
        nursery.cancel_scope.cancel()


async def test_the_reversal_is_kept_in_the_saved_configuration(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await mount_above_the_horizon(nursery)
        await driver.handle_request(request("Switch", "TELESCOPE_REVERSE_MOTION", REVERSE_NS=True, REVERSE_WE=True))
        await driver.handle_request(request("Switch", "CONFIG_PROCESS", CONFIG_SAVE=True))
        assert driver.props["CONFIG_PROCESS"].state.value == "Ok", driver.outbox.take()[-600:]
        await driver.handle_request(request("Switch", "CONNECTION", DISCONNECT=True))
        nursery.cancel_scope.cancel()
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)  # a new process reads the saved config
        _, raised = await press_for(driver, "MOTION_SOUTH", 20.0)  # South, reversed, raises the tube
        assert raised > 15.0, raised
        assert driver.props.switch("TELESCOPE_REVERSE_MOTION").values() == {"REVERSE_NS": True, "REVERSE_WE": True}
        _, altitude = await press_for(driver, "MOTION_NORTH", 3.0)
        assert altitude < -1.0, altitude  # North, reversed, lowers the altitude axis
        nursery.cancel_scope.cancel()


async def test_the_altitude_limit_holds_for_the_direction_the_mount_really_moves(autojump_clock) -> None:
    """The mount starts level, at the lowest altitude allowed: reversed, North is the button that is refused."""
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        await driver.handle_request(request("Switch", "TELESCOPE_REVERSE_MOTION", REVERSE_NS=True, REVERSE_WE=False))
        driver.outbox.take()
        await driver.handle_request(request("Switch", "TELESCOPE_MOTION_NS", MOTION_NORTH=True, MOTION_SOUTH=False))
        assert driver.props["TELESCOPE_MOTION_NS"].state.value == "Alert"
        assert b"altitude limit" in driver.outbox.take()
        await trio.sleep(3.0)
        assert true_direction(driver)[1] == pytest.approx(0.0, abs=0.01)  # nothing moved
        _, raised = await press_for(driver, "MOTION_SOUTH", 3.0)
        assert raised > 1.0, raised
        nursery.cancel_scope.cancel()
