"""TIME_UTC on the mount: a client's whole-second time that agrees with the system clock (allowing for truncation and
transit) leaves the finer system clock in charge; one that disagrees moves the driver's clock to it."""

from __future__ import annotations

import math

import pytest
import trio

from mount_sim import iso, request, start_mount


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


async def send_time(driver, unix: float) -> None:
    await driver.handle_request(request("Text", "TIME_UTC", UTC=iso(unix), OFFSET="0"))
    assert driver.props["TIME_UTC"].state.value == "Ok"


@pytest.mark.parametrize("late_s", [0.0, 0.99, 1.4])
async def test_a_client_time_truncated_and_late_keeps_the_system_clock(autojump_clock, late_s) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        await send_time(driver, driver.now_unix() - late_s)
        assert driver.clock_offset == 0.0
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("shift_s", [-3600.0, -4.0, 3.0, 86400.0])
async def test_a_client_time_that_disagrees_sets_the_clock_to_the_middle_of_its_second(autojump_clock, shift_s) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        client_now = driver.now_unix() + shift_s
        await send_time(driver, client_now)
        assert driver.now_unix() == pytest.approx(math.floor(client_now) + 0.5, abs=1e-6)
        await trio.sleep(10.0)
        assert driver.now_unix() == pytest.approx(math.floor(client_now) + 10.5, abs=1e-6)
        nursery.cancel_scope.cancel()
