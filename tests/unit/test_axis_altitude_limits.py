"""Altitude limits hold for the axes themselves as well as for the pointing model (issue 12 item 6), on trio's fake
clock against the emulator: after a 25° wrong sync (confirmed), gotos, Az/Alt gotos, manual moves and tracking never
take the altitude axis above its 70° limit, whatever the model says."""

from __future__ import annotations

import pytest
import trio

from mount_sim import request, start_mount, target_for_altitude, true_direction

from indi_astrojolo.nexstar.motion import Phase


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


async def wait_settled(driver, timeout: float = 300.0) -> None:
    with trio.fail_after(timeout):
        while driver.motion.phase in (Phase.SLEWING, Phase.STOPPING) or driver.motion.task_scope is not None:
            await trio.sleep(0.05)


async def mount_with_a_bad_sync(nursery):
    """A mount at altitude 45° whose model was told (twice, so applied) that it points at altitude 20°."""
    driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
    await driver.handle_request(request("Number", "ALTITUDE_LIMITS", MIN_ALT=0.0, MAX_ALT=70.0))
    await driver.handle_request(request("Switch", "ON_COORD_SET", SLEW=True))
    await driver.handle_request(request("Number", "HORIZONTAL_COORD", AZ=100.0, ALT=45.0))
    await wait_settled(driver)
    wrong = target_for_altitude(driver, 20.0, 100.0)
    await driver.handle_request(request("Switch", "ON_COORD_SET", SYNC=True))
    for _ in range(2):
        await driver.handle_request(request("Number", "EQUATORIAL_EOD_COORD", RA=wrong[0], DEC=wrong[1]))
    assert driver.props.number("POINTING_MODEL")["OFFSET_2"].value == pytest.approx(25.0, abs=0.1)
    return driver


async def test_gotos_the_model_allows_but_the_axes_would_pass_the_limit_are_refused(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await mount_with_a_bad_sync(nursery)
        before = true_direction(driver)
        ra, dec = target_for_altitude(driver, 60.0, 120.0)  # 60° by the model: the axis would go to 85°
        driver.outbox.take()
        await driver.handle_request(request("Switch", "ON_COORD_SET", TRACK=True))
        await driver.handle_request(request("Number", "EQUATORIAL_EOD_COORD", RA=ra, DEC=dec))
        assert driver.props["EQUATORIAL_EOD_COORD"].state.value == "Alert"
        assert b"by their own encoders, above the highest allowed 70" in driver.outbox.take()
        await driver.handle_request(request("Switch", "ON_COORD_SET", SLEW=True))
        await driver.handle_request(request("Number", "HORIZONTAL_COORD", AZ=120.0, ALT=60.0))
        assert driver.props["HORIZONTAL_COORD"].state.value == "Alert"
        await trio.sleep(10)
        assert true_direction(driver) == pytest.approx(before, abs=1e-6)
        nursery.cancel_scope.cancel()


async def test_a_manual_move_up_stops_at_the_limit_of_the_altitude_axis(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await mount_with_a_bad_sync(nursery)
        await driver.handle_request(request("Switch", "TELESCOPE_SLEW_RATE", **{"8x": True}))
        await driver.handle_request(request("Switch", "TELESCOPE_MOTION_NS", MOTION_NORTH=True))
        highest = -90.0
        for _ in range(300):  # 30 s at 1°/s would carry the axis well past 70°
            await trio.sleep(0.1)
            highest = max(highest, true_direction(driver)[1])
        assert 68.0 < highest <= 70.0, highest
        assert driver.props["TELESCOPE_MOTION_NS"].state.value == "Alert"
        nursery.cancel_scope.cancel()


async def test_tracking_stops_when_the_altitude_axis_reaches_its_limit(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await mount_with_a_bad_sync(nursery)
        ra, dec = target_for_altitude(driver, 44.5, 100.0)  # rising in the east; the axis at 69.5° and climbing
        await driver.handle_request(request("Switch", "ON_COORD_SET", TRACK=True))
        await driver.handle_request(request("Number", "EQUATORIAL_EOD_COORD", RA=ra, DEC=dec))
        await wait_settled(driver)
        assert driver.motion.phase is Phase.TRACKING
        driver.outbox.take()
        highest = -90.0
        for _ in range(120):  # 20 minutes: the target climbs some 3°
            await trio.sleep(10)
            highest = max(highest, true_direction(driver)[1])
        assert highest <= 70.0 + 0.01, highest
        assert driver.motion.phase is Phase.IDLE
        assert b"by their own encoders" in driver.outbox.take()
        nursery.cancel_scope.cancel()
