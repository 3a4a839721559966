"""SIMULATION_GOTO_SPEED: the simulated mount's fast goto speed, set before connecting or while connected. The real
driver and the real emulator on trio's fake clock."""

from __future__ import annotations

import pytest
import trio

from indi_astrojolo.indi.outbox import Outbox
from indi_astrojolo.indi.spec import prepare_properties
from indi_astrojolo.nexstar.driver import NexStarDriver
from indi_astrojolo.nexstar.main import SPEC
from mount_sim import goto_and_track, pointing_error_arcsec, request, target_for_altitude


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


async def timed_goto(driver: NexStarDriver) -> float:
    """Fake-clock seconds of a goto from home (north, level) to altitude 70° in the east: 90° of azimuth."""
    ra, dec = target_for_altitude(driver, 70.0, 90.0)
    started = trio.current_time()
    await goto_and_track(driver, ra, dec)
    assert pointing_error_arcsec(driver, ra, dec) < 60
    return trio.current_time() - started


async def connected_driver(nursery: trio.Nursery, speed_before_connecting: float | None) -> NexStarDriver:
    driver = NexStarDriver(SPEC, prepare_properties(SPEC), Outbox())
    driver.runtime_nursery = nursery
    await driver.handle_request(request("Switch", "SIMULATION", ENABLE=True))
    if speed_before_connecting is not None:
        await driver.handle_request(request("Number", "SIMULATION_GOTO_SPEED", FAST=speed_before_connecting))
    await driver.handle_request(request("Switch", "CONNECTION", CONNECT=True))
    assert driver.connected, driver.outbox.take()[-600:]
    return driver


async def test_the_fast_goto_speed_applies_before_and_while_connected(autojump_clock) -> None:
    seconds = {}
    for case in ("real speed", "set before connecting", "set while connected"):
        async with trio.open_nursery() as nursery:
            driver = await connected_driver(nursery, 8.0 if case == "set before connecting" else None)
            if case == "set while connected":
                await driver.handle_request(request("Number", "SIMULATION_GOTO_SPEED", FAST=8.0))
            assert driver.props["SIMULATION_GOTO_SPEED"].state.value == "Ok" or case == "real speed"
            seconds[case] = await timed_goto(driver)
            nursery.cancel_scope.cancel()
    # 90° at the default 2.8 °/s takes over 30 s; at 8 °/s (4 °/s² to get there) about 13 s, plus the slow approach
    assert seconds["real speed"] > 32, seconds
    assert seconds["set before connecting"] < seconds["real speed"] - 15, seconds
    assert seconds["set while connected"] == pytest.approx(seconds["set before connecting"], abs=1.0), seconds


async def test_speeds_beyond_what_the_emulator_models_are_refused() -> None:
    driver = NexStarDriver(SPEC, prepare_properties(SPEC), Outbox())
    await driver.handle_request(request("Number", "SIMULATION_GOTO_SPEED", FAST=50.0))
    assert driver.props["SIMULATION_GOTO_SPEED"].state.value == "Alert"
    assert driver.props.number("SIMULATION_GOTO_SPEED")["FAST"].value == 2.8
