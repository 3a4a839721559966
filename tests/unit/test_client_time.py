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


def warnings_in(driver) -> list[str]:
    return [line for line in driver.outbox.take().decode().split("<message") if "[WARNING]" in line]


@pytest.mark.parametrize(
    "shift_s, difference, zone_hint",
    [(3 * 3600.0, "3 h 00 min 00 s ahead of", True), (-366 * 86400.0 - 125.0, "366 d 0 h 02 min 05 s behind", False)],
)
async def test_a_client_time_far_from_the_system_clock_is_announced(autojump_clock, shift_s, difference, zone_hint) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        system_now = driver.now_unix()
        client_now = system_now + shift_s
        driver.outbox.take()
        await send_time(driver, client_now)
        said = warnings_in(driver)
        assert len(said) == 1, said
        warning = said[0]
        assert iso(client_now).replace("T", " ") + " UTC" in warning  # both times, in words
        assert iso(system_now).replace("T", " ") + " UTC" in warning
        assert difference in warning
        assert "the driver uses the client" in warning
        assert ("time zone" in warning) is zone_hint
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("shift_s", [-59.0, 3.0, 59.0])
async def test_a_client_time_within_a_minute_is_taken_without_a_warning(autojump_clock, shift_s) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        driver.outbox.take()
        await send_time(driver, driver.now_unix() + shift_s)
        assert warnings_in(driver) == []
        nursery.cancel_scope.cancel()
